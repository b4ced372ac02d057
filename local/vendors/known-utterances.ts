/**
 * Recognizes the benchmark's known utterances without a side channel and without a speech engine: each known line is
 * synthesized once with the same Flite voice and path the caller tools use (test/support `speech()`, tools/call.ts:
 * `synthesize(text, { voice: 'rms', sampleRate })`, then the wire codec), reduced to a cheap fingerprint, and incoming
 * audio is matched against those fingerprints by dynamic time warping. Test and benchmark tooling, never product code.
 *
 * Fingerprint: per 10 ms frame, the log energy relative to the utterance's peak and the "tilt" (log energy of the
 * first difference minus log energy: high for fricatives, low for vowels), after trimming leading and trailing
 * silence. Both are level-invariant, and the references are computed per wire format (rate and codec) from the very
 * samples a caller would send, so a known line in the format it was synthesized for matches at distance ≈ 0, and the
 * match survives what the call pipeline does to audio (silence around it, dropped or zero-filled pauses, framing).
 *
 * Unknown audio (distance above the threshold, or no clear winner): the optional fallback recognizer (the local
 * offline speech server, POST /v1/transcribe) or an empty transcript with confidence 0.
 */
import { toPcm16, fromPcm16 } from '../../functions/domain/audio';
import { DEV_CORPUS } from '../../tools/bench/offline-speech';
import { resample } from '../speech/audio';
import { synthesize, type FliteVoice } from '../speech/tts/flite';

/**
 * What the tests, the CLI examples and the benchmarks say: the speech engines' development corpus
 * (tools/bench/offline-speech.ts), the recombined sentences of the speech tests, and the stack tests' and README's lines.
 */
export const KNOWN_UTTERANCES: readonly string[] = [
  ...new Set([
    ...DEV_CORPUS,
    // test/integration/speech/corpus.ts RECOMBINED
    'book an appointment for friday at nine thirty',
    'can i move my appointment to monday at three pm',
    // test/integration/stack/*.test.ts, README, tools/call.ts examples
    'tuesday at three pm',
  ]),
];

export type WireEncoding = 'mulaw' | 'pcm16';

export interface Fingerprint {
  /** Energy of each 10 ms frame in dB relative to the loudest frame, floored at -FLOOR_DB. */
  readonly energy: Float32Array;
  /** log(energy of the first difference) - log(energy), in dB; a fixed value in quiet frames. */
  readonly tilt: Float32Array;
  /** Where the trimmed speech starts and ends in the input, in seconds. */
  readonly startS: number;
  readonly endS: number;
}

const FLOOR_DB = 35;
/** Tilt is measured in frames within this many dB of the peak (a constant below, faded in over 10 dB). */
const TILT_DB = 25;
/** Frames within this many dB of the peak start/end the speech (trimming). */
const TRIM_DB = 30;
/** Audio whose loudest 10 ms is below this (dBFS) has no speech. */
const MIN_PEAK_DBFS = -50;
const QUIET_TILT = -20;
/** Frames kept before the onset. */
const LEAD_FRAMES = 3;
const FULL_SCALE_DB = 10 * Math.log10(32768 * 32768);

