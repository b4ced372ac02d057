/**
 * A local ElevenLabs text-to-speech API: test and benchmark tooling, never product code. Speaks the HTTP protocol
 * the SDK uses, so the product adapter runs against it unchanged (SDK `baseUrl` = this server's URL):
 *
 *   POST /v1/text-to-speech/{voice_id}/stream?output_format=…&optimize_streaming_latency=…   audio as generated
 *   POST /v1/text-to-speech/{voice_id}?output_format=…                                       the whole clip at once
 *        header xi-api-key; JSON body { text, model_id?, voice_settings?, previous_text?, next_text?, … }
 *
 * - Auth: a missing or wrong `xi-api-key` → 401 `{"detail": {"status": "needs_authorization" | "invalid_api_key",
 *   "message"}}`, the API's error envelope.
 * - Validation as FastAPI (which the API runs on) reports it: 422 `{"detail": [{type, loc, msg, input}]}` for a body
 *   that is not JSON, a missing or non-string `text`, a wrongly typed optional field, an `output_format` outside the
 *   API's list or an `optimize_streaming_latency` outside 0–4. A voice id outside `voices` (when given) → 404
 *   `voice_not_found`. Unknown path → 404 `{"detail": "Not Found"}`, other method → 405.
 * - Deviations (this server is not a synthesizer of every format): only `ulaw_8000` (μ-law bytes) and `pcm_16000`
 *   (s16le) are produced; other formats the API accepts (mp3, opus, other rates; also the API's default mp3 when
 *   `output_format` is absent) → 400 `unsupported_output_format`. Content types `audio/basic` (μ-law) and
 *   `audio/pcm` (PCM) are this server's choice; the API's own for raw formats is not documented where we looked.
 * - Audio: with `synthUrl`, real speech from the local speech server (local/speech/server.ts, POST /v1/synthesize,
 *   already in the requested format); without, a cheap synthetic voiced signal of ~70 ms per character. Either way
 *   kept in an LRU per (text, format) so a repeated sentence costs no synthesis; concurrent misses share one.
 * - Timing (LatencyModel): `ttsFirstByte` before the first chunk (synthesis runs meanwhile; a slower synthesis
 *   delays it further), then chunks of `chunkMs` of audio paced at `ttsRealtimeFactor`× real time. `convert` answers
 *   once the whole clip would exist (first byte + duration / factor). PCM chunk boundaries deliberately fall
 *   mid-sample (HTTP has no sample framing; clients must re-align).
 * - Faults (FaultPlan, taken once per request that passed auth and validation): `http-500`, `http-429` (with
 *   `retry-after`), `timeout` (never answered), `stall` (headers and the first chunk, then nothing), `malformed`
 *   (200 with a JSON body and content-type application/json), `drop` (socket destroyed after the first chunk).
 */
import { randomUUID } from 'node:crypto';
import { createServer, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Socket } from 'node:net';
import { fromPcm16 } from '../../functions/domain/audio';
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { drawDelay, FaultPlan, SEED_LATENCY, type Fault, type LatencyModel } from './behaviour';
import { listenOnLoopback } from '../listen';
import { readBodyUpTo } from '../http-body';

/** Every `output_format` the API accepts (the SDK's TextToSpeechStreamRequestOutputFormat). */
export const ELEVENLABS_OUTPUT_FORMATS = [
  'mp3_22050_32', 'mp3_24000_48', 'mp3_44100_32', 'mp3_44100_64', 'mp3_44100_96', 'mp3_44100_128', 'mp3_44100_192',
  'pcm_8000', 'pcm_16000', 'pcm_22050', 'pcm_24000', 'pcm_32000', 'pcm_44100', 'pcm_48000',
  'ulaw_8000', 'alaw_8000',
  'opus_48000_32', 'opus_48000_64', 'opus_48000_96', 'opus_48000_128', 'opus_48000_192',
] as const;

/** What this server can produce. */
const PRODUCED: Record<string, AudioFormat & { contentType: string }> = {
  ulaw_8000: { encoding: 'mulaw', sampleRate: 8000, contentType: 'audio/basic' },
  pcm_16000: { encoding: 'pcm16', sampleRate: 16000, contentType: 'audio/pcm' },
};

/** Longest text accepted (the offline synthesizer's own limit is 2000 characters). */
export const MAX_TEXT_CHARS = 5000;
/** Synthetic audio: duration per character. */
export const SYNTHETIC_MS_PER_CHAR = 70;
const MAX_BODY_BYTES = 256 * 1024;

