/**
 * The metrics the functions publish (Powertools Metrics, EMF) as the dashboard and alarms read them: one namespace,
 * dimensions `service` + `environment`. Both sides import this module, so a renamed metric breaks a test, not the
 * dashboard in silence.
 */


/** Every metric the functions publish. */
export type MetricName =
  | 'InvalidMessages'
  | 'CallsStarted'
  | 'CallsEnded'
  | 'Transfers'
  | 'OutboundCallsPlaced'
  | 'OutboundCallsRefused'
  | 'OutboundCallsFailed'
  /** `GET /history` without the token or with a wrong one. */
  | 'HistoryRefused'
  | 'TransferFailures'
  | 'TurnsCompleted'
  | 'TurnsFailed'
  | 'TurnsSuperseded'
  | 'TurnsIgnored'
  | 'BargeIns'
  | 'LateFrames'
  | 'ProviderErrors'
  | 'CallerGone'
  | 'TurnLatency'
  | 'EndpointDelay'
  | 'SttLatency'
  | 'ResponderLatency'
  | 'TtsFirstByteLatency'
  | 'SendLatency'
  | 'SpeechFramesStored'
  | 'LateFramesMerged'
  | 'EndpointWatchesAbandoned'
  | 'EndpointsOverdue'
  /** End of turn by the words: utterances ended sooner (they sounded finished) or later (they stopped mid-phrase). */
  | 'EndpointsShortened'
  | 'EndpointsExtended'
  | 'CallsInProgress'
  | 'RouteErrors'
  | 'ConnectsRefused'
  | 'WebhooksRefused'
  | 'StreamsRefused'
  | 'CallsOffered'
  | 'BrowserTokensIssued'
  | 'AppSecretErrors'
  | 'ProviderRetries'
  | 'TurnsPreempted'
  | 'SpeculationsDiscarded'
  | 'MessagesRateLimited'
  | 'ConnectionsClosedForFlooding'
  | 'CallsOverMaxDuration'
  | 'ModelFirstTokenLatency'
  | 'ModelCalls'
  | 'ModelInputTokens'
  | 'ModelOutputTokens'
  | 'LlmErrors'
  | 'LlmFallbacks'
  | 'SpeculationModelCalls'
  | 'SpeculationTokensWasted';

export const METRICS_NAMESPACE = 'VoiceAgent';
export const SERVICE_NAME = 'voice-agent';
/** Default dimension that keeps each environment's metrics apart when several share an account. */
export const ENVIRONMENT_DIMENSION = 'environment';
/** Env var carrying the environment name into each function; `local` when unset (the local stack). */
export const ENVIRONMENT_VARIABLE = 'VOICE_AGENT_ENV';

/** The stages of one turn's latency budget, in the order they happen, each published in milliseconds. */
export const LATENCY_STAGES = [
  { metric: 'EndpointDelay', label: 'endpointing (speech end → turn claimed)' },
  { metric: 'SttLatency', label: 'speech-to-text' },
  { metric: 'ResponderLatency', label: 'responder (to the first sentence)' },
  { metric: 'TtsFirstByteLatency', label: 'text-to-speech first byte' },
  { metric: 'SendLatency', label: 'send first audio' },
] as const satisfies readonly { metric: MetricName; label: string }[];

/** End of caller speech → first agent audio sent: the number the seed study grades. */
export const TURN_LATENCY_METRIC = 'TurnLatency' satisfies MetricName;

/** A language model's time to its first text: part of the responder stage, published on its own. */
export const MODEL_FIRST_TOKEN_METRIC = 'ModelFirstTokenLatency' satisfies MetricName;

export const MILLISECOND_METRICS: ReadonlySet<MetricName> = new Set<MetricName>([
  TURN_LATENCY_METRIC,
  ...LATENCY_STAGES.map((s) => s.metric),
  MODEL_FIRST_TOKEN_METRIC,
]);

/** Published as the current value after each change (read with the Maximum statistic), not as a count to sum. */
export const GAUGE_METRICS: ReadonlySet<MetricName> = new Set<MetricName>(['CallsInProgress']);

/** Powertools' cold-start metric (one per cold start, with a `function_name` dimension). */
export const COLD_START_METRIC = 'ColdStart';
