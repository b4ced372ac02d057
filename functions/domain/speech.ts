/**
 * The two speech service kinds the call pipeline depends on. Adapters (offline engines, Deepgram, ElevenLabs)
 * implement these; the domain never imports a vendor SDK.
 */
import type { AudioFormat } from '../contracts/audio-format';

export interface TranscribeOptions {
  /** Name of the dialog state the caller is answering; engines may bias recognition towards it. */
  readonly context?: string;
  readonly signal?: AbortSignal;
}

export interface Transcript {
  readonly text: string;
  readonly confidence?: number;
}

export interface SpeechToText {
  readonly name: string;
  /** Transcribes one whole utterance given in `format`. */
  transcribe(audio: Uint8Array, format: AudioFormat, options?: TranscribeOptions): Promise<Transcript>;
}

export interface SynthesizeOptions {
  readonly signal?: AbortSignal;
}

export interface TextToSpeech {
  readonly name: string;
  /** Streams audio for `text` in `format` (raw samples, no container), first bytes as soon as they exist. */
  synthesize(text: string, format: AudioFormat, options?: SynthesizeOptions): AsyncIterable<Uint8Array>;
}

/** A provider failed or timed out; the turn falls back instead of failing the call. */
export class SpeechProviderError extends Error {
  constructor(
    readonly provider: string,
    readonly kind: 'timeout' | 'unavailable' | 'rejected' | 'malformed',
    message: string,
    options?: { cause?: unknown },
  ) {
    super(message, options);
    this.name = 'SpeechProviderError';
  }
}

/** A provider failure (or any error) in one line for a log: provider, kind and message; never the request. */
export function describeError(err: unknown): string {
  if (err instanceof SpeechProviderError) return `${err.provider} ${err.kind}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}