/** The fingerprint of PCM16 samples at `sampleRate`, or undefined when there is no speech in them. */
export function fingerprint(samples: Int16Array, sampleRate: number): Fingerprint | undefined {
  const hop = Math.round(sampleRate / 100);
  // The peak level over any 20 ms window (sliding by one sample, so it does not depend on where the audio starts).
  const win = 2 * hop;
  if (samples.length < win) return undefined;
  let peakEnergy = 0;
  let sum = 0;
  for (let i = 0; i < samples.length; i++) {
    sum += samples[i]! * samples[i]!;
    if (i >= win) sum -= samples[i - win]! * samples[i - win]!;
    if (i >= win - 1 && sum > peakEnergy) peakEnergy = sum;
  }
  const coarsePeak = 10 * Math.log10(peakEnergy / win + 1);
  if (coarsePeak - FULL_SCALE_DB < MIN_PEAK_DBFS) return undefined;
  // Onset to the sample: the first 2.5 ms window above the trim level. Framing starts a fixed lead before it, so the
  // same audio is framed the same way wherever it starts in the input (no sub-frame phase differences).
  const trimEnergy = 10 ** ((coarsePeak - TRIM_DB) / 10);
  const w = Math.max(1, Math.round(sampleRate / 400));
  let run = 0;
  let onset = -1;
  for (let i = 0; i < samples.length; i++) {
    run += samples[i]! * samples[i]!;
    if (i >= w) run -= samples[i - w]! * samples[i - w]!;
    if (i >= w - 1 && run / w > trimEnergy) {
      onset = i - w + 1;
      break;
    }
  }
  if (onset < 0) return undefined;
  // May be negative: samples before the input's start count as silence.
  const start = onset - LEAD_FRAMES * hop;
  const hops = Math.floor((samples.length - start) / hop);
  if (hops < 2) return undefined;
  const e10 = new Float64Array(hops);
  const d10 = new Float64Array(hops);
  let prev = 0;
  for (let h = 0; h < hops; h++) {
    let e = 0;
    let d = 0;
    const base = start + h * hop;
    for (let i = 0; i < hop; i++) {
      const x = base + i >= 0 ? samples[base + i]! : 0;
      e += x * x;
      const dx = x - prev;
      d += dx * dx;
      prev = x;
    }
    e10[h] = e;
    d10[h] = d;
  }
  // 10 ms hops, each frame measured over 20 ms (its hop and the next).
  const frames = hops - 1;
  const logE = new Float32Array(frames);
  const logD = new Float32Array(frames);
  for (let f = 0; f < frames; f++) {
    logE[f] = 10 * Math.log10((e10[f]! + e10[f + 1]!) / (2 * hop) + 1);
    logD[f] = 10 * Math.log10((d10[f]! + d10[f + 1]!) / (2 * hop) + 1);
  }
  // Levels are relative to the peak of these frames (not of the coarse pass, whose windows depend on where the audio
  // starts in the input).
  let peak = -Infinity;
  for (let f = 0; f < frames; f++) if (logE[f]! > peak) peak = logE[f]!;
  let last = frames - 1;
  while (last > 0 && logE[last]! < peak - TRIM_DB) last--;
  const n = last + 1;
  const energy = new Float32Array(n);
  const tilt = new Float32Array(n);
  for (let i = 0; i < n; i++) {
    const e = logE[i]!;
    energy[i] = Math.max(e - peak, -FLOOR_DB);
    // Tilt fades to a constant in quiet frames (no step where a frame crosses a threshold).
    const wt = Math.min(1, Math.max(0, (e - (peak - TILT_DB)) / 10));
    tilt[i] = wt * (logD[i]! - e) + (1 - wt) * QUIET_TILT;
  }
  return { energy, tilt, startS: onset / sampleRate, endS: (start + (last + 2) * hop) / sampleRate };
}

/** Cost of aligning frame i of a with frame j of b. */
const ENERGY_SCALE = 10;
const TILT_SCALE = 6;

/**
 * DTW with a Sakoe-Chiba band; returns the path cost per aligned step. With `openEnd`, `a` may align with any prefix
 * of `b` (interim recognition: what was heard so far against the start of a known line); `end` is then the fraction
 * of `b` matched.
 */
export function dtw(a: Fingerprint, b: Fingerprint, openEnd = false): { cost: number; end: number } {
  const n = a.energy.length;
  const m = b.energy.length;
  if (n === 0 || m === 0) return { cost: Infinity, end: 0 };
  const band = Math.max(10, Math.ceil(0.1 * Math.max(n, m)));
  const slope = openEnd ? 1 : m / n;
  // Two rolling rows of accumulated cost and path length (full matrix not needed).
  let prevCost = new Float64Array(m + 1).fill(Infinity);
  let prevLen = new Float64Array(m + 1);
  let curCost = new Float64Array(m + 1);
  let curLen = new Float64Array(m + 1);
  prevCost[0] = 0;
  for (let i = 1; i <= n; i++) {
    curCost.fill(Infinity);
    const centre = i * slope;
    const lo = Math.max(1, Math.floor(centre - band));
    const hi = Math.min(m, Math.ceil(centre + band));
    const ae = a.energy[i - 1]!;
    const at = a.tilt[i - 1]!;
    for (let j = lo; j <= hi; j++) {
      const c = Math.abs(ae - b.energy[j - 1]!) / ENERGY_SCALE + Math.abs(at - b.tilt[j - 1]!) / TILT_SCALE;
      // diagonal, vertical, horizontal
      let best = prevCost[j - 1]!;
      let len = prevLen[j - 1]!;
      if (prevCost[j]! < best) {
        best = prevCost[j]!;
        len = prevLen[j]!;
      }
      if (curCost[j - 1]! < best) {
        best = curCost[j - 1]!;
        len = curLen[j - 1]!;
      }
      curCost[j] = best + c;
      curLen[j] = len + 1;
    }
    [prevCost, curCost] = [curCost, prevCost];
    [prevLen, curLen] = [curLen, prevLen];
  }
  if (!openEnd) return { cost: prevCost[m]! / Math.max(1, prevLen[m]!), end: 1 };
  let best = Infinity;
  let end = 0;
  for (let j = 1; j <= m; j++) {
    const c = prevCost[j]! / Math.max(1, prevLen[j]!);
    if (c < best) {
      best = c;
      end = j;
    }
  }
  return { cost: best, end: end / m };
}

