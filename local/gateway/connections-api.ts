/**
 * The `@connections` management API (ApiGatewayManagementApi, restJson1) served on the gateway's HTTP port:
 * `POST|GET|DELETE /STAGE/@connections/{connectionId}`. Signatures are not checked; with `isAllowed`, the caller's
 * access key must be allowed `execute-api:ManageConnections` on the method's ARN (IAM, see local/iam).
 * Errors carry `x-amzn-ErrorType` and a JSON body so the AWS SDK throws `GoneException`,
 * `PayloadTooLargeException`, `ForbiddenException`, `AccessDeniedException` with the right `name`.
 */
import type { IncomingMessage, ServerResponse } from 'node:http';
import { accessKeyIdOf, principalArn, type IsAllowed } from '../iam/policy.cjs';
import { newGatewayId } from './events';

export interface ConnectionDescription {
  readonly connectedAt: number;
  readonly lastActiveAt: number;
  readonly sourceIp: string;
  readonly userAgent?: string;
}

export interface ConnectionRegistry {
  /** Send `data` to the client; false when the connection is unknown or no longer open. */
  post(connectionId: string, data: Buffer): boolean;
  describe(connectionId: string): ConnectionDescription | undefined;
  /** Start closing the connection; false when unknown or already closed. */
  delete(connectionId: string): boolean;
}

export interface ConnectionsApiOptions {
  readonly stage: string;
  readonly maxMessageBytes: number;
  readonly registry: ConnectionRegistry;
  /** IAM on the management API; undefined = any caller may manage connections. */
  readonly isAllowed?: IsAllowed;
  /** `arn:aws:execute-api:{region}:{account}:{apiId}/{stage}`: the prefix of the resources checked. */
  readonly stageArn: string;
}

function send(
  res: ServerResponse,
  status: number,
  body: string | undefined,
  errorType?: string,
): void {
  const headers: Record<string, string | number> = {
    'x-amzn-RequestId': newGatewayId(),
    'Content-Type': 'application/json',
    'Content-Length': body === undefined ? 0 : Buffer.byteLength(body),
  };
  if (errorType) headers['x-amzn-ErrorType'] = errorType;
  res.writeHead(status, headers);
  res.end(body);
}

function sendError(res: ServerResponse, status: number, errorType: string, message: string | null): void {
  send(res, status, JSON.stringify({ message }), errorType);
}

/**
 * The IAM check API Gateway makes before serving the request. The resource names the route, not the connection
 * (AWS's messages read `…/POST/@connections/{connectionId}`); the account in it is masked as AWS masks it.
 * Writes the 403 and returns false when denied.
 */
function allowed(req: IncomingMessage, res: ServerResponse, method: string, stageArn: string, isAllowed: IsAllowed): boolean {
  const accessKeyId = accessKeyIdOf(req.headers.authorization);
  const resource = `${stageArn}/${method}/@connections/{connectionId}`;
  if (isAllowed(accessKeyId, 'execute-api:ManageConnections', resource)) return true;
  req.resume();
  const masked = resource.replace(/^(arn:[^:]*:execute-api:[^:]*:)(\d*)(\d{4}):/, (_m, head: string, hidden: string, last: string) => `${head}${'*'.repeat(hidden.length)}${last}:`);
  const message = `User: ${principalArn(accessKeyId)} is not authorized to perform: execute-api:ManageConnections on resource: ${masked}`;
  // API Gateway's IAM denials spell the field `Message`.
  send(res, 403, JSON.stringify({ Message: message }), 'AccessDeniedException');
  return false;
}

/**
 * Parse `/STAGE/@connections/ID` (the `@` may arrive percent-encoded). Returns undefined when the path is not a
 * management API path, the decoded connection id otherwise ('' when missing).
 */
export function parseConnectionsPath(url: string, stage: string): string | undefined {
  const q = url.indexOf('?');
  const path = q === -1 ? url : url.slice(0, q);
  const prefix = `/${stage}/`;
  if (!path.startsWith(prefix)) return undefined;
  const rest = path.slice(prefix.length);
  const slash = rest.indexOf('/');
  const head = slash === -1 ? rest : rest.slice(0, slash);
  if (head !== '@connections' && head.toLowerCase() !== '%40connections') return undefined;
  const rawId = slash === -1 ? '' : rest.slice(slash + 1);
  try {
    return decodeURIComponent(rawId);
  } catch {
    return rawId;
  }
}

/** Handle one management API request whose path `parseConnectionsPath` accepted. */
export function handleConnectionsRequest(
  req: IncomingMessage,
  res: ServerResponse,
  connectionId: string,
  opts: ConnectionsApiOptions,
): void {
  const method = req.method ?? 'GET';
  if (connectionId === '' || connectionId.includes('/')) {
    req.resume();
    sendError(res, 403, 'ForbiddenException', 'Forbidden');
    return;
  }
  const managing = method === 'GET' || method === 'POST' || method === 'DELETE';
  if (managing && opts.isAllowed && !allowed(req, res, method, opts.stageArn, opts.isAllowed)) return;
  if (method === 'GET') {
    req.resume();
    const d = opts.registry.describe(connectionId);
    if (!d) return sendError(res, 410, 'GoneException', null);
    const body = {
      connectedAt: new Date(d.connectedAt).toISOString(),
      identity: { sourceIp: d.sourceIp, ...(d.userAgent !== undefined ? { userAgent: d.userAgent } : {}) },
      lastActiveAt: new Date(d.lastActiveAt).toISOString(),
    };
    return send(res, 200, JSON.stringify(body));
  }
  if (method === 'DELETE') {
    req.resume();
    if (!opts.registry.delete(connectionId)) return sendError(res, 410, 'GoneException', null);
    return send(res, 204, undefined);
  }
  if (method === 'POST') {
    const chunks: Buffer[] = [];
    let size = 0;
    let tooLarge = false;
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > opts.maxMessageBytes) {
        tooLarge = true;
        chunks.length = 0; // keep draining, stop buffering
      } else {
        chunks.push(chunk);
      }
    });
    req.on('end', () => {
      if (tooLarge) return sendError(res, 413, 'PayloadTooLargeException', 'Request entity too large');
      const data = chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size);
      if (!opts.registry.post(connectionId, data)) return sendError(res, 410, 'GoneException', null);
      send(res, 200, undefined);
    });
    req.on('error', () => res.destroy());
    return;
  }
  req.resume();
  sendError(res, 403, 'ForbiddenException', 'Forbidden');
}
