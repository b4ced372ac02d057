/**
 * Deepgram's wire protocol as the stand-in speaks it: the `/v1/listen` query (validated as Deepgram validates it), the
 * API key a request presents, request bodies (raw audio or WAV), error bodies, and the words and model metadata of a
 * result. Shared by the pre-recorded endpoint (server.ts) and the live socket (live-session.ts).
 */
import { createHash } from 'node:crypto';
import type { IncomingMessage } from 'node:http';
import { parseWav } from '../../speech/tts/flite';
import type { WireEncoding } from '../known-utterances';

export const DEEPGRAM_ENCODINGS = ['linear16', 'linear32', 'flac', 'alaw', 'mulaw', 'amr-nb', 'amr-wb', 'opus', 'ogg-opus', 'speex', 'g729'];
export const LOCAL_ENCODINGS: Record<string, WireEncoding> = { linear16: 'pcm16', mulaw: 'mulaw' };
const MODEL_PATTERN = /^(nova-3|nova-2|nova|enhanced|base|whisper)(-[a-z0-9-]+)?$|^(general|meeting|phonecall|voicemail|finance|conversationalai|video|medical)$/;
const LANGUAGE_PATTERN = /^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multi)$/;
const BOOLEAN_PARAMS = ['interim_results', 'vad_events', 'smart_format', 'punctuate', 'diarize', 'numerals', 'profanity_filter', 'multichannel', 'filler_words'];
/** Larger bodies are 413 here (Deepgram accepts 2 GB). */
export const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Live endpointing floor: the stand-in recognizes whole phrases (see the header). */
export const MIN_ENDPOINT_MS = 200;
/** Live: a 10 ms frame louder than this is speech. */
export const SPEECH_DBFS = -45;

export class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errCode: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

export interface ListenParams {
  readonly model: string;
  readonly language: string;
  /** Raw audio's codec and rate; undefined: a container (WAV) is expected. */
  readonly raw?: { readonly encoding: WireEncoding; readonly sampleRate: number };
  readonly punctuate: boolean;
  readonly interimResults: boolean;
  /** Silence (ms) that ends an utterance in live mode; false = off. Deepgram's default is 10. */
  readonly endpointing: number | false;
  readonly utteranceEndMs?: number;
  readonly vadEvents: boolean;
}

export function parseParams(query: URLSearchParams, live: boolean): ListenParams {
  const bad = (msg: string) => new ApiError(400, 'Bad Request', msg);
  for (const name of BOOLEAN_PARAMS) {
    const v = query.get(name);
    if (v !== null && v !== 'true' && v !== 'false') throw bad(`Invalid query string. ${name}: expected a boolean, got '${v}'`);
  }
  const model = query.get('model') ?? 'base';
  const language = query.get('language') ?? 'en';
  if (!MODEL_PATTERN.test(model) || !LANGUAGE_PATTERN.test(language)) {
    throw bad('No such model/language/tier combination found. Use the /v1/models endpoint to find valid combinations.');
  }
  const encoding = query.get('encoding');
  const rate = query.get('sample_rate');
  let raw: ListenParams['raw'];
  if (encoding !== null) {
    if (!DEEPGRAM_ENCODINGS.includes(encoding)) throw bad(`Invalid query string. encoding: unknown variant '${encoding}'`);
    const local = LOCAL_ENCODINGS[encoding];
    if (!local) throw bad(`encoding '${encoding}' is not supported by the local Deepgram (linear16 and mulaw only)`);
    if (rate === null) throw bad('sample_rate is required when encoding is set (raw, headerless audio)');
    const sampleRate = Number(rate);
    if (!Number.isInteger(sampleRate) || sampleRate < 8000 || sampleRate > 48000) throw bad(`Invalid query string. sample_rate: '${rate}'`);
    raw = { encoding: local, sampleRate };
  } else if (rate !== null && !Number.isInteger(Number(rate))) {
    throw bad(`Invalid query string. sample_rate: '${rate}'`);
  }
  const channels = query.get('channels');
  if (channels !== null) {
    const c = Number(channels);
    if (!Number.isInteger(c) || c < 1) throw bad(`Invalid query string. channels: '${channels}'`);
    if (c !== 1) throw bad('the local Deepgram transcribes mono audio only (channels=1)');
  }
  const endpointingParam = query.get('endpointing');
  let endpointing: number | false = 10;
  if (endpointingParam !== null) {
    if (endpointingParam === 'false') endpointing = false;
    else if (/^\d+$/.test(endpointingParam)) endpointing = Number(endpointingParam);
    else throw bad(`Invalid query string. endpointing: '${endpointingParam}'`);
  }
  const ue = query.get('utterance_end_ms');
  let utteranceEndMs: number | undefined;
  if (ue !== null) {
    if (!/^\d+$/.test(ue) || Number(ue) <= 0) throw bad(`Invalid query string. utterance_end_ms: '${ue}'`);
    utteranceEndMs = Number(ue);
  }
  if (live && !raw) throw bad('the local Deepgram streams raw audio only: set encoding and sample_rate');
  return {
    model,
    language,
    raw,
    punctuate: query.get('punctuate') === 'true' || query.get('smart_format') === 'true',
    interimResults: query.get('interim_results') === 'true',
    endpointing,
    utteranceEndMs,
    vadEvents: query.get('vad_events') === 'true',
  };
}

