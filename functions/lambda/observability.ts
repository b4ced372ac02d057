/**
 * Powertools Logger, Metrics and Tracer for every handler, and the domain's Telemetry bound to them.
 * The call id is the correlation id of every log line. Nothing logs per frame: the media route runs 50×/s per call.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import type { Tracer } from '@aws-lambda-powertools/tracer';
import type { Telemetry } from '../domain/call/model';
import { ENVIRONMENT_DIMENSION, ENVIRONMENT_VARIABLE, GAUGE_METRICS, METRICS_NAMESPACE, MILLISECOND_METRICS, SERVICE_NAME } from '../contracts/metrics';

/**
 * Never logs the invocation event, whatever POWERTOOLS_LOGGER_LOG_EVENT says: events carry caller audio (media
 * payloads), the caller's `?token=` and X-Twilio-Signature. Measured: with the variable set, one local call logged
 * the stack token 4 times and 54 audio frames (local/observability/log-scan.ts).
 */
export class EventlessLogger extends Logger {
  override logEventIfEnabled(): void {}

  /**
   * This invocation's keys (callId, route, correlation_id), kept aside and appended to the log attributes only when a
   * line is written (or the attributes are read): most invocations — silent frames, 50 a second per call — write no
   * line, and appending keys costs Powertools a merge and a reserved-key check each time (a measured 18 % of a silent
   * frame's handler JavaScript, tools/cpu-breakdown.ts). Every line carries exactly the keys it carried before.
   * Not `#private`: the base class's constructor calls methods overridden here before subclass fields exist.
   */
  private deferredKeys: Record<string, unknown> | undefined;

  /** Like `appendKeys(keys)` at this point, applied lazily; `resetKeys()` drops them as it drops appended ones. */
  deferKeys(keys: Record<string, unknown>): void {
    this.applyDeferredKeys();
    this.deferredKeys = keys;
  }

  private applyDeferredKeys(): void {
    const keys = this.deferredKeys;
    if (keys === undefined) return;
    this.deferredKeys = undefined;
    super.appendKeys(keys);
  }

  protected override processLogItem(...args: Parameters<Logger['processLogItem']>): void {
    this.applyDeferredKeys();
    super.processLogItem(...args);
  }

  override appendKeys(...args: Parameters<Logger['appendKeys']>): void {
    this.applyDeferredKeys();
    super.appendKeys(...args);
  }

  override removeKeys(...args: Parameters<Logger['removeKeys']>): void {
    this.applyDeferredKeys();
    super.removeKeys(...args);
  }

  override getCorrelationId(): unknown {
    this.applyDeferredKeys();
    return super.getCorrelationId();
  }

  override createChild(...args: Parameters<Logger['createChild']>): Logger {
    this.applyDeferredKeys();
    return super.createChild(...args);
  }

  override resetKeys(): void {
    this.deferredKeys = undefined;
    super.resetKeys();
  }
}

export const logger: EventlessLogger = new EventlessLogger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({
  namespace: METRICS_NAMESPACE,
  serviceName: SERVICE_NAME,
  defaultDimensions: { [ENVIRONMENT_DIMENSION]: process.env[ENVIRONMENT_VARIABLE] ?? 'local' },
});
/**
 * Powertools' Tracer loads the X-Ray SDK, which in its default (automatic) mode installs async hooks (cls-hooked) on
 * load: every promise and async resource of the environment then runs an init and a destroy hook, traced or not — a
 * measured 12 % of a local media environment's JavaScript per silent frame (tools/cpu-breakdown.ts). With tracing
 * switched off (POWERTOOLS_TRACE_ENABLED=false: the local stack, which has no X-Ray daemon) nothing is traced, so the
 * SDK starts in manual mode (AWS_XRAY_MANUAL_MODE, read when it loads; no hooks) and the Tracer is loaded only then,
 * after this module's own imports. On AWS (tracing active, the variable unset) nothing changes.
 */
function makeTracer(): Tracer {
  if (process.env.POWERTOOLS_TRACE_ENABLED?.toLowerCase() === 'false') process.env.AWS_XRAY_MANUAL_MODE ??= 'true';
  const { Tracer: PowertoolsTracer } = require('@aws-lambda-powertools/tracer') as typeof import('@aws-lambda-powertools/tracer');
  return new PowertoolsTracer({ serviceName: SERVICE_NAME });
}

export const tracer: Tracer = makeTracer();

export const telemetry: Telemetry = {
  debug: (message, extra) => logger.debug(message, extra ?? {}),
  info: (message, extra) => logger.info(message, extra ?? {}),
  warn: (message, extra) => logger.warn(message, extra ?? {}),
  error: (message, extra) => logger.error(message, extra ?? {}),
  count: (metric, value = 1) => metrics.addMetric(metric, MetricUnit.Count, value),
  milliseconds: (metric, value) => {
    if (!MILLISECOND_METRICS.has(metric)) throw new Error(`${metric} is not a latency metric`);
    metrics.addMetric(metric, MetricUnit.Milliseconds, value);
  },
  gauge: (metric, value) => {
    if (!GAUGE_METRICS.has(metric)) throw new Error(`${metric} is not a gauge`);
    metrics.addMetric(metric, MetricUnit.Count, value);
  },
};
