/** Audio codecs and measurements for the two wire formats. Pure functions, no I/O. */
import { mulaw } from 'alawmulaw';
import type { AudioFormat } from '../contracts/audio-format';

export const FRAME_MS = 20;

export function bytesPerSample(format: AudioFormat): number {
  return format.encoding === 'mulaw' ? 1 : 2;
}

export function durationMs(byteLength: number, format: AudioFormat): number {
  return (byteLength / bytesPerSample(format) / format.sampleRate) * 1000;
}

export function bytesForMs(ms: number, format: AudioFormat): number {
  return Math.round((ms / 1000) * format.sampleRate) * bytesPerSample(format);
}

/** Decodes wire audio to linear 16-bit samples at the format's own rate. */
export function toPcm16(audio: Uint8Array, format: AudioFormat): Int16Array {
  if (format.encoding === 'mulaw') return mulaw.decode(audio);
  if (audio.byteLength % 2 !== 0) throw new RangeError('pcm16 audio must have an even number of bytes');
  const samples = new Int16Array(audio.byteLength / 2);
  const view = new DataView(audio.buffer, audio.byteOffset, audio.byteLength);
  for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(i * 2, true);
  return samples;
}

/** Encodes linear 16-bit samples (already at the format's rate) to wire audio. */
export function fromPcm16(samples: Int16Array, format: AudioFormat): Uint8Array {
  if (format.encoding === 'mulaw') return mulaw.encode(samples);
  const out = new Uint8Array(samples.length * 2);
  const view = new DataView(out.buffer);
  for (let i = 0; i < samples.length; i++) view.setInt16(i * 2, samples[i]!, true);
  return out;
}

/** Linear-interpolation resampler; enough for speech between 8 and 16 kHz (downsampling averages to limit aliasing). */
export function resample(samples: Int16Array, fromRate: number, toRate: number): Int16Array {
  if (fromRate === toRate) return samples;
  if (fromRate === 2 * toRate) {
    const out = new Int16Array(Math.floor(samples.length / 2));
    for (let i = 0; i < out.length; i++) out[i] = (samples[2 * i]! + samples[2 * i + 1]!) >> 1;
    return out;
  }
  const ratio = fromRate / toRate;
  const out = new Int16Array(Math.floor(samples.length / ratio));
  for (let i = 0; i < out.length; i++) {
    const pos = i * ratio;
    const j = Math.floor(pos);
    const frac = pos - j;
    const a = samples[j]!;
    const b = samples[Math.min(j + 1, samples.length - 1)]!;
    out[i] = Math.round(a + (b - a) * frac);
  }
  return out;
}

/** Converts wire audio from one format to another. */
export function transcode(audio: Uint8Array, from: AudioFormat, to: AudioFormat): Uint8Array {
  if (from.encoding === to.encoding && from.sampleRate === to.sampleRate) return audio;
  return fromPcm16(resample(toPcm16(audio, from), from.sampleRate, to.sampleRate), to);
}

/** Root-mean-square level in dBFS (0 = full scale; digital silence = -Infinity). */
export function levelDbfs(samples: Int16Array): number {
  if (samples.length === 0) return -Infinity;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
  const rms = Math.sqrt(sum / samples.length);
  return rms === 0 ? -Infinity : 20 * Math.log10(rms / 32768);
}

/** The byte that means silence in each encoding (μ-law 0xFF is zero amplitude). */
export function silence(ms: number, format: AudioFormat): Uint8Array {
  const out = new Uint8Array(bytesForMs(ms, format));
  if (format.encoding === 'mulaw') out.fill(0xff);
  return out;
}

/**
 * Re-aligns a byte stream of `format` to whole samples: HTTP chunk boundaries may split a PCM16 sample. `push`
 * returns the whole samples so far (maybe empty); `pending` tells whether a stream ended mid-sample.
 */
export function sampleAligner(format: { readonly encoding: 'mulaw' | 'pcm16' }) {
  let carry: number | undefined;
  return {
    push(bytes: Uint8Array): Uint8Array {
      if (format.encoding !== 'pcm16') return bytes;
      if (carry !== undefined) {
        const joined = new Uint8Array(bytes.byteLength + 1);
        joined[0] = carry;
        joined.set(bytes, 1);
        bytes = joined;
        carry = undefined;
      }
      if (bytes.byteLength % 2 === 1) {
        carry = bytes[bytes.byteLength - 1];
        bytes = bytes.subarray(0, bytes.byteLength - 1);
      }
      return bytes;
    },
    get pending(): boolean {
      return carry !== undefined;
    },
  };
}

/**
 * A chunk is speech when any 20 ms window of it is: clients may send chunks longer than Twilio's 20 ms, and a
 * chunk that is mostly silence around a quiet word ending must not be dropped.
 */
export function isSpeech(samples: Int16Array, config: { readonly speechThresholdDbfs: number }, sampleRate = 8000): boolean {
  const window = Math.round(sampleRate / 50);
  if (samples.length <= window * 1.5) return levelDbfs(samples) > config.speechThresholdDbfs;
  for (let start = 0; start < samples.length; start += window) {
    if (levelDbfs(samples.subarray(start, Math.min(start + window, samples.length))) > config.speechThresholdDbfs) return true;
  }
  return false;
}
