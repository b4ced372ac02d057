/**
 * Event shapes exactly as a Lambda function receives them from an API Gateway WebSocket API (Lambda proxy
 * integration), plus the ids and time formats API Gateway uses.
 */
import { randomBytes } from 'node:crypto';

export type EventType = 'CONNECT' | 'MESSAGE' | 'DISCONNECT';

/** `requestContext.authorizer`: principalId, the authorizer's context (values as strings) and, on $connect, integrationLatency. */
export type AuthorizerContext = Readonly<Record<string, string | number>>;

export interface WebSocketIdentity {
  sourceIp: string;
  userAgent?: string;
}

export interface WebSocketRequestContext {
  routeKey: string;
  /** MESSAGE events only. */
  messageId?: string;
  /** DISCONNECT events only. */
  disconnectStatusCode?: number;
  eventType: EventType;
  extendedRequestId: string;
  requestTime: string;
  messageDirection: 'IN';
  /** DISCONNECT events only. */
  disconnectReason?: string;
  stage: string;
  connectedAt: number;
  requestTimeEpoch: number;
  identity: WebSocketIdentity;
  requestId: string;
  domainName: string;
  connectionId: string;
  apiId: string;
  authorizer?: AuthorizerContext;
}

export interface ConnectEvent {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters?: Record<string, string>;
  multiValueQueryStringParameters?: Record<string, string[]>;
  requestContext: WebSocketRequestContext;
  isBase64Encoded: false;
}

export interface MessageEvent {
  requestContext: WebSocketRequestContext;
  body: string;
  isBase64Encoded: boolean;
}

export interface DisconnectEvent {
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  requestContext: WebSocketRequestContext;
  isBase64Encoded: false;
}

export interface RequestAuthorizerEvent {
  type: 'REQUEST';
  methodArn: string;
  headers: Record<string, string>;
  multiValueHeaders: Record<string, string[]>;
  queryStringParameters: Record<string, string>;
  multiValueQueryStringParameters: Record<string, string[]>;
  stageVariables: Record<string, string>;
  requestContext: WebSocketRequestContext;
}

// ---------------------------------------------------------------------------------------------- ids

const POOL_SIZE = 11 * 512;
let pool = randomBytes(POOL_SIZE);
let poolOffset = 0;

/**
 * A 16-character id like API Gateway's connection / request / message ids (`ZCVpqeWGoAMCIqQ=`): 11 random
 * bytes, URL-safe base64 with its one `=` of padding. Drawn from a pooled random buffer (cheap per message).
 */
export function newGatewayId(): string {
  if (poolOffset + 11 > POOL_SIZE) {
    pool = randomBytes(POOL_SIZE);
    poolOffset = 0;
  }
  const id = pool.toString('base64url', poolOffset, poolOffset + 11) + '=';
  poolOffset += 11;
  return id;
}

const API_ID_ALPHABET = 'abcdefghijklmnopqrstuvwxyz0123456789';

/** A 10-character lowercase alphanumeric API id, like `a1b2c3d4e5`. */
export function newApiId(): string {
  const bytes = randomBytes(10);
  let id = '';
  for (const b of bytes) id += API_ID_ALPHABET[b % API_ID_ALPHABET.length];
  return id;
}

// ---------------------------------------------------------------------------------------------- time

const MONTHS = ['Jan', 'Feb', 'Mar', 'Apr', 'May', 'Jun', 'Jul', 'Aug', 'Sep', 'Oct', 'Nov', 'Dec'];
const pad2 = (n: number): string => (n < 10 ? `0${n}` : String(n));

let cachedSecond = -1;
let cachedRequestTime = '';

