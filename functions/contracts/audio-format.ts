/**
 * Audio on the wire, as callers, the functions, the vendors' stand-ins and the tools all name it: Twilio's telephony
 * default (μ-law 8 kHz) or linear PCM 16 kHz, mono, little-endian.
 */
export interface AudioFormat {
  readonly encoding: 'mulaw' | 'pcm16';
  readonly sampleRate: 8000 | 16000;
}

export const TELEPHONY_FORMAT: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
export const WIDEBAND_FORMAT: AudioFormat = { encoding: 'pcm16', sampleRate: 16000 };
