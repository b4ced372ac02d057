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
const kernelCache = new Map<string, { taps: number; offset: number; phases: Float64Array[] }>();

const gcd = (a: number, b: number): number => (b === 0 ? a : gcd(b, a % b));

/**
 * Polyphase kernels for from → to: output i sits at input position i·M/L (L = to/g, M = from/g); its phase is
 * (i·M) mod L. Each phase kernel is a Hann-windowed sinc with the cutoff at the lower Nyquist, normalized to unit DC
 * gain.
 */
function kernels(from: number, to: number): { L: number; M: number; taps: number; offset: number; phases: Float64Array[] } {
  const g = gcd(from, to);
  const L = to / g;
  const M = from / g;
  const key = `${L}/${M}`;
  let k = kernelCache.get(key);
  if (!k) {
    const cutoff = Math.min(1, L / M);
    const half = Math.ceil(HALF_TAPS / cutoff);
    const taps = 2 * half;
    const phases: Float64Array[] = [];
    for (let p = 0; p < L; p++) {
      const frac = p / L; // output position = base + frac
      const kern = new Float64Array(taps);
      let norm = 0;
      for (let t = 0; t < taps; t++) {
        const d = t - half + 1 - frac; // input index (base - half + 1 + t) minus output position
        const x = d * cutoff;
        const sinc = x === 0 ? 1 : Math.sin(Math.PI * x) / (Math.PI * x);
        const w = Math.abs(d) >= half + 1 ? 0 : 0.5 + 0.5 * Math.cos((Math.PI * d) / (half + 1));
        kern[t] = sinc * w;
        norm += kern[t]!;
      }
      for (let t = 0; t < taps; t++) kern[t]! /= norm;
      phases.push(kern);
    }
    k = { taps, offset: half - 1, phases };
    kernelCache.set(key, k);
  }
  return { L, M, ...k };
}

/** Resamples PCM16 from `from` Hz to `to` Hz (integer rates, any ratio; polyphase windowed sinc). */
export function resample(input: Int16Array, from: number, to: number): Int16Array {
  if (from === to || input.length === 0) return input.slice();
  const { L, M, taps, offset, phases } = kernels(from, to);
  const outLen = Math.round((input.length * L) / M);
  const out = new Int16Array(outLen);
  const n = input.length;
  for (let i = 0; i < outLen; i++) {
    const pos = i * M;
    const base = Math.floor(pos / L);
    const kern = phases[pos - base * L]!;
    const start = base - offset;
    let acc = 0;
    if (start >= 0 && start + taps <= n) {
      for (let t = 0; t < taps; t++) acc += input[start + t]! * kern[t]!;
    } else {
      for (let t = 0; t < taps; t++) {
        const j = start + t;
        if (j >= 0 && j < n) acc += input[j]! * kern[t]!;
      }
    }
    const v = Math.round(acc);
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