/** `requestTime` as API Gateway writes it: `24/Nov/2026:16:00:00 +0000` (UTC; cached per second). */
export function formatRequestTime(epochMs: number): string {
  const second = Math.floor(epochMs / 1000);
  if (second === cachedSecond) return cachedRequestTime;
  const d = new Date(second * 1000);
  const text =
    `${pad2(d.getUTCDate())}/${MONTHS[d.getUTCMonth()]}/${d.getUTCFullYear()}:` +
    `${pad2(d.getUTCHours())}:${pad2(d.getUTCMinutes())}:${pad2(d.getUTCSeconds())} +0000`;
  cachedSecond = second;
  cachedRequestTime = text;
  return text;
}

// ---------------------------------------------------------------------------------------------- builders

/** What the gateway knows about one connection, the part every event repeats. */
export interface ConnectionInfo {
  readonly connectionId: string;
  readonly connectedAt: number;
  readonly identity: WebSocketIdentity;
  authorizer?: AuthorizerContext;
  /** The custom domain name the client connected through, if it did (its events' requestContext.domainName). */
  readonly domainName?: string;
}

/** Per-stage constants every event repeats. */
export interface StageInfo {
  readonly stage: string;
  readonly apiId: string;
  /** `127.0.0.1:PORT` */
  domainName: string;
}

export function requestContext(
  stage: StageInfo,
  conn: ConnectionInfo,
  routeKey: string,
  eventType: EventType,
  now: number,
  requestId: string = newGatewayId(),
): WebSocketRequestContext {
  const ctx: WebSocketRequestContext = {
    routeKey,
    eventType,
    extendedRequestId: requestId,
    requestTime: formatRequestTime(now),
    messageDirection: 'IN',
    stage: stage.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    identity: conn.identity,
    requestId,
    domainName: stage.domainName,
    connectionId: conn.connectionId,
    apiId: stage.apiId,
  };
  if (conn.authorizer) ctx.authorizer = conn.authorizer;
  return ctx;
}

export function messageEvent(
  stage: StageInfo,
  conn: ConnectionInfo,
  routeKey: string,
  body: string,
  isBase64Encoded: boolean,
  now: number,
): MessageEvent {
  // One object literal in requestContext()'s key order, messageId last (what spreading it gave), instead of building
  // the context and copying it: this runs for every frame (50 a second per Twilio call).
  const requestId = newGatewayId();
  const ctx: WebSocketRequestContext = {
    routeKey,
    eventType: 'MESSAGE',
    extendedRequestId: requestId,
    requestTime: formatRequestTime(now),
    messageDirection: 'IN',
    stage: stage.stage,
    connectedAt: conn.connectedAt,
    requestTimeEpoch: now,
    // MESSAGE events carry only the source IP.
    identity: { sourceIp: conn.identity.sourceIp },
    requestId,
    domainName: stage.domainName,
    connectionId: conn.connectionId,
    apiId: stage.apiId,
  };
  if (conn.authorizer) ctx.authorizer = conn.authorizer;
  ctx.messageId = newGatewayId();
  return { requestContext: ctx, body, isBase64Encoded };
}

export function disconnectEvent(
  stage: StageInfo,
  conn: ConnectionInfo,
  statusCode: number,
  reason: string,
  now: number,
): DisconnectEvent {
  const ctx: WebSocketRequestContext = {
    ...requestContext(stage, conn, '$disconnect', 'DISCONNECT', now),
    disconnectStatusCode: statusCode,
    disconnectReason: reason,
  };
  // API Gateway sends this fixed, mostly empty header set on $disconnect.
  const headers = { Host: stage.domainName, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' };
  const multiValueHeaders: Record<string, string[]> = {};
  for (const [k, v] of Object.entries(headers)) multiValueHeaders[k] = [v];
  return { headers, multiValueHeaders, requestContext: ctx, isBase64Encoded: false };
}

/** The JSON API Gateway sends a client when it could not deliver its message (note the exact spacing). */
export function gatewayErrorMessage(message: string, connectionId: string, requestId: string): string {
  return `{"message": ${JSON.stringify(message)}, "connectionId":${JSON.stringify(connectionId)}, "requestId":${JSON.stringify(requestId)}}`;
}
