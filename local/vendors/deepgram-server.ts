/**
 * A local Deepgram speech-to-text API, faithful to the protocol the official SDK speaks (test and benchmark tooling,
 * never product code):
 *
 *   POST /v1/listen?model=…&language=…&encoding=linear16|mulaw&sample_rate=…   body: raw audio (or a WAV file)
 *        → 200 { metadata: { request_id, sha256, created, duration, channels, models, model_info },
 *                results: { channels: [{ alternatives: [{ transcript, confidence, words[] }] }] } }
 *   GET  /v1/listen (WebSocket upgrade), same query + interim_results, endpointing, utterance_end_ms, vad_events
 *        client → binary audio, {"type":"Finalize"|"CloseStream"|"KeepAlive"}
 *        server → Results (interim / is_final / speech_final / from_finalize), SpeechStarted, UtteranceEnd,
 *                 Metadata then close 1000 after CloseStream; close 1011 NET-0001 after 10 s without audio or KeepAlive
 *
 * `Authorization: Token <key>` (or the browser form, subprotocols `token, <key>`) is checked first: 401 with Deepgram's
 * error body otherwise; bad query parameters are 400 (a failed upgrade with that status for the WebSocket).
 *
 * Beyond the protocol: the shared latency model (`sttAfterAudio`: from the end of the audio — request body, endpoint,
 * Finalize, CloseStream — to the final result) and fault plan (local/vendors/behaviour.ts), one fault drawn per HTTP
 * request or WebSocket connection. Recognition: the known utterances by fingerprint (local/vendors/known-utterances.ts),
 * anything else through the optional fallback recognizer (the offline speech server) or as an empty transcript.
 *
 * Deliberate deviations: the stand-in decodes linear16 and mulaw only (other Deepgram encodings are 400 here); it
 * recognizes whole phrases, so live endpointing never fires on less than MIN_ENDPOINT_MS of silence (Deepgram's default
 * is 10 ms) and long speech is not finalized in pieces; the `model` and `language` are validated but do not change the
 * recognition.
 */
import { createHash, randomUUID } from 'node:crypto';
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { AddressInfo, Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type RawData, type WebSocket } from 'ws';
import { parseWav } from '../speech/tts/flite';
import { drawDelay, FaultPlan, SEED_LATENCY, sleep, type Fault, type LatencyModel } from './behaviour';
import { decodeWire, KnownUtteranceRecognizer, type Recognition, type UtteranceRecognizer, type WireEncoding } from './known-utterances';

export interface DeepgramServerOptions {
  /** 0 (default) = an ephemeral port. */
  readonly port?: number;
  /** The one API key accepted. */
  readonly apiKey: string;
  /** Default: SEED_LATENCY (150–250 ms after the audio). */
  readonly latency?: LatencyModel;
  /** Default: no faults. Tests script faults on `server.faults`. */
  readonly faults?: FaultPlan;
  /** Default: the known utterances (built at start), falling back to `fallbackRecognizerUrl` if given. */
  readonly recognizer?: UtteranceRecognizer;
  /** The local offline speech server (OFFLINE_SPEECH_URL) for audio that is no known utterance. */
  readonly fallbackRecognizerUrl?: string;
  /** Lines recognized by fingerprint (default KNOWN_UTTERANCES); ignored when `recognizer` is given. */
  readonly utterances?: readonly string[];
  /** Live: close 1011 (NET-0001) after this long without audio or KeepAlive. Deepgram: 10 s. */
  readonly idleTimeoutMs?: number;
  /** Live: an interim result per this much audio received while speech goes on. */
  readonly interimEveryMs?: number;
  readonly random?: () => number;
}

export interface RecordedRequest {
  readonly kind: 'http' | 'ws';
  readonly method: string;
  readonly path: string;
  readonly query: Record<string, string>;
  readonly authorized: boolean;
  /** HTTP status answered (101 for an accepted upgrade); undefined while pending or never answered. */
  status?: number;
  fault?: Fault;
  readonly requestId: string;
}

export interface DeepgramServerStats {
  httpRequests: number;
  wsConnections: number;
  faults: Partial<Record<Fault, number>>;
  /** Recognitions by how they were answered. */
  recognized: { known: number; fallback: number; none: number };
}

