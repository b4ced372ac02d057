/** The HTTP upgrade request as API Gateway presents it: headers (original casing), query string, caller identity. */
import type { IncomingMessage } from 'node:http';
import { randomBytes } from 'node:crypto';

export interface Handshake {
  readonly path: string;
  readonly headers: Record<string, string>;
  readonly multiValueHeaders: Record<string, string[]>;
  /** Undefined when the request has no query string (API Gateway then omits the fields). */
  readonly queryStringParameters?: Record<string, string>;
  readonly multiValueQueryStringParameters?: Record<string, string[]>;
  readonly sourceIp: string;
  readonly userAgent?: string;
}

function traceId(now: number): string {
  return `Root=1-${Math.floor(now / 1000).toString(16)}-${randomBytes(12).toString('hex')}`;
}

export function parseHandshake(req: IncomingMessage, localPort: number, now: number): Handshake {
  const rawUrl = req.url ?? '/';
  const q = rawUrl.indexOf('?');
  const path = q === -1 ? rawUrl : rawUrl.slice(0, q);

  const multiValueHeaders: Record<string, string[]> = {};
  const lowerToName = new Map<string, string>();
  const raw = req.rawHeaders;
  for (let i = 0; i + 1 < raw.length; i += 2) {
    const name = raw[i]!;
    const value = raw[i + 1]!;
    const lower = name.toLowerCase();
    const existing = lowerToName.get(lower);
    if (existing === undefined) {
      lowerToName.set(lower, name);
      multiValueHeaders[name] = [value];
    } else {
      multiValueHeaders[existing]!.push(value);
    }
  }
  const sourceIp = (req.socket.remoteAddress ?? '127.0.0.1').replace(/^::ffff:/, '');
  // Headers API Gateway's front end adds before the integration sees the request.
  const added: Record<string, string> = {
    'X-Amzn-Trace-Id': traceId(now),
    'X-Forwarded-For': sourceIp,
    'X-Forwarded-Port': String(localPort),
    'X-Forwarded-Proto': 'http',
  };
  for (const [name, value] of Object.entries(added)) {
    const existing = lowerToName.get(name.toLowerCase());
    if (existing === undefined) {
      lowerToName.set(name.toLowerCase(), name);
      multiValueHeaders[name] = [value];
    } else if (name === 'X-Forwarded-For') {
      multiValueHeaders[existing] = [`${multiValueHeaders[existing]!.join(', ')}, ${sourceIp}`];
    }
  }
  const headers: Record<string, string> = {};
  for (const [name, values] of Object.entries(multiValueHeaders)) headers[name] = values[values.length - 1]!;

  let queryStringParameters: Record<string, string> | undefined;
  let multiValueQueryStringParameters: Record<string, string[]> | undefined;
  if (q !== -1 && q < rawUrl.length - 1) {
    queryStringParameters = {};
    multiValueQueryStringParameters = {};
    for (const [k, v] of new URLSearchParams(rawUrl.slice(q + 1))) {
      queryStringParameters[k] = v;
      (multiValueQueryStringParameters[k] ??= []).push(v);
    }
  }
  const ua = req.headers['user-agent'];
  return {
    path,
    headers,
    multiValueHeaders,
    ...(queryStringParameters ? { queryStringParameters, multiValueQueryStringParameters } : {}),
    sourceIp,
    ...(ua !== undefined ? { userAgent: ua } : {}),
  };
}

/** Case-insensitive header lookup (last value). */
export function headerValue(h: Handshake, name: string): string | undefined {
  const lower = name.toLowerCase();
  for (const key of Object.keys(h.headers)) if (key.toLowerCase() === lower) return h.headers[key];
  return undefined;
}
