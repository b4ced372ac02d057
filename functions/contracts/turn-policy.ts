/**
 * The turn-taking policy callers experience and the load test accounts for: what counts as speech, how much silence
 * ends an utterance, what counts as barge-in. The functions read it (with overrides from their environment).
 */

export interface EndpointingConfig {
  /** A frame louder than this is speech. */
  readonly speechThresholdDbfs: number;
  /** Silence after the last speech frame that ends an utterance. */
  readonly endpointSilenceMs: number;
  /** Utterances shorter than this (in speech frames' duration) are noise: no turn. */
  readonly minSpeechMs: number;
  /** Sustained caller speech over the agent's audio that counts as barge-in. */
  readonly bargeInMs: number;
  /** Gaps in the chunk sequence up to this long inside an utterance are filled with silence (pauses between words). */
  readonly maxGapFillMs: number;
  /** An utterance is cut (endpoint forced) once it is this long. */
  readonly maxUtteranceMs: number;
}

export const DEFAULT_ENDPOINTING: EndpointingConfig = {
  speechThresholdDbfs: -45,
  endpointSilenceMs: 400,
  minSpeechMs: 120,
  bargeInMs: 200,
  maxGapFillMs: 600,
  maxUtteranceMs: 15_000,
};

/** Silence after which the utterance's watcher starts answering it speculatively (preemptive generation). */
export const PREEMPT_SILENCE_MS = 200;

/**
 * Speculative work pays off when the providers are remote: their latency overlaps the endpoint silence, and a
 * discarded speculation costs a vendor request. The offline engines run on the same machine's CPU, where a
 * speculative decode (which the local server cannot cancel once started) delays the real ones: with it on, the
 * ten-call stack test's recognizer queue reached its 5 s timeout. So: on with the vendors, off with the engines.
 */
export function preemptionDefault(providers: 'offline' | 'vendors'): number {
  return providers === 'vendors' ? PREEMPT_SILENCE_MS : 0;
}
