/**
 * Voice activity detection and endpointing, split so that no decision needs memory across invocations:
 * - each frame is classified on its own (energy), so any execution environment can classify any frame;
 * - endpointing is a pure function of "when was the last speech frame" and "what time is it in the stream",
 *   facts that the call state (DynamoDB) holds, not an in-memory state machine.
 */
import type { EndpointingConfig } from '../contracts/turn-policy';

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
