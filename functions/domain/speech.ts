/**
 * The two speech service kinds the call pipeline depends on. Adapters (offline engines, Deepgram, ElevenLabs)
 * implement these; the domain never imports a vendor SDK.
 */

/** Audio on the wire: Twilio's telephony default (μ-law 8 kHz) or linear PCM 16 kHz, mono, little-endian. */
export interface AudioFormat {
  readonly encoding: 'mulaw' | 'pcm16';
  readonly sampleRate: 8000 | 16000;
}

export const TELEPHONY_FORMAT: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
export const WIDEBAND_FORMAT: AudioFormat = { encoding: 'pcm16', sampleRate: 16000 };

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