/** `Authorization: Token <key>`, or the browser's `Sec-WebSocket-Protocol: token, <key>`. */
export function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /^token\s+(.+)$/i.exec(auth.trim()) : null;
  if (m) return m[1]!.trim();
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const i = protocols.indexOf('token');
  return i >= 0 ? protocols[i + 1] : undefined;
}

const QUESTION_WORDS = /^(what|where|when|why|who|how|can|could|would|will|do|does|is|are|may)\b/;

/** What punctuate / smart_format do to a transcript, roughly. */
export function punctuated(text: string): string {
  if (!text) return text;
  const t = text.replace(/\bi\b/g, 'I');
  return t[0]!.toUpperCase() + t.slice(1) + (QUESTION_WORDS.test(text) ? '?' : '.');
}

export interface Word {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word?: string;
}

/** Words of the transcript spread over the speech span in proportion to their length. */
export function wordsOf(transcript: string, startS: number, endS: number, confidence: number, punctuate: boolean): Word[] {
  const words = transcript.split(/\s+/).filter(Boolean);
  if (words.length === 0) return [];
  const pwords = punctuate ? punctuated(transcript).split(/\s+/) : words;
  const total = words.reduce((n, w) => n + w.length + 1, 0);
  const span = Math.max(0, endS - startS);
  let t = startS;
  return words.map((w, i) => {
    const d = (span * (w.length + 1)) / total;
    const word: Word = { word: w, start: round(t), end: round(t + d * 0.9), confidence };
    if (punctuate) word.punctuated_word = pwords[i];
    t += d;
    return word;
  });
}

export const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

export function modelInfo(model: string): { uuid: string; name: string; version: string; arch: string } {
  const h = createHash('sha256').update(model).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  const arch = model.startsWith('nova-3') ? 'nova-3' : model.startsWith('nova-2') ? 'nova-2' : model.split('-')[0]!;
  return { uuid, name: `general-${arch}`, version: '2024-12-20.0', arch };
}

/** The body's audio and format: raw as the query says, else a WAV container (PCM16 mono). */
export function decodeBody(body: Buffer, params: ListenParams): { audio: Uint8Array; format: { encoding: WireEncoding; sampleRate: number } } {
  const corrupt = () => new ApiError(400, 'Bad Request', 'Bad Request: failed to process audio: corrupt or unsupported data');
  if (body.length === 0) throw corrupt();
  if (params.raw) {
    if (params.raw.encoding === 'pcm16' && body.length % 2 !== 0) throw corrupt();
    return { audio: body, format: params.raw };
  }
  try {
    const wav = parseWav(body);
    const audio = new Uint8Array(wav.samples.buffer, wav.samples.byteOffset, wav.samples.byteLength);
    return { audio, format: { encoding: 'pcm16', sampleRate: wav.sampleRate } };
  } catch {
    throw corrupt();
  }
}