/** Deepgram's encodings (the SDK's ListenV1Encoding); the stand-in decodes only LOCAL_ENCODINGS. */
const DEEPGRAM_ENCODINGS = ['linear16', 'linear32', 'flac', 'alaw', 'mulaw', 'amr-nb', 'amr-wb', 'opus', 'ogg-opus', 'speex', 'g729'];
const LOCAL_ENCODINGS: Record<string, WireEncoding> = { linear16: 'pcm16', mulaw: 'mulaw' };
const MODEL_PATTERN = /^(nova-3|nova-2|nova|enhanced|base|whisper)(-[a-z0-9-]+)?$|^(general|meeting|phonecall|voicemail|finance|conversationalai|video|medical)$/;
const LANGUAGE_PATTERN = /^([a-z]{2,3}(-[A-Za-z0-9]{2,8})*|multi)$/;
const BOOLEAN_PARAMS = ['interim_results', 'vad_events', 'smart_format', 'punctuate', 'diarize', 'numerals', 'profanity_filter', 'multichannel', 'filler_words'];
/** Larger bodies are 413 here (Deepgram accepts 2 GB). */
const MAX_BODY_BYTES = 64 * 1024 * 1024;
/** Live endpointing floor: the stand-in recognizes whole phrases (see the header). */
export const MIN_ENDPOINT_MS = 200;
/** Live: a 10 ms frame louder than this is speech. */
const SPEECH_DBFS = -45;

class ApiError extends Error {
  constructor(
    readonly status: number,
    readonly errCode: string,
    message: string,
    readonly headers: Record<string, string> = {},
  ) {
    super(message);
  }
}