export interface Recognition {
  readonly transcript: string;
  readonly confidence: number;
  /** Where the speech is in the audio, in seconds (for word timings). */
  readonly startS: number;
  readonly endS: number;
  /** How it was recognized. */
  readonly source: 'known' | 'fallback' | 'none';
}

export interface UtteranceRecognizer {
  /** One whole utterance (pre-recorded request, or a live segment at its end). */
  recognize(audio: Uint8Array, encoding: WireEncoding, sampleRate: number): Promise<Recognition>;
  /** A cheap guess for an interim result from the audio so far: a prefix of the line it is becoming. */
  partial(audio: Uint8Array, encoding: WireEncoding, sampleRate: number): Recognition | undefined;
}

export interface KnownUtteranceOptions {
  readonly utterances?: readonly string[];
  readonly voices?: readonly FliteVoice[];
  /** The local offline speech server (OFFLINE_SPEECH_URL) for audio that matches no known line. */
  readonly fallbackRecognizerUrl?: string;
  /** Longest wait for the fallback recognizer. */
  readonly fallbackTimeoutMs?: number;
  /** A match needs a DTW cost per step below this… */
  readonly maxCost?: number;
  /** …and the runner-up's cost at least this many times the winner's. */
  readonly minMargin?: number;
}

interface Reference {
  readonly text: string;
  readonly pcm16k: Int16Array;
}

/** Known lines, synthesized once per process and voice list (each takes ~100 ms of synthesis). */
const synthesized = new Map<string, Promise<Reference[]>>();

function synthesizeAll(utterances: readonly string[], voices: readonly FliteVoice[]): Promise<Reference[]> {
  const key = `${voices.join(',')}|${utterances.join('|')}`;
  let refs = synthesized.get(key);
  if (!refs) {
    refs = (async () => {
      const out: Reference[] = [];
      for (const voice of voices) {
        for (const text of utterances) out.push({ text, pcm16k: await synthesize(text, { voice, sampleRate: 16000 }) });
      }
      return out;
    })();
    refs.catch(() => synthesized.delete(key));
    synthesized.set(key, refs);
  }
  return refs;
}

/** The recognizer of the local Deepgram: known lines by fingerprint, anything else by the fallback (if any). */
export class KnownUtteranceRecognizer implements UtteranceRecognizer {
  /** Fingerprints per wire format (`mulaw/8000`, …), computed on first use of that format. */
  private readonly byFormat = new Map<string, Array<{ text: string; fp: Fingerprint }>>();
  private readonly maxCost: number;
  private readonly minMargin: number;

  private constructor(
    private readonly references: Reference[],
    private readonly options: KnownUtteranceOptions,
  ) {
    this.maxCost = options.maxCost ?? 0.24;
    this.minMargin = options.minMargin ?? 1.3;
  }

  static async create(options: KnownUtteranceOptions = {}): Promise<KnownUtteranceRecognizer> {
    const refs = await synthesizeAll(options.utterances ?? KNOWN_UTTERANCES, options.voices ?? ['rms']);
    const recognizer = new KnownUtteranceRecognizer(refs, options);
    // The two wire formats of the call pipeline, ready before the first request.
    recognizer.references_('mulaw', 8000);
    recognizer.references_('pcm16', 16000);
    return recognizer;
  }

  get utterances(): readonly string[] {
    return [...new Set(this.references.map((r) => r.text))];
  }

  /** The references as a caller would send them in this format: resampled like flite's output, through the codec. */
  private references_(encoding: WireEncoding, sampleRate: number): Array<{ text: string; fp: Fingerprint }> {
    const key = `${encoding}/${sampleRate}`;
    let list = this.byFormat.get(key);
    if (!list) {
      const format = { encoding, sampleRate: sampleRate as 8000 | 16000 };
      list = [];
      for (const r of this.references) {
        const pcm = resample(r.pcm16k, 16000, sampleRate);
        const wire = toPcm16(fromPcm16(pcm, format), format);
        const fp = fingerprint(wire, sampleRate);
        if (fp) list.push({ text: r.text, fp });
      }
      this.byFormat.set(key, list);
    }
    return list;
  }