export interface ElevenLabsServerOptions {
  /** Default 0 (any free port). */
  readonly port?: number;
  /** The `xi-api-key` accepted. */
  readonly apiKey: string;
  /** Default SEED_LATENCY. */
  readonly latency?: LatencyModel;
  /** Default: no faults. Scripted faults can be added later through `server.faults`. */
  readonly faults?: FaultPlan;
  /** The local speech server (e.g. http://127.0.0.1:8790) for real speech; unset: synthetic audio. */
  readonly synthUrl?: string;
  /** Known voice ids; others get 404 voice_not_found. Default: any id is a voice. */
  readonly voices?: readonly string[];
  /** Audio per streamed chunk. Default 100 ms. */
  readonly chunkMs?: number;
  /** `retry-after` of the 429 fault, in seconds. Default 1. */
  readonly retryAfterSeconds?: number;
  /** Clips kept per (text, format). Default 500. */
  readonly cacheEntries?: number;
  readonly random?: () => number;
  readonly log?: (message: string) => void;
}

export interface ElevenLabsRequestRecord {
  readonly route: 'stream' | 'convert';
  readonly voiceId: string;
  readonly outputFormat?: string;
  readonly modelId?: string;
  readonly optimizeStreamingLatency?: number;
  readonly text?: string;
  readonly status: number;
  readonly fault?: Fault;
}

export interface ElevenLabsServerStats {
  /** Every HTTP request received, whatever its outcome. */
  requests: number;
  /** Requests on the text-to-speech routes (stream + convert). */
  ttsRequests: number;
  /** Audio the source produced (cache misses), and cache hits. */
  syntheses: number;
  cacheHits: number;
  faults: Partial<Record<Fault, number>>;
}

type Produced = (typeof PRODUCED)[string];

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly body: unknown,
    readonly headers: Record<string, string> = {},
  ) {
    super(`HTTP ${status}`);
  }
}

const detail = (status: number, code: string, message: string, headers?: Record<string, string>): ApiError =>
  new ApiError(status, { detail: { status: code, message } }, headers);

interface ValidationItem {
  type: string;
  loc: (string | number)[];
  msg: string;
  input: unknown;
  ctx?: Record<string, unknown>;
}

export class ElevenLabsServer {
  readonly faults: FaultPlan;
  readonly stats: ElevenLabsServerStats = { requests: 0, ttsRequests: 0, syntheses: 0, cacheHits: 0, faults: {} };
  /** The last 200 text-to-speech requests, oldest first. */
  readonly requests: ElevenLabsRequestRecord[] = [];
  private readonly latency: LatencyModel;
  private readonly random: () => number;
  private readonly log: (message: string) => void;
  private readonly cache = new Map<string, Uint8Array>();
  private readonly inflight = new Map<string, Promise<Uint8Array>>();
  private readonly sockets = new Set<Socket>();
  private readonly timers = new Set<ReturnType<typeof setTimeout>>();
  private server?: Server;
  private baseUrl?: string;

  constructor(private readonly options: ElevenLabsServerOptions) {
    if (!options.apiKey) throw new Error('ElevenLabsServer: apiKey is required');
    this.faults = options.faults ?? new FaultPlan();
    this.latency = options.latency ?? SEED_LATENCY;
    this.random = options.random ?? Math.random;
    this.log = options.log ?? (() => undefined);
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('ElevenLabsServer: not started');
    return this.baseUrl;
  }

