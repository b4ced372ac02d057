/**
 * The one Powertools middleware chain every Lambda handler runs in (middy): the tracer (only when tracing is on),
 * the logger's Lambda context with keys reset per invocation, and metrics flushed only when the invocation recorded
 * any. WebSocket routes add their own work around it (functions/lambda/route-handler.ts); the authorizer and the HTTP
 * routes use it as is.
 */
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { Context } from 'aws-lambda';
import { logger, metrics, tracer } from './observability';

/** Metrics are flushed only when the invocation recorded any: an empty flush per frame would be a log line per frame. */
const flushMetricsWhenAny = (): middy.MiddlewareObj => {
  const flush = async () => {
    if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics();
  };
  return { after: flush, onError: flush };
};

export function withPowertools<E, R>(handler: (event: E, context: Context) => Promise<R>) {
  const wrapped = middy(handler);
  // With tracing off (the local stack) the tracer's middleware would only ask isTracingEnabled() in each phase: every
  // middleware costs middy two awaits per invocation, so it is left out rather than run to do nothing.
  if (tracer.isTracingEnabled()) wrapped.use(captureLambdaHandler(tracer, { captureResponse: false }));
  return wrapped.use(injectLambdaContext(logger, { resetKeys: true })).use(flushMetricsWhenAny());
}
