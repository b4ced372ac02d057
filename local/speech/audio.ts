/**
 * Resampling for the local speech engines (not product code). The codec itself is the shared one in
 * functions/domain/audio.ts; what this adds is windowed-sinc resampling with the cutoff at the lower Nyquist
 * frequency, so 16 kHz → 8 kHz does not alias and 8 kHz → 16 kHz does not image.
 */
import { fromPcm16, toPcm16 } from '../../functions/domain/audio';

export type PcmEncoding = 'mulaw' | 'pcm16';

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
  const pcm = toPcm16(bytes, { encoding, sampleRate: sampleRate as 8000 | 16000 });
  return resample(pcm, sampleRate, 16000);
}

/** PCM16 samples at `rate` → raw bytes in the requested wire format and rate. */
export function fromPcm(samples: Int16Array, rate: number, encoding: PcmEncoding, sampleRate: number): Uint8Array {
  return fromPcm16(resample(samples, rate, sampleRate), { encoding, sampleRate: sampleRate as 8000 | 16000 });
}