  async start(): Promise<string> {
    const server = createServer((req, res) => this.handle(req, res));
    server.keepAliveTimeout = 30_000;
    server.on('connection', (socket) => {
      this.sockets.add(socket);
      socket.on('close', () => this.sockets.delete(socket));
    });
    this.baseUrl = await listenOnLoopback(server, this.options.port);
    this.server = server;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    for (const t of this.timers) clearTimeout(t);
    this.timers.clear();
    const server = this.server;
    if (!server) return;
    this.server = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      for (const s of this.sockets) s.destroy(); // stalled and never-answered requests included
    });
  }

  private handle(req: IncomingMessage, res: ServerResponse): void {
    this.stats.requests++;
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const m = /^\/v1\/text-to-speech\/([^/]+)(\/stream)?\/?$/.exec(url.pathname);
    const run = async (): Promise<void> => {
      if (!m) throw new ApiError(404, { detail: 'Not Found' });
      if (req.method !== 'POST') throw new ApiError(405, { detail: 'Method Not Allowed' }, { allow: 'POST' });
      this.stats.ttsRequests++;
      await this.tts(req, res, url, decodeURIComponent(m[1]!), m[2] ? 'stream' : 'convert');
    };
    run().catch((e: unknown) => {
      if (res.headersSent) {
        res.destroy();
        return;
      }
      if (e instanceof ApiError) return sendJson(res, e.status, e.body, e.headers);
      this.log(`elevenlabs: ${e instanceof Error ? e.message : String(e)}`);
      sendJson(res, 500, { detail: { status: 'internal_server_error', message: 'An internal error occurred.' } });
    });
  }

  private async tts(req: IncomingMessage, res: ServerResponse, url: URL, voiceId: string, route: 'stream' | 'convert'): Promise<void> {
    const record = (r: Omit<ElevenLabsRequestRecord, 'route' | 'voiceId'>): void => {
      this.requests.push({ route, voiceId, ...r });
      if (this.requests.length > 200) this.requests.shift();
    };
    const raw = await readBodyUpTo(req, MAX_BODY_BYTES, () => detail(413, 'request_too_large', `body larger than ${MAX_BODY_BYTES} bytes`));
    const key = req.headers['xi-api-key'];
    if (key === undefined || key === '') {
      record({ status: 401 });
      throw detail(401, 'needs_authorization', 'Neither authorization header nor xi-api-key received, please provide one.');
    }
    if (key !== this.options.apiKey) {
      record({ status: 401 });
      throw detail(401, 'invalid_api_key', 'Invalid API key');
    }
    let parsed: ReturnType<typeof validate>;
    try {
      parsed = validate(url, raw);
    } catch (e) {
      record({ status: e instanceof ApiError ? e.status : 500 });
      throw e;
    }
    const { text, outputFormat, modelId, optimizeStreamingLatency } = parsed;
    const base = { outputFormat, modelId, optimizeStreamingLatency, text };
    if (this.options.voices && !this.options.voices.includes(voiceId)) {
      record({ ...base, status: 404 });
      throw detail(404, 'voice_not_found', `A voice with the voice_id ${voiceId} was not found.`);
    }
    const format = PRODUCED[outputFormat];
    if (!format) {
      record({ ...base, status: 400 });
      throw detail(400, 'unsupported_output_format', `the local ElevenLabs produces ulaw_8000 and pcm_16000 only, not ${outputFormat}`);
    }

    const fault = this.faults.take();
    if (fault) this.stats.faults[fault] = (this.stats.faults[fault] ?? 0) + 1;
    switch (fault) {
      case 'http-500':
        record({ ...base, status: 500, fault });
        throw detail(500, 'internal_server_error', 'An internal server error occurred. Please try again.');
      case 'http-429': {
        record({ ...base, status: 429, fault });
        const retryAfter = String(this.options.retryAfterSeconds ?? 1);
        throw detail(429, 'too_many_concurrent_requests', 'Too many concurrent requests for your subscription.', { 'retry-after': retryAfter });
      }
      case 'timeout':
        record({ ...base, status: 0, fault });
        return; // accepted, never answered (close() or the client ends it)
      default:
        break;
    }

    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    const started = Date.now();
    const firstByteMs = drawDelay(this.latency.ttsFirstByte, this.random);
    const audio = await this.audioFor(text, outputFormat, format);
    const factor = this.latency.ttsRealtimeFactor;
    const audioMs = audio.byteLength / bytesPerMs(format);
    // convert answers once the whole clip exists; stream once the first chunk does.
    const readyAt = started + firstByteMs + (route === 'convert' && Number.isFinite(factor) ? audioMs / factor : 0);
    await this.sleep(readyAt - Date.now());
    if (closed) return;

    if (fault === 'malformed') {
      record({ ...base, status: 200, fault });
      sendJson(res, 200, { status: 'ok', audio_base64: null, alignment: null });
      return;
    }
    record({ ...base, status: 200, ...(fault ? { fault } : {}) });
    const chunkBytes = Math.max(2, Math.round((this.options.chunkMs ?? 100) * bytesPerMs(format)));
    // PCM: the first chunk is one byte longer, so every later boundary falls in the middle of a sample.
    const firstLen = Math.min(audio.byteLength, chunkBytes + (format.encoding === 'pcm16' ? 1 : 0));
    res.writeHead(200, {
      'content-type': format.contentType,
      'request-id': randomUUID(),
      'x-character-count': String(text.length),
      ...(route === 'convert' ? { 'content-length': String(audio.byteLength) } : {}),
    });
    // drop: once the first chunk is on the wire, the connection goes (no terminating chunk: the body is cut short).
    res.write(audio.subarray(0, firstLen), fault === 'drop' ? () => res.socket?.destroy() : undefined);
    if (fault === 'stall' || fault === 'drop') return;
    if (route === 'convert' || !Number.isFinite(factor)) {
      res.end(audio.subarray(firstLen));
      return;
    }
    // Paced: chunk k leaves when the audio before it has been generated at `factor`× real time.
    const firstAt = Date.now();
    let offset = firstLen;
    const tick = (): void => {
      if (closed) return;
      const due = firstAt + offset / bytesPerMs(format) / factor;
      if (Date.now() < due - 1) {
        this.schedule(tick, due - Date.now());
        return;
      }
      // Late ticks (a busy event loop) send everything due at once rather than drifting.
      let end = offset + chunkBytes;
      while (end < audio.byteLength && firstAt + end / bytesPerMs(format) / factor <= Date.now()) end += chunkBytes;
      end = Math.min(end, audio.byteLength);
      res.write(audio.subarray(offset, end));
      offset = end;
      if (offset >= audio.byteLength) res.end();
      else tick();
    };
    tick();
  }

  /** The clip for (text, format): LRU hit, a synthesis already under way, or a new one. */
  private audioFor(text: string, outputFormat: string, format: Produced): Promise<Uint8Array> {
    const key = `${outputFormat}|${text}`;
    const hit = this.cache.get(key);
    if (hit) {
      this.stats.cacheHits++;
      this.cache.delete(key);
      this.cache.set(key, hit);
      return Promise.resolve(hit);
    }
    let pending = this.inflight.get(key);
    if (pending) {
      this.stats.cacheHits++;
      return pending;
    }
    this.stats.syntheses++;
    pending = (this.options.synthUrl ? this.speech(text, format) : Promise.resolve(syntheticAudio(text, format)))
      .then((audio) => {
        const entries = this.options.cacheEntries ?? 500;
        if (entries > 0) {
          this.cache.set(key, audio);
          if (this.cache.size > entries) this.cache.delete(this.cache.keys().next().value!);
        }
        return audio;
      })
      .finally(() => this.inflight.delete(key));
    this.inflight.set(key, pending);
    return pending;
  }

  private async speech(text: string, format: Produced): Promise<Uint8Array> {
    const response = await fetch(new URL('/v1/synthesize', this.options.synthUrl), {
      method: 'POST',
      headers: { 'content-type': 'application/json' },
      body: JSON.stringify({ text, encoding: format.encoding, sample_rate: format.sampleRate }),
    });
    if (!response.ok) throw new Error(`speech server: HTTP ${response.status} ${await response.text().catch(() => '')}`);
    const audio = new Uint8Array(await response.arrayBuffer());
    if (audio.byteLength === 0) throw new Error('speech server returned no audio');
    return audio;
  }

  private sleep(ms: number): Promise<void> {
    if (ms <= 0) return Promise.resolve();
    return new Promise((resolve) => this.schedule(resolve, ms));
  }

  private schedule(fn: () => void, ms: number): void {
    const t = setTimeout(() => {
      this.timers.delete(t);
      fn();
    }, Math.max(0, ms));
    this.timers.add(t);
  }
}

