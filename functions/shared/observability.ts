/**
 * Powertools Logger, Metrics and Tracer for every handler, and the domain's Telemetry bound to them.
 * The call id is the correlation id of every log line. Nothing logs per frame: the media route runs 50×/s per call.
 */
import { Logger } from '@aws-lambda-powertools/logger';
import { Metrics, MetricUnit } from '@aws-lambda-powertools/metrics';
import { Tracer } from '@aws-lambda-powertools/tracer';
import type { MetricName, Telemetry } from '../domain/call/model';

export const SERVICE_NAME = 'voice-agent';
export const METRICS_NAMESPACE = 'VoiceAgent';

export const logger = new Logger({ serviceName: SERVICE_NAME });
export const metrics = new Metrics({ namespace: METRICS_NAMESPACE, serviceName: SERVICE_NAME });
export const tracer = new Tracer({ serviceName: SERVICE_NAME });

const MILLISECOND_METRICS = new Set<MetricName>([
  'TurnLatency',
  'EndpointDelay',
  'SttLatency',
  'ResponderLatency',
  'TtsFirstByteLatency',
  'SendLatency',
]);

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
};
