/**
 * Real human speech, with the transcripts its packages ship: the recordings the turn-taking tests stream as a caller.
 * Installed by `scripts/setup.sh` from Debian (nothing of them is committed here):
 *
 * - `pocketsphinx-testdata` (BSD-2, Carnegie Mellon University / Alpha Cephei): LibriVox readings of *Sense and
 *   Sensibility* (`librivox/transcription`), short phrases and a digit string (`cards/cards.transcription`), and
 *   "go forward ten meters" (`goforward.raw`, its transcript the grammar `goforward.gram` names). 16 kHz.
 * - `asterisk-core-sounds-en-wav` + `asterisk-core-sounds-en` (CC-BY-SA-3.0, recorded by Allison Smith): telephone
 *   prompts at 8 kHz, their text in `core-sounds-en.txt.gz`; several are one sentence with a 300–400 ms pause inside.
 *
 * One recording is edited, and says so: `privacy-prompt` with its 320 ms pause stretched to 600 ms of digital
 * silence (no recording in these packages has a clean mid-sentence pause longer than 400 ms).
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { gunzipSync } from 'node:zlib';
import { fromPcm16 } from '../../functions/domain/audio';
import { resample } from '../../local/speech/audio';

const POCKETSPHINX = '/usr/share/pocketsphinx/test/data';
const ASTERISK = '/usr/share/asterisk/sounds/en_US_f_Allison';
const ASTERISK_TEXT = '/usr/share/doc/asterisk-core-sounds-en/core-sounds-en.txt.gz';

export type RecordingKind = 'read sentence' | 'short phrase' | 'digits' | 'pause inside';

export interface Recording {
  readonly id: string;
  readonly kind: RecordingKind;
  /** The Debian package and the file inside it. */
  readonly source: string;
  /** The words, as the package's transcript gives them (lower case, punctuation dropped). */
  readonly transcript: string;
  /** Set when the audio is not as the package ships it: what was changed. */
  readonly edited?: string;
  /** μ-law, 8 kHz: a Twilio caller's audio. */
  readonly audio: Uint8Array;
  readonly durationMs: number;
  /** From its first speech frame to its last (20 ms frames over −45 dBFS), ms: what a turn that heard all of it spans. */
  readonly speechSpanMs: number;
  /** The longest silence between two stretches of speech (20 ms frames under −45 dBFS), ms. */
  readonly longestPauseMs: number;
}

/** What the tests stream: read sentences, short phrases, a digit string, and sentences with a pause inside. */
const SET: ReadonlyArray<{ id: string; kind: RecordingKind; file: string; stretchPauseToMs?: number }> = [
  { id: 'librivox-0880', kind: 'read sentence', file: `${POCKETSPHINX}/librivox/sense_and_sensibility_01_austen_64kb-0880.wav` },
  { id: 'librivox-0890', kind: 'read sentence', file: `${POCKETSPHINX}/librivox/sense_and_sensibility_01_austen_64kb-0890.wav` },
  { id: 'librivox-0930', kind: 'read sentence', file: `${POCKETSPHINX}/librivox/sense_and_sensibility_01_austen_64kb-0930.wav` },
  { id: 'goforward', kind: 'short phrase', file: `${POCKETSPHINX}/goforward.raw` },
  { id: 'cards-001', kind: 'short phrase', file: `${POCKETSPHINX}/cards/001.wav` },
  { id: 'cards-004', kind: 'digits', file: `${POCKETSPHINX}/cards/004.wav` },
  { id: 'cards-005', kind: 'short phrase', file: `${POCKETSPHINX}/cards/005.wav` },
  { id: 'hello', kind: 'short phrase', file: `${ASTERISK}/hello.wav` },
  { id: 'auth-thankyou', kind: 'short phrase', file: `${ASTERISK}/auth-thankyou.wav` },
  { id: 'vm-next', kind: 'pause inside', file: `${ASTERISK}/vm-next.wav` },
  { id: 'privacy-prompt', kind: 'pause inside', file: `${ASTERISK}/privacy-prompt.wav` },
  { id: 'dictate/both_help', kind: 'pause inside', file: `${ASTERISK}/dictate/both_help.wav` },
  { id: 'demo-enterkeywords', kind: 'pause inside', file: `${ASTERISK}/demo-enterkeywords.wav` },
  { id: 'vm-opts', kind: 'pause inside', file: `${ASTERISK}/vm-opts.wav` },
  { id: 'privacy-prompt-600', kind: 'pause inside', file: `${ASTERISK}/privacy-prompt.wav`, stretchPauseToMs: 600 },
  { id: 'goodbye', kind: 'short phrase', file: `${ASTERISK}/goodbye.wav` },
];