function bytesPerMs(format: AudioFormat): number {
  return (format.sampleRate / 1000) * (format.encoding === 'mulaw' ? 1 : 2);
}

function sendJson(res: ServerResponse, status: number, body: unknown, headers: Record<string, string> = {}): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), ...headers });
  res.end(data);
}

/** Query and body checks, reported the way FastAPI does (all problems at once). */
function validate(
  url: URL,
  raw: Buffer,
): { text: string; outputFormat: string; modelId?: string; optimizeStreamingLatency?: number } {
  const errors: ValidationItem[] = [];
  const outputFormat = url.searchParams.get('output_format') ?? 'mp3_44100_128';
  if (!(ELEVENLABS_OUTPUT_FORMATS as readonly string[]).includes(outputFormat)) {
    errors.push({
      type: 'enum',
      loc: ['query', 'output_format'],
      msg: `Input should be ${ELEVENLABS_OUTPUT_FORMATS.map((f) => `'${f}'`).join(', ')}`,
      input: outputFormat,
    });
  }
  let optimizeStreamingLatency: number | undefined;
  const osl = url.searchParams.get('optimize_streaming_latency');
  if (osl !== null) {
    const n = Number(osl);
    if (!/^-?\d+$/.test(osl)) {
      errors.push({ type: 'int_parsing', loc: ['query', 'optimize_streaming_latency'], msg: 'Input should be a valid integer, unable to parse string as an integer', input: osl });
    } else if (n < 0 || n > 4) {
      errors.push({ type: 'less_than_equal', loc: ['query', 'optimize_streaming_latency'], msg: 'Input should be between 0 and 4', input: osl });
    } else optimizeStreamingLatency = n;
  }
  let body: Record<string, unknown> | undefined;
  try {
    const json: unknown = JSON.parse(raw.toString('utf8'));
    if (json && typeof json === 'object' && !Array.isArray(json)) body = json as Record<string, unknown>;
    else errors.push({ type: 'model_attributes_type', loc: ['body'], msg: 'Input should be a valid dictionary or object to extract fields from', input: json });
  } catch {
    errors.push({ type: 'json_invalid', loc: ['body', 0], msg: 'JSON decode error', input: {}, ctx: { error: 'Expecting value' } });
  }
  let text = '';
  let modelId: string | undefined;
  if (body) {
    if (!('text' in body)) errors.push({ type: 'missing', loc: ['body', 'text'], msg: 'Field required', input: body });
    else if (typeof body.text !== 'string') errors.push({ type: 'string_type', loc: ['body', 'text'], msg: 'Input should be a valid string', input: body.text });
    else text = body.text;
    for (const field of ['model_id', 'previous_text', 'next_text', 'language_code'] as const) {
      const v = body[field];
      if (v !== undefined && v !== null && typeof v !== 'string') {
        errors.push({ type: 'string_type', loc: ['body', field], msg: 'Input should be a valid string', input: v });
      }
    }
    if (typeof body.model_id === 'string') modelId = body.model_id;
    const vs = body.voice_settings;
    if (vs !== undefined && vs !== null) {
      if (typeof vs !== 'object' || Array.isArray(vs)) {
        errors.push({ type: 'model_type', loc: ['body', 'voice_settings'], msg: 'Input should be a valid dictionary or instance of VoiceSettingsResponseModel', input: vs });
      } else {
        for (const [k, v] of Object.entries(vs as Record<string, unknown>)) {
          if (['stability', 'similarity_boost', 'style', 'speed'].includes(k) && v !== null && typeof v !== 'number') {
            errors.push({ type: 'float_parsing', loc: ['body', 'voice_settings', k], msg: 'Input should be a valid number', input: v });
          }
          if (k === 'use_speaker_boost' && v !== null && typeof v !== 'boolean') {
            errors.push({ type: 'bool_parsing', loc: ['body', 'voice_settings', k], msg: 'Input should be a valid boolean', input: v });
          }
        }
      }
    }
  }
  if (errors.length > 0) throw new ApiError(422, { detail: errors });
  if (text.trim().length === 0) throw detail(400, 'invalid_text', 'The text is empty.');
  if (text.length > MAX_TEXT_CHARS) {
    throw detail(400, 'max_character_limit_exceeded', `Text is ${text.length} characters; the local ElevenLabs accepts up to ${MAX_TEXT_CHARS}.`);
  }
  return { text, outputFormat, ...(modelId !== undefined ? { modelId } : {}), ...(optimizeStreamingLatency !== undefined ? { optimizeStreamingLatency } : {}) };
}