interface ListenParams {
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

function parseParams(query: URLSearchParams, live: boolean): ListenParams {
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
function presentedKey(req: IncomingMessage): string | undefined {
  const auth = req.headers.authorization;
  const m = auth ? /^token\s+(.+)$/i.exec(auth.trim()) : null;
  if (m) return m[1]!.trim();
  const protocols = (req.headers['sec-websocket-protocol'] ?? '').split(',').map((p) => p.trim());
  const i = protocols.indexOf('token');
  return i >= 0 ? protocols[i + 1] : undefined;
}

const QUESTION_WORDS = /^(what|where|when|why|who|how|can|could|would|will|do|does|is|are|may)\b/;

/** What punctuate / smart_format do to a transcript, roughly. */
function punctuated(text: string): string {
  if (!text) return text;
  const t = text.replace(/\bi\b/g, 'I');
  return t[0]!.toUpperCase() + t.slice(1) + (QUESTION_WORDS.test(text) ? '?' : '.');
}

interface Word {
  word: string;
  start: number;
  end: number;
  confidence: number;
  punctuated_word?: string;
}

/** Words of the transcript spread over the speech span in proportion to their length. */
function wordsOf(transcript: string, startS: number, endS: number, confidence: number, punctuate: boolean): Word[] {
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

const round = (x: number, digits = 3) => Math.round(x * 10 ** digits) / 10 ** digits;

function modelInfo(model: string): { uuid: string; name: string; version: string; arch: string } {
  const h = createHash('sha256').update(model).digest('hex');
  const uuid = `${h.slice(0, 8)}-${h.slice(8, 12)}-4${h.slice(13, 16)}-8${h.slice(17, 20)}-${h.slice(20, 32)}`;
  const arch = model.startsWith('nova-3') ? 'nova-3' : model.startsWith('nova-2') ? 'nova-2' : model.split('-')[0]!;
  return { uuid, name: `general-${arch}`, version: '2024-12-20.0', arch };
}

export class DeepgramServer {
  readonly faults: FaultPlan;
  readonly stats: DeepgramServerStats = { httpRequests: 0, wsConnections: 0, faults: {}, recognized: { known: 0, fallback: 0, none: 0 } };
  /** The last 200 requests and upgrades, oldest first. */
  readonly requests: RecordedRequest[] = [];
  private readonly latency: LatencyModel;
  private readonly random: () => number;
  private recognizer?: UtteranceRecognizer;
  private server?: Server;
  private readonly wss = new WebSocketServer({
    noServer: true,
    perMessageDeflate: false,
    // The browser form of auth offers `token, <key>` as subprotocols; the server answers with `token`.
    handleProtocols: (protocols) => (protocols.has('token') ? 'token' : false),
  });
  private readonly sessions = new Set<LiveSession>();
  /** Upgrade requests held unanswered (timeout fault) or otherwise outside the HTTP server's connection tracking. */
  private readonly heldSockets = new Set<Duplex>();
  private malformedCount = 0;
  private baseUrl?: string;

  constructor(private readonly options: DeepgramServerOptions) {
    this.faults = options.faults ?? new FaultPlan();
    this.latency = options.latency ?? SEED_LATENCY;
    this.random = options.random ?? Math.random;
    this.recognizer = options.recognizer;
  }

  get url(): string {
    if (!this.baseUrl) throw new Error('DeepgramServer is not started');
    return this.baseUrl;
  }

  async start(): Promise<string> {
    this.recognizer ??= await KnownUtteranceRecognizer.create({ fallbackRecognizerUrl: this.options.fallbackRecognizerUrl, utterances: this.options.utterances });
    const server = createServer({ keepAliveTimeout: 10_000 }, (req, res) => void this.handleHttp(req, res).catch(() => res.destroy()));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => this.handleUpgrade(req, socket, head));
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.options.port ?? 0, '127.0.0.1', () => resolve());
    });
    this.server = server;
    this.baseUrl = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
    return this.baseUrl;
  }

  async close(): Promise<void> {
    for (const s of this.sessions) s.terminate();
    for (const s of this.heldSockets) s.destroy();
    this.heldSockets.clear();
    const server = this.server;
    this.server = undefined;
    if (!server) return;
    server.closeAllConnections();
    await new Promise<void>((resolve) => server.close(() => resolve()));
  }

  /** Live sessions open now. */
  get openSessions(): number {
    return this.sessions.size;
  }

  // --- shared -----------------------------------------------------------------------------------------------------

  private record(r: RecordedRequest): RecordedRequest {
    this.requests.push(r);
    if (this.requests.length > 200) this.requests.shift();
    return r;
  }

  private takeFault(r: RecordedRequest): Fault | undefined {
    const fault = this.faults.take();
    if (fault) {
      r.fault = fault;
      this.stats.faults[fault] = (this.stats.faults[fault] ?? 0) + 1;
    }
    return fault;
  }

  /** Checks auth then the query; throws ApiError. */
  private admit(req: IncomingMessage, query: URLSearchParams, live: boolean): ListenParams {
    const key = presentedKey(req);
    if (key !== this.options.apiKey) throw new ApiError(401, 'INVALID_AUTH', 'Invalid credentials.');
    return parseParams(query, live);
  }

  async recognize(audio: Uint8Array, format: { encoding: WireEncoding; sampleRate: number }): Promise<Recognition> {
    const r = await this.recognizer!.recognize(audio, format.encoding, format.sampleRate);
    this.stats.recognized[r.source]++;
    return r;
  }

  partial(audio: Uint8Array, format: { encoding: WireEncoding; sampleRate: number }): Recognition | undefined {
    return this.recognizer!.partial(audio, format.encoding, format.sampleRate);
  }

  drawLatency(): number {
    return drawDelay(this.latency.sttAfterAudio, this.random);
  }

  nextMalformed(): number {
    return this.malformedCount++;
  }

  // --- HTTP: pre-recorded ---------------------------------------------------------------------------------------------

  private async handleHttp(req: IncomingMessage, res: ServerResponse): Promise<void> {
    this.stats.httpRequests++;
    const url = new URL(req.url ?? '/', 'http://local');
    const requestId = randomUUID();
    const rec = this.record({
      kind: 'http',
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorized: presentedKey(req) === this.options.apiKey,
      requestId,
    });
    const reply = (status: number, body: unknown, headers: Record<string, string> = {}) => {
      rec.status = status;
      const data = JSON.stringify(body);
      res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data), 'dg-request-id': requestId, ...headers });
      res.end(data);
    };
    try {
      if (url.pathname !== '/v1/listen') throw new ApiError(404, 'NOT_FOUND', `No route for ${req.method} ${url.pathname}`);
      if (req.method !== 'POST') throw new ApiError(405, 'METHOD_NOT_ALLOWED', `${req.method} is not allowed on /v1/listen (POST, or a WebSocket upgrade)`);
      const params = this.admit(req, url.searchParams, false);
      const contentType = (req.headers['content-type'] ?? '').split(';')[0]!.trim().toLowerCase();
      if (contentType === 'application/json') {
        throw new ApiError(400, 'Bad Request', 'the local Deepgram does not fetch remote URLs: send the audio in the body');
      }
      const body = await readBody(req);
      const end = performance.now();
      const fault = this.takeFault(rec);
      if (fault && (await this.httpFault(fault, req, res, rec, requestId))) return;
      const { audio, format } = decodeBody(body, params);
      const recognition = await this.recognize(audio, format);
      const wait = this.drawLatency() - (performance.now() - end);
      if (wait > 0) await sleep(wait);
      if (fault === 'malformed') {
        this.malformedHttp(res, rec, requestId);
        return;
      }
      reply(200, this.prerecordedBody(recognition, params, audio, format, requestId));
    } catch (err) {
      if (res.headersSent || res.destroyed) return;
      if (err instanceof ApiError) {
        reply(err.status, { err_code: err.errCode, err_msg: err.message, request_id: requestId }, err.headers);
      } else {
        reply(500, { err_code: 'INTERNAL_SERVER_ERROR', err_msg: (err as Error).message, request_id: requestId });
      }
    }
  }

  /** Applies a fault; true when the request has been dealt with (malformed is answered after recognition). */
  private async httpFault(fault: Fault, req: IncomingMessage, res: ServerResponse, rec: RecordedRequest, requestId: string): Promise<boolean> {
    switch (fault) {
      case 'http-500':
        throw new ApiError(500, 'INTERNAL_SERVER_ERROR', 'An internal server error occurred. Please try again later.');
      case 'http-429':
        throw new ApiError(429, 'TOO_MANY_REQUESTS', 'Too many requests. Please try again later.', { 'retry-after': '1' });
      case 'timeout':
        return true; // accepted, never answered (the connection is destroyed when the server closes)
      case 'stall': {
        rec.status = 200;
        const body = JSON.stringify({ metadata: { request_id: requestId }, results: { channels: [] } });
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) + 64, 'dg-request-id': requestId });
        res.write(body.slice(0, 20)); // and nothing more
        return true;
      }
      case 'drop': {
        rec.status = 200;
        res.writeHead(200, { 'content-type': 'application/json', 'content-length': 4096, 'dg-request-id': requestId });
        res.write('{"metadata":{"request_id":"', () => req.socket.destroy());
        return true;
      }
      case 'malformed':
        return false;
    }
  }

  private malformedHttp(res: ServerResponse, rec: RecordedRequest, requestId: string): void {
    rec.status = 200;
    // Alternately: not JSON at all, and JSON that is not the documented shape.
    const body =
      this.nextMalformed() % 2 === 0
        ? '<html><body><h1>502 Bad Gateway</h1></body></html>'
        : JSON.stringify({ request_id: requestId, results: { channels: [{ alternatives: 'unavailable' }] } });
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body), 'dg-request-id': requestId });
    res.end(body);
  }

  private prerecordedBody(r: Recognition, params: ListenParams, audio: Uint8Array, format: { encoding: WireEncoding; sampleRate: number }, requestId: string) {
    const info = modelInfo(params.model);
    const bytesPerSample = format.encoding === 'pcm16' ? 2 : 1;
    const duration = round(audio.byteLength / bytesPerSample / format.sampleRate, 6);
    const transcript = params.punctuate ? punctuated(r.transcript) : r.transcript;
    return {
      metadata: {
        transaction_key: 'deprecated',
        request_id: requestId,
        sha256: createHash('sha256').update(audio).digest('hex'),
        created: new Date().toISOString(),
        duration,
        channels: 1,
        models: [info.uuid],
        model_info: { [info.uuid]: { name: info.name, version: info.version, arch: info.arch } },
      },
      results: {
        channels: [
          {
            alternatives: [
              { transcript, confidence: r.confidence, words: wordsOf(r.transcript, r.startS, r.endS, r.confidence, params.punctuate) },
            ],
          },
        ],
      },
    };
  }

  // --- WebSocket: live --------------------------------------------------------------------------------------------

  private handleUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): void {
    this.stats.wsConnections++;
    const url = new URL(req.url ?? '/', 'http://local');
    const requestId = randomUUID();
    const rec = this.record({
      kind: 'ws',
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorized: presentedKey(req) === this.options.apiKey,
      requestId,
    });
    const refuse = (status: number, errCode: string, message: string, headers: Record<string, string> = {}) => {
      rec.status = status;
      const body = JSON.stringify({ err_code: errCode, err_msg: message, request_id: requestId });
      const lines = [
        `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? ''}`,
        'content-type: application/json',
        `content-length: ${Buffer.byteLength(body)}`,
        `dg-request-id: ${requestId}`,
        `dg-error: ${message}`,
        ...Object.entries(headers).map(([k, v]) => `${k}: ${v}`),
        'connection: close',
      ];
      socket.end(`${lines.join('\r\n')}\r\n\r\n${body}`);
    };
    socket.on('error', () => socket.destroy());
    let params: ListenParams;
    try {
      if (url.pathname !== '/v1/listen') throw new ApiError(404, 'NOT_FOUND', `No route for ${url.pathname}`);
      params = this.admit(req, url.searchParams, true);
    } catch (err) {
      const e = err instanceof ApiError ? err : new ApiError(500, 'INTERNAL_SERVER_ERROR', (err as Error).message);
      refuse(e.status, e.errCode, e.message, e.headers);
      return;
    }
    const fault = this.takeFault(rec);
    if (fault === 'http-500') return refuse(500, 'INTERNAL_SERVER_ERROR', 'An internal server error occurred. Please try again later.');
    if (fault === 'http-429') return refuse(429, 'TOO_MANY_REQUESTS', 'Too many requests. Please try again later.', { 'retry-after': '1' });
    if (fault === 'timeout') {
      // The upgrade is never answered.
      this.heldSockets.add(socket);
      socket.once('close', () => this.heldSockets.delete(socket));
      return;
    }
    this.wss.handleUpgrade(req, socket as Socket, head, (ws) => {
      rec.status = 101;
      const session = new LiveSession(this, ws, params, requestId, fault, this.options);
      this.sessions.add(session);
      ws.once('close', () => this.sessions.delete(session));
    });
  }
}