  /** The best known line for the audio, if it is a clear match. */
  match(samples: Int16Array, encoding: WireEncoding, sampleRate: number): { text: string; cost: number; fp: Fingerprint } | undefined {
    const fp = fingerprint(samples, sampleRate);
    if (!fp) return undefined;
    const n = fp.energy.length;
    let best: { text: string; cost: number } | undefined;
    let second = Infinity;
    for (const ref of this.references_(encoding, sampleRate)) {
      const m = ref.fp.energy.length;
      if (m > 1.35 * n || n > 1.35 * m) continue;
      const { cost } = dtw(fp, ref.fp);
      if (!best || cost < best.cost) {
        if (best && best.text !== ref.text) second = Math.min(second, best.cost);
        best = { text: ref.text, cost };
      } else if (ref.text !== best.text) second = Math.min(second, cost);
    }
    if (!best || best.cost > this.maxCost || second < this.minMargin * best.cost) return undefined;
    return { ...best, fp };
  }

  async recognize(audio: Uint8Array, encoding: WireEncoding, sampleRate: number): Promise<Recognition> {
    const samples = decodeWire(audio, encoding);
    const found = this.match(samples, encoding, sampleRate);
    if (found) {
      return { transcript: found.text, confidence: confidenceOf(found.cost, this.maxCost), startS: found.fp.startS, endS: found.fp.endS, source: 'known' };
    }
    const fp = fingerprint(samples, sampleRate);
    const span = { startS: fp?.startS ?? 0, endS: fp?.endS ?? samples.length / sampleRate };
    if (!fp || !this.options.fallbackRecognizerUrl) return { transcript: '', confidence: 0, ...span, source: 'none' };
    const fallback = await this.fallback(audio, encoding, sampleRate);
    return fallback ? { ...fallback, ...span, source: 'fallback' } : { transcript: '', confidence: 0, ...span, source: 'none' };
  }

  partial(audio: Uint8Array, encoding: WireEncoding, sampleRate: number): Recognition | undefined {
    const fp = fingerprint(decodeWire(audio, encoding), sampleRate);
    if (!fp || fp.energy.length < 30) return undefined;
    let best: { text: string; cost: number; end: number } | undefined;
    for (const ref of this.references_(encoding, sampleRate)) {
      if (fp.energy.length > 1.6 * ref.fp.energy.length) continue;
      const r = dtw(fp, ref.fp, true);
      if (!best || r.cost < best.cost) best = { text: ref.text, ...r };
    }
    if (!best || best.cost > this.maxCost) return undefined;
    const words = best.text.split(' ');
    const count = Math.max(1, Math.min(words.length, Math.round(best.end * words.length)));
    return {
      transcript: words.slice(0, count).join(' '),
      confidence: confidenceOf(best.cost, this.maxCost) * 0.9,
      startS: fp.startS,
      endS: fp.endS,
      source: 'known',
    };
  }

  private async fallback(audio: Uint8Array, encoding: WireEncoding, sampleRate: number): Promise<{ transcript: string; confidence: number } | undefined> {
    const url = new URL('/v1/transcribe', this.options.fallbackRecognizerUrl);
    url.searchParams.set('encoding', encoding);
    url.searchParams.set('sample_rate', String(sampleRate));
    try {
      const res = await fetch(url, {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: audio as Uint8Array<ArrayBuffer>,
        signal: AbortSignal.timeout(this.options.fallbackTimeoutMs ?? 10_000),
      });
      if (!res.ok) return undefined;
      const body = (await res.json()) as { text?: unknown; confidence?: unknown };
      if (typeof body.text !== 'string') return undefined;
      return { transcript: body.text, confidence: typeof body.confidence === 'number' ? body.confidence : 0.5 };
    } catch {
      return undefined;
    }
  }
}

/** μ-law byte → sample, built once from the shared codec (a table lookup instead of a function call per sample). */
const MULAW_TABLE: Int16Array = toPcm16(Uint8Array.from({ length: 256 }, (_, i) => i), { encoding: 'mulaw', sampleRate: 8000 });

/** Wire bytes → PCM16 samples (pcm16 is little-endian; a trailing odd byte is ignored). */
export function decodeWire(audio: Uint8Array, encoding: WireEncoding): Int16Array {
  if (encoding === 'mulaw') {
    const out = new Int16Array(audio.length);
    for (let i = 0; i < audio.length; i++) out[i] = MULAW_TABLE[audio[i]!]!;
    return out;
  }
  const n = audio.length >> 1;
  if ((audio.byteOffset & 1) === 0) return new Int16Array(audio.buffer, audio.byteOffset, n).slice();
  const out = new Int16Array(n);
  for (let i = 0; i < n; i++) out[i] = (audio[2 * i]! | (audio[2 * i + 1]! << 8)) << 16 >> 16;
  return out;
}

/** 0.99 for an exact match, falling towards 0.75 at the threshold. */
const confidenceOf = (cost: number, maxCost: number): number => Math.round((0.99 - 0.24 * Math.min(1, cost / maxCost)) * 1000) / 1000;
