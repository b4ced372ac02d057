/**
 * Small PCM helpers for the local speech engines (not product code: the shared codec lives in
 * functions/domain/audio.ts). μ-law via alawmulaw; resampling by windowed-sinc interpolation with the cutoff at the
 * lower Nyquist frequency, so 16 kHz → 8 kHz does not alias and 8 kHz → 16 kHz does not image.
 */
import { mulaw } from 'alawmulaw';

export type PcmEncoding = 'mulaw' | 'pcm16';

/** Raw little-endian bytes → samples (copies, so the input's alignment does not matter). */
export function bytesToPcm16(bytes: Uint8Array): Int16Array {
  const n = bytes.length >> 1;
  const out = new Int16Array(n);
  const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
  for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true);
  return out;
}

export function pcm16ToBytes(samples: Int16Array): Uint8Array {
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true);
  return out;
}

export function decodeMulaw(bytes: Uint8Array): Int16Array {
  return mulaw.decode(bytes);
}

export function encodeMulaw(samples: Int16Array): Uint8Array {
  return mulaw.encode(samples);
}

const HALF_TAPS = 16;

/** Resamples PCM16 from `from` Hz to `to` Hz (any ratio). */
export function resample(input: Int16Array, from: number, to: number): Int16Array {
  if (from === to || input.length === 0) return input.slice();
  const ratio = to / from;
  const outLen = Math.round(input.length * ratio);
  const out = new Int16Array(outLen);
  const cutoff = Math.min(1, ratio); // relative to the input Nyquist
  const step = 1 / ratio;
  for (let i = 0; i < outLen; i++) {
    const center = i * step;
    const left = Math.floor(center) - Math.ceil(HALF_TAPS / cutoff) + 1;
    const right = Math.floor(center) + Math.ceil(HALF_TAPS / cutoff);
    let acc = 0;
    let norm = 0;
    for (let j = left; j <= right; j++) {
      const x = (j - center) * cutoff;
      const w = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
      const t = (j - center) / (HALF_TAPS / cutoff + 1);
      const win = 0.5 + 0.5 * Math.cos(Math.PI * Math.max(-1, Math.min(1, t))); // Hann
      const k = w * win;
      norm += k;
      if (j >= 0 && j < input.length) acc += input[j]! * k;
    }
    const v = Math.round(acc / (norm || 1));
    out[i] = v > 32767 ? 32767 : v < -32768 ? -32768 : v;
  }
  return out;
}

/** Raw audio in a wire format → 16 kHz PCM16 samples (what the recognizer wants). */
export function toPcm16k(bytes: Uint8Array, encoding: PcmEncoding, sampleRate: number): Int16Array {
  const pcm = encoding === 'mulaw' ? decodeMulaw(bytes) : bytesToPcm16(bytes);
  return resample(pcm, sampleRate, 16000);
}

/** PCM16 samples at `rate` → raw bytes in the requested wire format and rate. */
export function fromPcm(samples: Int16Array, rate: number, encoding: PcmEncoding, sampleRate: number): Uint8Array {
  const pcm = resample(samples, rate, sampleRate);
  return encoding === 'mulaw' ? encodeMulaw(pcm) : pcm16ToBytes(pcm);
}

/** Root-mean-square level in dBFS (−Infinity for digital silence). */
export function rmsDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let s = 0;
  for (let i = 0; i < samples.length; i++) s += samples[i]! * samples[i]!;
  return 10 * Math.log10(s / samples.length / (32768 * 32768));
}
