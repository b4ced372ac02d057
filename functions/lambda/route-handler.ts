/**
 * Every route handler is built here: middy with Powertools (logger context + call correlation id, tracer,
 * metrics flushed only when there are any), input errors logged and counted, and nothing thrown back to the
 * gateway — a bad message must never end a call or crash an environment.
 */
import type { APIGatewayProxyResultV2, APIGatewayProxyWebsocketEventV2, Context } from 'aws-lambda';
import { CONNECT_FORMATS, isConnectFormat } from '../contracts/connect-parameters';
import { ProtocolError } from '../domain/protocol';
import type { AudioFormat } from '../contracts/audio-format';
import { logger, metrics, telemetry } from './observability';
import { withPowertools } from './powertools';
import { ConnectionRateLimiter, rateLimitFromEnv } from '../access/rate-limit';

export type WebSocketEvent = APIGatewayProxyWebsocketEventV2 & {
  requestContext: APIGatewayProxyWebsocketEventV2['requestContext'] & {
    requestTimeEpoch: number;
    /** The $connect authorizer's context, on every message of the connection (functions/handlers/authorizer.ts). */
    authorizer?: Record<string, string | number | boolean | undefined>;
    disconnectStatusCode?: number;
    disconnectReason?: string;
  };
  queryStringParameters?: Record<string, string | undefined>;
  headers?: Record<string, string | undefined>;
};

export interface RouteContext {
  /** The call's id: its WebSocket connection (one call = one connection) and the logs' correlation id. */
  readonly callId: string;
  readonly connectionId: string;
  /** When API Gateway received the message. */
  readonly receivedAt: number;
  /** When this handler started on it: startedAt − receivedAt is the gateway and dispatch time. */
  readonly startedAt: number;
  /** When the connection was opened (API Gateway's connectedAt). */
  readonly connectedAt?: number;
  /** The audio format the connection declared at connect (`?format=`, or Twilio's μ-law), carried by the authorizer. */
  readonly declaredFormat?: AudioFormat;
  /** How the authorizer let the connection in (functions/handlers/authorizer.ts): `twilio-signature` for a phone call. */
  readonly authenticatedBy?: string;
}

let coldStart = true;

/** Routes a caller's messages go to; $connect and $disconnect are API Gateway's own, one per connection. */
const isMessageRoute = (route: string) => route !== '$connect' && route !== '$disconnect';
let limiter: ConnectionRateLimiter | undefined;

export interface RouteOptions {
  /**
   * Closes the caller's connection (DeleteConnection) when it keeps flooding past the rate limit. Only functions
   * allowed to manage connections (functions/contracts/routes.ts) pass it; the others refuse the excess and nothing more.
   */
  readonly closeConnection?: (event: WebSocketEvent) => Promise<void>;
}

export function routeHandler(
  route: string,
  work: (event: WebSocketEvent, ctx: RouteContext) => Promise<APIGatewayProxyResultV2 | void>,
  options: RouteOptions = {},
) {
  const base = async (event: WebSocketEvent, context: Context): Promise<APIGatewayProxyResultV2> => {
    const startedAt = Date.now();
    const { connectionId, requestTimeEpoch } = event.requestContext;
    // appendKeys({ callId, route }) and setCorrelationId(connectionId), applied when a line is written (most frames write none).
    logger.deferKeys({ callId: connectionId, route, correlation_id: connectionId });
    if (coldStart) {
      coldStart = false;
      // function_name dimension: the dashboard shows cold starts per function.
      metrics.captureColdStartMetric(context.functionName);
    }
    if (isMessageRoute(route)) {
      limiter ??= new ConnectionRateLimiter(rateLimitFromEnv());
      const admission = limiter.admit(connectionId, requestTimeEpoch ?? startedAt);
      if (admission.report > 0) {
        telemetry.count('MessagesRateLimited', admission.report);
        logger.warn('messages refused: over the per-connection rate limit', { refused: admission.report });
      }
      if (admission.close && options.closeConnection) {
        telemetry.count('ConnectionsClosedForFlooding');
        logger.warn('closing a connection that keeps flooding');
        await options.closeConnection(event).catch((err: Error) => logger.warn('close failed', { error: err.message }));
      }
      if (!admission.admitted) return { statusCode: 429, body: 'rate limited' };
    }
    try {
      const declared = event.requestContext.authorizer?.format;
      const ctx: RouteContext = {
        callId: connectionId,
        connectionId,
        receivedAt: requestTimeEpoch ?? startedAt,
        startedAt,
        connectedAt: event.requestContext.connectedAt,
        declaredFormat: isConnectFormat(declared) ? CONNECT_FORMATS[declared] : undefined,
        authenticatedBy: typeof event.requestContext.authorizer?.authenticatedBy === 'string' ? event.requestContext.authorizer.authenticatedBy : undefined,
      };
      return (await work(event, ctx)) ?? { statusCode: 200 };
    } catch (err) {
      if (err instanceof ProtocolError) {
        telemetry.count('InvalidMessages');
        logger.warn('invalid message', { reason: err.message });
        return { statusCode: 400, body: err.message };
      }
      logger.error('route failed', { error: err as Error });
      telemetry.count('RouteErrors');
      return { statusCode: 500 };
    }
  };
  return withPowertools(base);
}