/**
 * A voiced, speech-like signal (a 120 Hz glottal tone with harmonics, syllables at ~4 Hz), ~70 ms per character,
 * built by tiling one precomputed second per format: about a memory copy per clip.
 */
const syntheticBase = new Map<string, Uint8Array>();
export function syntheticAudio(text: string, format: AudioFormat): Uint8Array {
  const key = `${format.encoding}/${format.sampleRate}`;
  let base = syntheticBase.get(key);
  if (!base) {
    const n = format.sampleRate; // one second
    const samples = new Int16Array(n);
    for (let i = 0; i < n; i++) {
      const t = i / format.sampleRate;
      const syllable = Math.abs(Math.sin(2 * Math.PI * 2 * t)); // 4 syllables a second
      let v = 0;
      for (let h = 1; h <= 6; h++) v += Math.sin(2 * Math.PI * 120 * h * t) / h;
      samples[i] = Math.round(6000 * syllable * v);
    }
    base = fromPcm16(samples, format);
    syntheticBase.set(key, base);
  }
  const bytesPerSample = format.encoding === 'mulaw' ? 1 : 2;
  const ms = Math.max(300, text.trim().length * SYNTHETIC_MS_PER_CHAR);
  const out = new Uint8Array(Math.round((ms / 1000) * format.sampleRate) * bytesPerSample);
  for (let o = 0; o < out.length; o += base.length) out.set(base.subarray(0, Math.min(base.length, out.length - o)), o);
  return out;
}