/** Whether the packages are installed (scripts/setup.sh installs them). */
export function recordingsInstalled(): boolean {
  return existsSync(`${POCKETSPHINX}/librivox/transcription`) && existsSync(ASTERISK_TEXT) && existsSync(`${ASTERISK}/vm-opts.wav`);
}

export function loadRecordings(): Recording[] {
  if (!recordingsInstalled()) {
    throw new Error('the real-speech recordings are not installed: run `npm run setup` (Debian packages pocketsphinx-testdata, asterisk-core-sounds-en-wav)');
  }
  const transcripts = readTranscripts();
  return SET.map(({ id, kind, file, stretchPauseToMs }) => {
    const base = id.replace(/-600$/, '');
    const transcript = transcripts.get(base);
    if (!transcript) throw new Error(`no transcript for ${id} in its package`);
    let { samples, rate } = readPcm(file);
    let edited: string | undefined;
    if (stretchPauseToMs !== undefined) {
      const pause = longestPause(samples, rate);
      samples = withPause(samples, rate, pause, stretchPauseToMs);
      edited = `the ${pause.ms} ms pause at ${(pause.at / rate).toFixed(2)} s stretched to ${stretchPauseToMs} ms of silence`;
    }
    const telephone = rate === 8000 ? samples : resample(samples, rate, 8000);
    const audio = fromPcm16(telephone, { encoding: 'mulaw', sampleRate: 8000 });
    return {
      id,
      kind,
      source: `${file.startsWith(ASTERISK) ? 'asterisk-core-sounds-en-wav' : 'pocketsphinx-testdata'}:${file}`,
      transcript,
      ...(edited ? { edited } : {}),
      audio,
      durationMs: Math.round((telephone.length / 8000) * 1000),
      speechSpanMs: speechSpan(telephone, 8000),
      longestPauseMs: longestPause(telephone, 8000).ms,
    };
  });
}

