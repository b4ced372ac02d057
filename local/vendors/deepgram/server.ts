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
import type { Socket } from 'node:net';
import type { Duplex } from 'node:stream';
import { WebSocketServer, type WebSocket } from 'ws';
import { drawDelay, FaultPlan, SEED_LATENCY, sleep, type Fault, type LatencyModel } from '../behaviour';
import { KnownUtteranceRecognizer, type Recognition, type UtteranceRecognizer, type WireEncoding } from '../known-utterances';
import { LiveSession } from './live-session';
import { ApiError, decodeBody, modelInfo, parseParams, presentedKey, punctuated, MAX_BODY_BYTES, round, wordsOf, type ListenParams } from './protocol';
import { listenOnLoopback } from '../../listen';
import { readBodyUpTo } from '../../http-body';

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
  /** Pre-recorded audio transcribed, in seconds (what Deepgram bills: `metadata.duration`). */
  audioSeconds: number;
}

/** Deepgram's encodings (the SDK's ListenV1Encoding); the stand-in decodes only LOCAL_ENCODINGS. */
export class DeepgramServer {
  readonly faults: FaultPlan;
  readonly stats: DeepgramServerStats = { httpRequests: 0, wsConnections: 0, faults: {}, recognized: { known: 0, fallback: 0, none: 0 }, audioSeconds: 0 };
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
    this.baseUrl = await listenOnLoopback(server, this.options.port);
    this.server = server;
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

  /** A request as it arrives: its URL, a request id, and its record (whether it presented the key). */
  private recordRequest(kind: RecordedRequest['kind'], req: IncomingMessage): { url: URL; requestId: string; rec: RecordedRequest } {
    const url = new URL(req.url ?? '/', 'http://local');
    const requestId = randomUUID();
    const rec = this.record({
      kind,
      method: req.method ?? '',
      path: url.pathname,
      query: Object.fromEntries(url.searchParams),
      authorized: presentedKey(req) === this.options.apiKey,
      requestId,
    });
    return { url, requestId, rec };
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
    const { url, requestId, rec } = this.recordRequest('http', req);
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
      const body = await readBodyUpTo(req, MAX_BODY_BYTES, () => new ApiError(413, 'PAYLOAD_TOO_LARGE', 'Payload too large'));
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
    this.stats.audioSeconds += duration;
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
    const { url, requestId, rec } = this.recordRequest('ws', req);
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
