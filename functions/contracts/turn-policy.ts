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
  /**
   * End of turn: `fixed` waits `endpointSilenceMs` after every utterance; `adaptive` lets the words decide once a
   * speculation has transcribed them (`Responder.completeness`): `completeSilenceMs` when they sound finished,
   * `unsureSilenceMs` when the responder cannot tell or the words are not known in time, `incompleteSilenceMs` when
   * they stop mid-phrase (docs/LATENCY.md, "End of turn"). Utterances nobody transcribed before their end (no
   * preemptive generation): `endpointSilenceMs`.
   */
  readonly endOfTurn: 'fixed' | 'adaptive';
  readonly completeSilenceMs: number;
  /**
   * Words sound finished only when speech-to-text is this sure of them (its confidence, when it gives one): a
   * misheard phrase can match an intent (measured on real recordings: "read to you to change all there", confidence
   * 0.003, matched "move my appointment" mid-sentence).
   */
  readonly completeMinConfidence: number;
  readonly unsureSilenceMs: number;
  readonly incompleteSilenceMs: number;
}

export const DEFAULT_ENDPOINTING: EndpointingConfig = {
  speechThresholdDbfs: -45,
  endpointSilenceMs: 400,
  minSpeechMs: 120,
  bargeInMs: 200,
  maxGapFillMs: 600,
  maxUtteranceMs: 15_000,
  endOfTurn: 'adaptive',
  completeSilenceMs: 300,
  completeMinConfidence: 0.7,
  // Longer than the pauses inside a sentence that read speech has (up to 600 ms in the recordings tests): words the
  // responder did not understand are no sign the caller is done.
  unsureSilenceMs: 700,
  incompleteSilenceMs: 1000,
};

/** What the words of an utterance sounded like to the responder, and how sure speech-to-text was of them. */
export interface HeardWords {
  readonly completeness: 'complete' | 'incomplete' | 'unsure';
  readonly confidence?: number;
}

/**
 * How an utterance's end is judged from its words (`unsure` also when they were not transcribed in time, or speech-to-
 * text was not sure enough of them to call them finished), and the silence that ends it then.
 */
export function endOfTurnFor(
  config: Pick<EndpointingConfig, 'endOfTurn' | 'endpointSilenceMs' | 'completeSilenceMs' | 'completeMinConfidence' | 'unsureSilenceMs' | 'incompleteSilenceMs'>,
  heard: HeardWords | undefined,
): { readonly silenceMs: number; readonly heard?: HeardWords['completeness'] } {
  if (config.endOfTurn === 'fixed') return { silenceMs: config.endpointSilenceMs };
  let judged = heard?.completeness ?? 'unsure';
  if (judged === 'complete' && heard?.confidence !== undefined && heard.confidence < config.completeMinConfidence) judged = 'unsure';
  const ms = judged === 'complete' ? config.completeSilenceMs : judged === 'unsure' ? config.unsureSilenceMs : config.incompleteSilenceMs;
  return { silenceMs: Math.min(ms, longestEndpointSilence(config)), heard: judged };
}

/** The longest silence an utterance's end may wait for: a watch is held at least this long. */
export function longestEndpointSilence(config: Pick<EndpointingConfig, 'endOfTurn' | 'endpointSilenceMs' | 'incompleteSilenceMs'>): number {
  return config.endOfTurn === 'fixed' ? config.endpointSilenceMs : Math.max(config.endpointSilenceMs, config.incompleteSilenceMs);
}

/** Silence after which the utterance's watcher starts answering it speculatively (preemptive generation). */
export const PREEMPT_SILENCE_MS = 20;

/**
 * Speculative work pays off when the providers are remote: their latency overlaps the endpoint silence, and a
 * discarded speculation costs a vendor request. The offline engines run on the same machine's CPU, where a
 * speculative decode (which the local server cannot cancel once started) delays the real ones: with it on, the
 * ten-call stack test's recognizer queue reached its 5 s timeout. So: on with the vendors, off with the engines.
 */
export function preemptionDefault(providers: 'offline' | 'vendors'): number {
  return providers === 'vendors' ? PREEMPT_SILENCE_MS : 0;
}
