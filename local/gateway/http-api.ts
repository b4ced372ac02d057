/**
 * HTTP API routes (API Gateway HTTP API, payload format 2.0, `$default` stage) served by the local gateway's HTTP
 * server next to the WebSocket API and @connections: the same event a Lambda behind an HTTP API receives, and the
 * same mapping of its result back to an HTTP response. Only what the project's HTTP routes use (functions/contracts/routes.ts).
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Invoker } from '../runtime/types';
import { newApiId, newGatewayId } from './events';

export interface HttpRouteBinding {
  readonly method: string;
  readonly path: string;
  readonly functionName: string;
}

/** An HTTP API's CORS configuration (functions/contracts/routes.ts HTTP_CORS). */
export interface HttpCors {
  readonly allowOrigins: readonly string[];
  readonly allowMethods: readonly string[];
  readonly allowHeaders: readonly string[];
  readonly maxAgeSeconds: number;
}

/** HTTP API's payload limit (10 MB) is far above anything here; a webhook body is a few KB. Refuse beyond 1 MB. */
const MAX_BODY_BYTES = 1024 * 1024;

/** Bodies HTTP API passes as text; anything else (including form posts) arrives base64-encoded. */
const TEXT_TYPES = /^(text\/|application\/(json|xml|javascript)\b)/i;

export class HttpApiRoutes {
  private readonly apiId = newApiId();

  constructor(
    private readonly routes: readonly HttpRouteBinding[],
    private readonly invoker: Invoker,
    private readonly domainName: () => string,
    /** With CORS configured, HTTP API answers preflights itself and sets every answer's CORS headers (its own, not the function's). */
    private readonly cors?: HttpCors,
  ) {}

  /** Serves `req` when it matches a route; false otherwise (the caller answers it). */
  handle(req: IncomingMessage, res: ServerResponse): boolean {
    const url = new URL(req.url ?? '/', 'http://local');
    if (req.method === 'OPTIONS' && this.cors && req.headers.origin && req.headers['access-control-request-method']) {
      if (!this.routes.some((r) => r.path === url.pathname)) return false;
      send(res, 204, this.preflightHeaders(req.headers.origin), '');
      return true;
    }
    const route = this.routes.find((r) => r.path === url.pathname && r.method === req.method);
    if (!route) return false;
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size <= MAX_BODY_BYTES) chunks.push(c);
    });
    req.on('end', () => {
      if (size > MAX_BODY_BYTES) return send(res, 413, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Request Entity Too Large' }));
      void this.invoke(route, req, url, Buffer.concat(chunks)).then(
        (r) => send(res, r.status, this.corsHeaders(req.headers.origin, r.headers), r.body),
        () => send(res, 500, { 'content-type': 'application/json' }, JSON.stringify({ message: 'Internal Server Error' })),
      );
    });
    return true;
  }

  private allowedOrigin(origin: string): string | undefined {
    const allow = this.cors?.allowOrigins ?? [];
    return allow.includes('*') ? '*' : allow.includes(origin) ? origin : undefined;
  }

  private preflightHeaders(origin: string): Record<string, string> {
    const allowed = this.allowedOrigin(origin);
    if (!allowed || !this.cors) return {};
    return {
      'access-control-allow-origin': allowed,
      'access-control-allow-methods': this.cors.allowMethods.join(','),
      'access-control-allow-headers': this.cors.allowHeaders.join(','),
      'access-control-max-age': String(this.cors.maxAgeSeconds),
    };
  }

  /** With CORS configured, the function's own CORS headers are replaced by the API's (for requests with an Origin). */
  private corsHeaders(origin: string | undefined, headers: Record<string, string>): Record<string, string> {
    if (!this.cors) return headers;
    const out = Object.fromEntries(Object.entries(headers).filter(([k]) => !k.toLowerCase().startsWith('access-control-')));
    const allowed = origin ? this.allowedOrigin(origin) : undefined;
    return allowed ? { ...out, 'access-control-allow-origin': allowed } : out;
  }

  private async invoke(route: HttpRouteBinding, req: IncomingMessage, url: URL, body: Buffer) {
    const headers: Record<string, string> = {};
    for (const [k, v] of Object.entries(req.headers)) if (v !== undefined) headers[k.toLowerCase()] = Array.isArray(v) ? v.join(',') : v;
    headers['x-forwarded-proto'] = 'http'; // HTTP API sets it (https there); the signature URL depends on it
    headers['x-forwarded-for'] = req.socket.remoteAddress ?? '127.0.0.1';
    const contentType = headers['content-type'] ?? '';
    const text = TEXT_TYPES.test(contentType);
    const now = Date.now();
    const event = {
      version: '2.0',
      routeKey: `${route.method} ${route.path}`,
      rawPath: url.pathname,
      rawQueryString: url.search.slice(1),
      headers,
      ...(url.search ? { queryStringParameters: Object.fromEntries(url.searchParams) } : {}),
      requestContext: {
        accountId: '123456789012',
        apiId: this.apiId,
        domainName: this.domainName(),
        domainPrefix: this.domainName().split('.')[0],
        http: { method: route.method, path: url.pathname, protocol: `HTTP/${req.httpVersion}`, sourceIp: headers['x-forwarded-for'], userAgent: headers['user-agent'] ?? '' },
        requestId: newGatewayId(),
        routeKey: `${route.method} ${route.path}`,
        stage: '$default',
        time: new Date(now).toUTCString(),
        timeEpoch: now,
      },
      ...(body.length > 0 ? { body: text ? body.toString('utf8') : body.toString('base64') } : {}),
      isBase64Encoded: body.length > 0 && !text,
    };
    const outcome = await this.invoker.invoke(route.functionName, event);
    if (!outcome.ok) return { status: 500, headers: { 'content-type': 'application/json' }, body: JSON.stringify({ message: 'Internal Server Error' }) };
    return mapResult(outcome.payload);
  }
}

/** Payload 2.0 response mapping: a structured result as given; anything else is a 200 JSON body. */
function mapResult(payload: unknown): { status: number; headers: Record<string, string>; body: string | Buffer } {
  if (payload && typeof payload === 'object' && 'statusCode' in payload) {
    const p = payload as { statusCode: number; headers?: Record<string, string>; body?: string; isBase64Encoded?: boolean };
    const body = p.body === undefined ? '' : p.isBase64Encoded ? Buffer.from(p.body, 'base64') : p.body;
    return { status: p.statusCode, headers: { ...(p.headers ?? {}) }, body };
  }
  return { status: 200, headers: { 'content-type': 'application/json' }, body: typeof payload === 'string' ? payload : JSON.stringify(payload) };
}

function send(res: ServerResponse, status: number, headers: Record<string, string>, body: string | Buffer): void {
  res.writeHead(status, { ...headers, 'content-length': Buffer.byteLength(body) });
  res.end(body);
}
