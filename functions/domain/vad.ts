/**
 * Voice activity detection and endpointing, split so that no decision needs memory across invocations:
 * - each frame is classified on its own (energy), so any execution environment can classify any frame;
 * - endpointing is a pure function of "when was the last speech frame" and "what time is it in the stream",
 *   facts that the call state (DynamoDB) holds, not an in-memory state machine.
 */
import { levelDbfs } from './audio';

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

/**
 * A chunk is speech when any 20 ms window of it is: clients may send chunks longer than Twilio's 20 ms, and a
 * chunk that is mostly silence around a quiet word ending must not be dropped.
 */
export function isSpeech(samples: Int16Array, config: Pick<EndpointingConfig, 'speechThresholdDbfs'>, sampleRate = 8000): boolean {
  const window = Math.round(sampleRate / 50);
  if (samples.length <= window * 1.5) return levelDbfs(samples) > config.speechThresholdDbfs;
  for (let start = 0; start < samples.length; start += window) {
    if (levelDbfs(samples.subarray(start, Math.min(start + window, samples.length))) > config.speechThresholdDbfs) return true;
  }
  return false;
}

/** Stream time (ms) at which a frame ends. */
export const frameEnd = (frame: { ts: number; durationMs: number }) => frame.ts + frame.durationMs;

/** True when enough silence has passed since speech ended that the utterance is over. */
export function isEndpoint(lastSpeechEndTs: number, nowTs: number, config: Pick<EndpointingConfig, 'endpointSilenceMs'>): boolean {
  return nowTs - lastSpeechEndTs >= config.endpointSilenceMs;
}

export interface StoredFrame {
  readonly chunk: number;
  /** Stream timestamp of the frame's start (Twilio `media.timestamp`). */
  readonly ts: number;
  readonly durationMs: number;
  readonly audio: Uint8Array;
  /** When the gateway received it (requestTimeEpoch). */
  readonly receivedAt: number;
}

/**
 * Joins an utterance's speech frames in stream order. Silence frames were never stored, so the gaps between
 * speech frames are re-inserted as silence (capped), which keeps pauses between words for the recognizer.
 */
export function assembleUtterance(
  frames: readonly StoredFrame[],
  silenceFor: (ms: number) => Uint8Array,
  config: Pick<EndpointingConfig, 'maxGapFillMs'>,
): { audio: Uint8Array; speechMs: number; firstTs: number; lastEndTs: number } {
  const sorted = [...frames].sort((a, b) => a.chunk - b.chunk);
  const parts: Uint8Array[] = [];
  let speechMs = 0;
  let cursor: number | undefined;
  for (const frame of sorted) {
    if (cursor !== undefined && frame.ts > cursor) {
      const gap = Math.min(frame.ts - cursor, config.maxGapFillMs);
      parts.push(silenceFor(gap));
    }
    parts.push(frame.audio);
    speechMs += frame.durationMs;
    cursor = frameEnd(frame);
  }
  const audio = Buffer.concat(parts);
  return {
    audio: new Uint8Array(audio.buffer, audio.byteOffset, audio.byteLength),
    speechMs,
    firstTs: sorted[0]?.ts ?? 0,
    lastEndTs: cursor ?? 0,
  };
}