/** The transcripts the packages ship, by recording id. */
function readTranscripts(): Map<string, string> {
  const out = new Map<string, string>();
  const words = (text: string) => text.toLowerCase().replace(/[*#]/g, (c) => (c === '*' ? ' star ' : ' pound ')).replace(/[^a-z0-9' ]+/g, ' ').replace(/\s+/g, ' ').trim();
  for (const line of readFileSync(`${POCKETSPHINX}/librivox/transcription`, 'utf8').split('\n')) {
    const m = /<s>(.*)<\/s>\s*\(sense_and_sensibility_01_austen_64kb-(\d+)\)/.exec(line);
    if (m) out.set(`librivox-${m[2]}`, words(m[1]!));
  }
  for (const line of readFileSync(`${POCKETSPHINX}/cards/cards.transcription`, 'utf8').split('\n')) {
    const m = /<s>(.*)<\/s>\s*\((\d+)\)/.exec(line);
    if (m) out.set(`cards-${m[2]}`, words(m[1]!));
  }
  const grammar = /public <move> = ([a-z ]+);/.exec(readFileSync(`${POCKETSPHINX}/goforward.gram`, 'utf8'));
  if (grammar) out.set('goforward', words(grammar[1]!));
  for (const line of gunzipSync(readFileSync(ASTERISK_TEXT)).toString('utf8').split('\n')) {
    const m = /^([a-z0-9_/-]+): (.+)$/.exec(line);
    if (m) out.set(m[1]!, words(m[2]!));
  }
  return out;
}

/** 16-bit mono PCM from a RIFF/WAVE file (PCM format only) or a headerless `.raw` (16 kHz, little-endian). */
function readPcm(file: string): { samples: Int16Array; rate: number } {
  const bytes = readFileSync(file);
  if (path.extname(file) === '.raw') return { samples: int16(bytes), rate: 16_000 };
  if (bytes.toString('ascii', 0, 4) !== 'RIFF' || bytes.toString('ascii', 8, 12) !== 'WAVE') throw new Error(`${file}: not a WAVE file`);
  let rate = 0;
  for (let at = 12; at + 8 <= bytes.length; ) {
    const id = bytes.toString('ascii', at, at + 4);
    const size = bytes.readUInt32LE(at + 4);
    const body = bytes.subarray(at + 8, at + 8 + size);
    if (id === 'fmt ') {
      if (body.readUInt16LE(0) !== 1 || body.readUInt16LE(2) !== 1 || body.readUInt16LE(14) !== 16) throw new Error(`${file}: not 16-bit mono PCM`);
      rate = body.readUInt32LE(4);
    } else if (id === 'data') {
      if (!rate) throw new Error(`${file}: data before fmt`);
      return { samples: int16(body), rate };
    }
    at += 8 + size + (size % 2);
  }
  throw new Error(`${file}: no data chunk`);
}

function int16(bytes: Buffer): Int16Array {
  const out = new Int16Array(Math.floor(bytes.length / 2));
  for (let i = 0; i < out.length; i++) out[i] = bytes.readInt16LE(2 * i);
  return out;
}

const FRAME_MS = 20;
const SPEECH_DBFS = -45;

/** Whether each 20 ms frame is speech (louder than −45 dBFS: the agent's own default threshold). */
function speechFrames(samples: Int16Array, rate: number): boolean[] {
  const n = (rate * FRAME_MS) / 1000;
  const out: boolean[] = [];
  for (let i = 0; i + n <= samples.length; i += n) {
    let sum = 0;
    for (let j = i; j < i + n; j++) sum += samples[j]! * samples[j]!;
    out.push(10 * Math.log10(sum / n / 32768 ** 2 + 1e-12) > SPEECH_DBFS);
  }
  return out;
}

/** The longest run of silent frames between speech frames: its length (ms) and where it starts (sample index). */
function longestPause(samples: Int16Array, rate: number): { ms: number; at: number } {
  const frames = speechFrames(samples, rate);
  const first = frames.indexOf(true);
  const last = frames.lastIndexOf(true);
  let best = { ms: 0, at: 0 };
  for (let i = first, run = 0; i >= 0 && i <= last; i++) {
    run = frames[i] ? 0 : run + 1;
    if (run * FRAME_MS > best.ms) best = { ms: run * FRAME_MS, at: ((i - run + 1) * rate * FRAME_MS) / 1000 };
  }
  return best;
}

function speechSpan(samples: Int16Array, rate: number): number {
  const frames = speechFrames(samples, rate);
  return (frames.lastIndexOf(true) - frames.indexOf(true) + 1) * FRAME_MS;
}

/** The recording with digital silence inserted in the middle of `pause`, so it lasts `toMs`. */
function withPause(samples: Int16Array, rate: number, pause: { ms: number; at: number }, toMs: number): Int16Array {
  const middle = pause.at + Math.round((pause.ms * rate) / 2000);
  const extra = Math.max(0, Math.round(((toMs - pause.ms) * rate) / 1000));
  const out = new Int16Array(samples.length + extra);
  out.set(samples.subarray(0, middle), 0);
  out.set(samples.subarray(middle), middle + extra);
  return out;
}
