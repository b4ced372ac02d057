/**
 * Local HTTP speech server: stands in for the speech vendors on the local stack.
 *
 *   POST /v1/transcribe?encoding=mulaw|pcm16&sample_rate=8000|16000[&context=STATE]
 *        body: raw audio (one utterance) → 200 { text, confidence, engine, decodeMs, fallback }
 *   POST /v1/synthesize   body: JSON { text, encoding, sample_rate, voice? }
 *        → 200 raw audio in the requested format, chunked, one chunk per sentence as soon as it is synthesized
 *   GET  /healthz         → { ok, stt: { ready, busy, queued, restarts } }
 *
 * Bad input → 400 { error }; too large → 413; engine failure → 503 { error }.
 */
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { z } from 'zod';
import { fromPcm, toPcm16k } from './audio';
import { PocketsphinxRecognizer, RecognizerError } from './stt/pocketsphinx';
import { FLITE_VOICES, loadFliteModule, MAX_TEXT_CHARS, splitSentences, synthesize, type FliteVoice } from './tts/flite';
import { readBodyUpTo } from '../http-body';

export interface SpeechServerOptions {
  readonly port?: number;
  readonly corpus: string[];
  readonly sttPoolSize?: number;
  /** Optional narrower LMs by dialog state name (the `context` query parameter selects one). */
  readonly contexts?: Record<string, string[]>;
  /** Sentences whose synthesized audio is kept (LRU; default 500); 0 synthesizes every request. */
  readonly ttsCacheEntries?: number;
  /** Recognizer thresholds (see PocketsphinxRecognizerOptions); defaults favour the domain decode. */
  readonly rejectBelow?: number;
  readonly verifyBelow?: number;
  readonly log?: (message: string) => void;
}

export interface SpeechServer {
  readonly url: string;
  close(): Promise<void>;
  /** The recognizer behind /v1/transcribe (tests use it to kill a decoder process). */
  readonly recognizer: PocketsphinxRecognizer;
}

/** 60 s of 16 kHz PCM16. */
const MAX_AUDIO_BYTES = 60 * 16000 * 2;
const MAX_JSON_BYTES = 64 * 1024;

const synthesizeBody = z.object({
  text: z.string().max(MAX_TEXT_CHARS),
  encoding: z.enum(['mulaw', 'pcm16']),
  sample_rate: z.union([z.literal(8000), z.literal(16000)]),
  voice: z.enum(FLITE_VOICES as [FliteVoice, ...FliteVoice[]]).optional(),
});

class HttpError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const data = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(data) });
  res.end(data);
}

function parseFormat(encoding: string | null, rate: string | null): { encoding: 'mulaw' | 'pcm16'; sampleRate: 8000 | 16000 } {
  if (encoding !== 'mulaw' && encoding !== 'pcm16') throw new HttpError(400, 'encoding must be mulaw or pcm16');
  if (rate !== '8000' && rate !== '16000') throw new HttpError(400, 'sample_rate must be 8000 or 16000');
  return { encoding, sampleRate: rate === '8000' ? 8000 : 16000 };
}