function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const declared = Number(req.headers['content-length']);
    if (Number.isFinite(declared) && declared > MAX_BODY_BYTES) {
      req.resume();
      reject(new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Payload too large'));
      return;
    }
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.length;
      if (size > MAX_BODY_BYTES) {
        req.resume();
        reject(new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Payload too large'));
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

/** The body's audio and format: raw as the query says, else a WAV container (PCM16 mono). */
function decodeBody(body: Buffer, params: ListenParams): { audio: Uint8Array; format: { encoding: WireEncoding; sampleRate: number } } {
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

/**
 * One live connection. Audio is cut into 10 ms frames as it arrives; an energy VAD finds speech. A segment runs from
 * the end of the previous final result to the next endpoint (silence ≥ endpointing), Finalize or CloseStream; its
 * final result is the recognition of the segment's audio, sent `sttAfterAudio` after that moment. Every message goes
 * through one ordered outbox, so results never overtake each other.
 */
class LiveSession {
  private readonly format: { encoding: WireEncoding; sampleRate: number };
  private readonly bytesPerSample: number;
  private readonly frameBytes: number;
  private readonly info: ReturnType<typeof modelInfo>;
  private readonly created = new Date().toISOString();
  private readonly hash = createHash('sha256');
  /** Malformed fault: which kind of bad message this connection sends (alternating between connections). */
  private readonly malformedVariant: number;
  private outbox: Promise<void> = Promise.resolve();
  private idleTimer?: NodeJS.Timeout;
  private closed = false;
  private closing = false;

  /** Bytes received so far (the stream position), where the current segment starts, and its audio. */
  private received = 0;
  private segmentStartByte = 0;
  private segment: Buffer[] = [];
  private vadCarry = Buffer.alloc(0);
  private vadBytes = 0;
  /** Stream positions (s) of the current segment's speech; undefined while it has none. */
  private speechStartS?: number;
  private lastSpeechS?: number;
  private lastInterimByte = 0;
  /**
   * UtteranceEnd: where the last finalized segment's speech ended (VAD, stream time: known at once, so the gap is
   * measured in stream time however the audio arrives) and its recognition (whether it had words, and their end).
   */
  private lastWordEndS?: number;
  private lastFinal?: { readonly start: number; readonly recognition: Promise<Recognition | undefined> };
  private speechStartedSent = false;

  constructor(
    private readonly server: DeepgramServer,
    private readonly ws: WebSocket,
    private readonly params: ListenParams,
    private readonly requestId: string,
    private readonly fault: Fault | undefined,
    private readonly options: DeepgramServerOptions,
  ) {
    this.format = params.raw!;
    this.bytesPerSample = this.format.encoding === 'pcm16' ? 2 : 1;
    this.frameBytes = (this.format.sampleRate / 100) * this.bytesPerSample;
    this.info = modelInfo(params.model);
    this.malformedVariant = fault === 'malformed' ? server.nextMalformed() : 0;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
    if (fault !== 'stall') this.touch();
  }

  terminate(): void {
    this.dispose();
    this.ws.terminate();
  }

  private dispose(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
  }

  /** Deepgram closes a connection that received neither audio nor KeepAlive for 10 s. */
  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.closeWith(1011, 'NET-0001: Deepgram did not receive audio data or a text message within the timeout window.'),
      this.options.idleTimeoutMs ?? 10_000,
    );
    this.idleTimer.unref();
  }

  private closeWith(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.ws.close(code, reason);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed || this.fault === 'stall') return; // stall: the connection is up, nothing comes back
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      if (this.closing) return;
      if (this.fault === 'drop') {
        this.terminate(); // the TCP connection is destroyed mid-stream: no close frame
        return;
      }
      this.touch();
      if (buf.length > 0) this.audio(buf);
      return;
    }
    let msg: { type?: unknown } | null;
    try {
      msg = JSON.parse(buf.toString('utf8')) as { type?: unknown } | null;
    } catch {
      this.closeWith(1008, 'DATA-0000: The payload cannot be decoded as audio or a valid control message.');
      return;
    }
    switch (msg?.type) {
      case 'KeepAlive':
        this.touch();
        return;
      case 'Finalize':
        this.touch();
        // Deepgram answers with from_finalize when it has audio buffered since the last final result.
        if (this.received > this.segmentStartByte) this.finalizeSegment({ speechFinal: false, fromFinalize: true });
        return;
      case 'CloseStream':
        if (this.closing) return;
        this.closing = true;
        clearTimeout(this.idleTimer);
        if (this.received > this.segmentStartByte) this.finalizeSegment({ speechFinal: false, fromFinalize: false });
        this.enqueue(() => {
          this.send({
            type: 'Metadata',
            transaction_key: 'deprecated',
            request_id: this.requestId,
            sha256: this.hash.digest('hex'),
            created: this.created,
            duration: round(this.secondsAt(this.received), 6),
            channels: 1,
          });
          this.closeWith(1000, '');
        });
        return;
      default:
        this.closeWith(1008, `DATA-0000: unknown control message type '${String(msg?.type)}'`);
    }
  }

  private audio(buf: Buffer): void {
    this.segment.push(buf);
    this.received += buf.length;
    this.hash.update(buf);
    // VAD over whole 10 ms frames.
    let pending = this.vadCarry.length ? Buffer.concat([this.vadCarry, buf]) : buf;
    while (pending.length >= this.frameBytes) {
      const frame = pending.subarray(0, this.frameBytes);
      pending = pending.subarray(this.frameBytes);
      this.vadBytes += this.frameBytes;
      this.frame(frame);
      if (this.closed) return;
    }
    this.vadCarry = Buffer.from(pending);
  }

  private secondsAt(byte: number): number {
    return byte / this.bytesPerSample / this.format.sampleRate;
  }

  private frame(frame: Buffer): void {
    const samples = decodeWire(frame, this.format.encoding);
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
    const dbfs = sum === 0 ? -Infinity : 10 * Math.log10(sum / samples.length / (32768 * 32768));
    const endS = this.secondsAt(this.vadBytes);
    if (dbfs > SPEECH_DBFS) {
      if (this.speechStartS === undefined) {
        this.speechStartS = endS - 0.01;
        this.lastInterimByte = this.vadBytes;
        if (this.params.vadEvents && !this.speechStartedSent) {
          this.speechStartedSent = true;
          const timestamp = round(this.speechStartS);
          this.enqueue(() => this.send({ type: 'SpeechStarted', channel: [0, 1], timestamp }));
        }
      }
      this.lastSpeechS = endS;
      this.lastWordEndS = undefined; // speech again: no UtteranceEnd for the earlier words yet
      const every = ((this.options.interimEveryMs ?? 500) / 1000) * this.format.sampleRate * this.bytesPerSample;
      if (this.params.interimResults && this.vadBytes - this.lastInterimByte >= every) {
        this.lastInterimByte = this.vadBytes;
        this.interim();
      }
      return;
    }
    // Silence.
    if (this.lastSpeechS !== undefined && this.params.endpointing !== false) {
      const silenceMs = (endS - this.lastSpeechS) * 1000;
      if (silenceMs >= Math.max(this.params.endpointing, MIN_ENDPOINT_MS)) this.finalizeSegment({ speechFinal: true, fromFinalize: false });
    }
    if (this.lastWordEndS !== undefined && this.params.utteranceEndMs !== undefined && this.params.interimResults) {
      if ((endS - this.lastWordEndS) * 1000 >= this.params.utteranceEndMs) {
        this.lastWordEndS = undefined;
        const final = this.lastFinal;
        // Queued after that segment's final result; sent only if it had words (Deepgram's gap follows the last word).
        this.enqueue(async () => {
          const r = await final?.recognition;
          if (final && r?.transcript) this.send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: round(final.start + r.endS) });
        });
      }
    }
  }

  private segmentAudio(): Buffer {
    if (this.segment.length !== 1) this.segment = [Buffer.concat(this.segment)];
    return this.segment[0]!;
  }

  private interim(): void {
    const guess = this.server.partial(this.segmentAudio(), this.format);
    if (!guess) return;
    const start = this.secondsAt(this.segmentStartByte);
    const duration = this.secondsAt(this.received) - start;
    this.enqueue(() => this.send(this.results(guess, start, duration, { isFinal: false, speechFinal: false, fromFinalize: false })));
  }

  /** Closes the current segment: its final result is recognized and sent after the latency model's delay. */
  private finalizeSegment(flags: { speechFinal: boolean; fromFinalize: boolean }): void {
    const audio = this.segmentAudio();
    const start = this.secondsAt(this.segmentStartByte);
    const duration = this.secondsAt(this.received) - start;
    const hadSpeech = this.speechStartS !== undefined;
    if (hadSpeech) this.lastWordEndS = this.lastSpeechS;
    this.segment = [];
    this.segmentStartByte = this.received;
    this.speechStartS = undefined;
    this.lastSpeechS = undefined;
    this.speechStartedSent = false; // the next speech after this segment is a new start
    const decidedAt = performance.now();
    const delay = this.server.drawLatency();
    const recognized = hadSpeech ? this.server.recognize(audio, this.format).catch(() => undefined) : Promise.resolve(undefined);
    if (hadSpeech) this.lastFinal = { start, recognition: recognized };
    this.enqueue(async () => {
      const r = await recognized;
      const wait = delay - (performance.now() - decidedAt);
      if (wait > 0) await sleep(wait);
      const recognition: Recognition = r ?? { transcript: '', confidence: 0, startS: 0, endS: 0, source: 'none' };
      this.send(this.results(recognition, start, duration, { isFinal: true, ...flags }));
    });
  }

  private results(
    r: Recognition,
    startS: number,
    durationS: number,
    flags: { isFinal: boolean; speechFinal: boolean; fromFinalize: boolean },
  ): Record<string, unknown> {
    const transcript = this.params.punctuate ? punctuated(r.transcript) : r.transcript;
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: round(durationS),
      start: round(startS),
      is_final: flags.isFinal,
      speech_final: flags.speechFinal,
      channel: {
        alternatives: [
          { transcript, confidence: r.confidence, words: wordsOf(r.transcript, startS + r.startS, startS + r.endS, r.confidence, this.params.punctuate) },
        ],
      },
      metadata: { request_id: this.requestId, model_info: { name: this.info.name, version: this.info.version, arch: this.info.arch }, model_uuid: this.info.uuid },
      from_finalize: flags.fromFinalize,
    };
  }

  private enqueue(task: () => void | Promise<void>): void {
    this.outbox = this.outbox.then(task).catch(() => undefined);
  }

  private send(message: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.fault === 'malformed') {
      // Per connection, alternately: a frame that is not JSON, and JSON that is not the documented shape.
      this.ws.send(
        this.malformedVariant % 2 === 0
          ? `upstream error: ${String(message.type)}`
          : JSON.stringify({ type: message.type, channel: 'unavailable', is_final: 'yes' }),
      );
      return;
    }
    this.ws.send(JSON.stringify(message));
  }
}