export async function startSpeechServer(opts: SpeechServerOptions): Promise<SpeechServer> {
  const log = opts.log ?? (() => undefined);
  const [recognizer] = await Promise.all([
    PocketsphinxRecognizer.create({
      corpus: opts.corpus,
      contexts: opts.contexts,
      poolSize: opts.sttPoolSize ?? 2,
      rejectBelow: opts.rejectBelow,
      verifyBelow: opts.verifyBelow,
      log,
    }),
    loadFliteModule(),
  ]);

  async function transcribe(req: IncomingMessage, res: ServerResponse, url: URL): Promise<void> {
    const format = parseFormat(url.searchParams.get('encoding'), url.searchParams.get('sample_rate'));
    const context = url.searchParams.get('context') ?? undefined;
    if (context !== undefined && !/^[A-Za-z0-9_.:-]{1,64}$/.test(context)) throw new HttpError(400, 'bad context');
    const body = await readBodyUpTo(req, MAX_AUDIO_BYTES, () => new HttpError(413, `body larger than ${MAX_AUDIO_BYTES} bytes`));
    if (body.length === 0) throw new HttpError(400, 'empty audio body');
    if (format.encoding === 'pcm16' && body.length % 2 !== 0) throw new HttpError(400, 'pcm16 body has an odd length');
    const pcm = toPcm16k(body, format.encoding, format.sampleRate);
    const abort = new AbortController();
    res.on('close', () => abort.abort());
    try {
      const r = await recognizer.recognize(pcm, { context, signal: abort.signal });
      sendJson(res, 200, {
        text: r.text,
        confidence: r.confidence,
        engine: r.engine,
        decodeMs: r.decodeMs,
        fallback: r.fallback,
      });
    } catch (e) {
      if (e instanceof RecognizerError && e.kind === 'aborted') return;
      throw new HttpError(503, `recognizer: ${e instanceof Error ? e.message : String(e)}`);
    }
  }

  /**
   * Sentences repeat across calls (the greeting, the re-prompt, the opening hours): their audio is cached, as a
   * production deployment caches static prompts. `ttsCacheEntries: 0` turns it off (every reply synthesized).
   */
  const ttsCache = new Map<string, Int16Array>();
  const ttsCacheEntries = opts.ttsCacheEntries ?? 500;
  async function synthesizeCached(sentence: string, voice: FliteVoice | undefined): Promise<Int16Array> {
    const key = `${voice ?? ''}|${sentence}`;
    const hit = ttsCache.get(key);
    if (hit) {
      ttsCache.delete(key);
      ttsCache.set(key, hit);
      return hit;
    }
    const audio = await synthesize(sentence, { voice, sampleRate: 16000 });
    if (ttsCacheEntries > 0) {
      ttsCache.set(key, audio);
      if (ttsCache.size > ttsCacheEntries) ttsCache.delete(ttsCache.keys().next().value!);
    }
    return audio;
  }

  async function synthesizeRoute(req: IncomingMessage, res: ServerResponse): Promise<void> {
    const raw = await readBodyUpTo(req, MAX_JSON_BYTES, () => new HttpError(413, `body larger than ${MAX_JSON_BYTES} bytes`));
    let json: unknown;
    try {
      json = JSON.parse(raw.toString('utf8'));
    } catch {
      throw new HttpError(400, 'body is not JSON');
    }
    const parsed = synthesizeBody.safeParse(json);
    if (!parsed.success) {
      throw new HttpError(400, parsed.error.issues.map((i) => `${i.path.join('.') || 'body'}: ${i.message}`).join('; '));
    }
    const { text, encoding, sample_rate: sampleRate, voice } = parsed.data;
    const sentences = splitSentences(text);
    if (sentences.length === 0) throw new HttpError(400, 'text has nothing to say');
    let closed = false;
    res.on('close', () => {
      closed = true;
    });
    // Synthesize the first sentence before committing to 200, so an engine failure is still a clean 503.
    let next: Int16Array;
    try {
      next = await synthesizeCached(sentences[0]!, voice);
    } catch (e) {
      throw new HttpError(503, `synthesizer: ${e instanceof Error ? e.message : String(e)}`);
    }
    res.writeHead(200, {
      'content-type': 'application/octet-stream',
      'x-audio-encoding': encoding,
      'x-sample-rate': String(sampleRate),
      'cache-control': 'no-store',
    });
    for (let i = 0; ; i++) {
      if (closed) return;
      res.write(fromPcm(next, 16000, encoding, sampleRate));
      if (i + 1 >= sentences.length) break;
      await new Promise((r) => setImmediate(r)); // let the chunk go out before the next synchronous synthesis
      if (closed) return;
      try {
        next = await synthesizeCached(sentences[i + 1]!, voice);
      } catch (e) {
        log(`synthesize failed mid-stream: ${e instanceof Error ? e.message : String(e)}`);
        res.destroy();
        return;
      }
    }
    res.end();
  }

  const server = createServer((req, res) => {
    const url = new URL(req.url ?? '/', 'http://127.0.0.1');
    const route = `${req.method} ${url.pathname}`;
    const run = async (): Promise<void> => {
      switch (route) {
        case 'POST /v1/transcribe':
          return transcribe(req, res, url);
        case 'POST /v1/synthesize':
          return synthesizeRoute(req, res);
        case 'GET /healthz':
          return sendJson(res, 200, { ok: true, stt: recognizer.stats });
        default:
          if (['/v1/transcribe', '/v1/synthesize', '/healthz'].includes(url.pathname)) {
            throw new HttpError(405, 'method not allowed');
          }
          throw new HttpError(404, 'not found');
      }
    };
    run().catch((e: unknown) => {
      const status = e instanceof HttpError ? e.status : 500;
      const message = e instanceof Error ? e.message : String(e);
      if (status >= 500) log(`${route}: ${message}`);
      if (res.headersSent) res.destroy();
      else sendJson(res, status, { error: message });
    });
  });
  server.keepAliveTimeout = 30_000;

  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(opts.port ?? 0, '127.0.0.1', () => resolve());
  }).catch(async (e: unknown) => {
    await recognizer.close();
    throw e;
  });
  const { port } = server.address() as AddressInfo;

  return {
    url: `http://127.0.0.1:${port}`,
    recognizer,
    async close() {
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      });
      await recognizer.close();
    },
  };
}
