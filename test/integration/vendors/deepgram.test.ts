/**
 * The Deepgram adapter (real @deepgram/sdk, nothing mocked) against the local Deepgram (local/vendors/deepgram/server.ts):
 * pre-recorded and live transcription of the known utterances, auth, every fault kind in both modes, the retry budget;
 * then the local server's own protocol with raw HTTP and ws.
 */
import { speech } from '../../support/stack';
import { createHash } from 'node:crypto';
import { createServer, type IncomingMessage, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import fc from 'fast-check';
import WebSocket from 'ws';
import { silence } from '../../../functions/domain/audio';
import { SpeechProviderError } from '../../../functions/domain/speech';
import { TELEPHONY_FORMAT, WIDEBAND_FORMAT, type AudioFormat } from '../../../functions/contracts/audio-format';
import type { DeepgramOptions, RetryInfo } from '../../../functions/providers/deepgram/client';
import type { DeepgramLiveTranscriber, LiveEvent, LiveOptions } from '../../../functions/providers/deepgram/live';
import { DeepgramSpeechToText } from '../../../functions/providers/deepgram/prerecorded';
import { synthesize } from '../../../local/speech/tts/flite';
import { ZERO_LATENCY, type Fault } from '../../../local/vendors/behaviour';
import { DeepgramServer } from '../../../local/vendors/deepgram/server';
import { KnownUtteranceRecognizer } from '../../../local/vendors/known-utterances';

jest.setTimeout(60_000);

const KEY = 'dg-test-key-0123456789abcdef';
/** Timers on this shared 2-core machine can run late; budgets are checked with this much tolerance. */
const SLACK_MS = 150;
let recognizer: KnownUtteranceRecognizer;
let server: DeepgramServer;
let url: string;

beforeAll(async () => {
  recognizer = await KnownUtteranceRecognizer.create();
  server = new DeepgramServer({ apiKey: KEY, latency: ZERO_LATENCY, recognizer });
  url = await server.start();
});
afterEach(() => server.faults.clear());
afterAll(async () => {
  await server?.close();
});


function adapter(options: Partial<DeepgramOptions> = {}, retries: RetryInfo[] = []): DeepgramSpeechToText {
  return new DeepgramSpeechToText({ apiKey: KEY, baseUrl: url, onRetry: (r) => retries.push(r), ...options });
}

/** Requests the server saw since `from`. */
const requestsSince = (from: number) => server.requests.slice(from);
const mark = () => server.requests.length;

async function failure(p: Promise<unknown>): Promise<SpeechProviderError> {
  try {
    await p;
  } catch (err) {
    if (err instanceof SpeechProviderError) return err;
    throw err;
  }
  throw new Error('expected a SpeechProviderError, got a result');
}

const elapsed = async <T>(p: Promise<T>): Promise<{ ms: number; result: PromiseSettledResult<T> }> => {
  const t = performance.now();
  const [result] = await Promise.allSettled([p]);
  return { ms: performance.now() - t, result: result! };
};

describe('pre-recorded (POST /v1/listen) through the SDK', () => {
  it.each([
    ['μ-law 8 kHz', TELEPHONY_FORMAT, 'mulaw', '8000'],
    ['linear16 16 kHz', WIDEBAND_FORMAT, 'linear16', '16000'],
  ] as const)('transcribes known utterances exactly, %s', async (_, format, encoding, rate) => {
    const stt = adapter({ model: 'nova-2', language: 'en-US' });
    for (const line of ['what are your opening hours', 'i would like to book an appointment', 'tuesday at three pm']) {
      const from = mark();
      const result = await stt.transcribe(await speech(line, format), format);
      expect(result.text).toBe(line);
      expect(result.confidence).toBeGreaterThan(0.9);
      const [request] = requestsSince(from);
      expect(request).toMatchObject({
        kind: 'http',
        method: 'POST',
        path: '/v1/listen',
        authorized: true,
        status: 200,
        query: { model: 'nova-2', language: 'en-US', encoding, sample_rate: rate, channels: '1' },
      });
    }
  });

  it('keeps the audio around a line out of it: silence before and after changes nothing', async () => {
    const line = await speech('cancel my appointment');
    const padded = new Uint8Array([...silence(700, TELEPHONY_FORMAT), ...line, ...silence(400, TELEPHONY_FORMAT)]);
    expect((await adapter().transcribe(padded, TELEPHONY_FORMAT)).text).toBe('cancel my appointment');
  });

  it('answers audio that is no known line with an empty transcript and confidence 0 (no fallback recognizer)', async () => {
    const result = await adapter().transcribe(await speech('do you sell chocolate cake'), TELEPHONY_FORMAT);
    expect(result).toEqual({ text: '', confidence: 0 });
  });

  it('delegates unknown audio to the fallback recognizer (the offline speech server API) when given one', async () => {
    const seen: Array<{ query: string; bytes: number }> = [];
    const stub = await listen((req, body) => {
      seen.push({ query: req.url ?? '', bytes: body.length });
      return { status: 200, body: { text: 'do you sell chocolate cake', confidence: 0.61 } };
    });
    const withFallback = new DeepgramServer({
      apiKey: KEY,
      latency: ZERO_LATENCY,
      recognizer: await KnownUtteranceRecognizer.create({ fallbackRecognizerUrl: stub.url }),
    });
    const fallbackUrl = await withFallback.start();
    try {
      const stt = new DeepgramSpeechToText({ apiKey: KEY, baseUrl: fallbackUrl });
      const unknown = await speech('do you sell chocolate cake');
      expect(await stt.transcribe(unknown, TELEPHONY_FORMAT)).toEqual({ text: 'do you sell chocolate cake', confidence: 0.61 });
      expect(seen).toEqual([{ query: '/v1/transcribe?encoding=mulaw&sample_rate=8000', bytes: unknown.length }]);
      // Known lines never reach it.
      expect((await stt.transcribe(await speech('goodbye'), TELEPHONY_FORMAT)).text).toBe('goodbye');
      expect(seen).toHaveLength(1);
      expect(withFallback.stats.recognized).toEqual({ known: 1, fallback: 1, none: 0 });
    } finally {
      await withFallback.close();
      await stub.close();
    }
  });

  it('rejects a wrong API key as rejected, without retrying, and never echoes the key', async () => {
    const retries: RetryInfo[] = [];
    const wrongKey = 'not-the-key-9f8e7d';
    const from = mark();
    const err = await failure(new DeepgramSpeechToText({ apiKey: wrongKey, baseUrl: url, onRetry: (r) => retries.push(r) }).transcribe(await speech('goodbye'), TELEPHONY_FORMAT));
    expect(err.kind).toBe('rejected');
    expect(err.provider).toBe('deepgram');
    expect(err.message).toMatch(/401.*INVALID_AUTH/);
    expect(err.message).not.toContain(wrongKey);
    expect(retries).toEqual([]);
    expect(requestsSince(from)).toEqual([expect.objectContaining({ authorized: false, status: 401 })]);
  });

  it('reports each request (attempts, retries, outcome) for metrics', async () => {
    const reports: unknown[] = [];
    server.faults.next('http-429');
    await adapter({ onRequest: (r) => reports.push(r) }).transcribe(await speech('yes please'), TELEPHONY_FORMAT);
    expect(reports).toEqual([expect.objectContaining({ mode: 'prerecorded', attempts: 2, retries: 1, outcome: 'ok' })]);
  });

  describe('faults: one bad attempt is retried within the budget and the next, clean, succeeds', () => {
    it.each([
      ['http-429', 'unavailable', 429],
      ['http-500', 'unavailable', 500],
      ['drop', 'unavailable', undefined],
      ['timeout', 'timeout', undefined],
      ['stall', 'timeout', undefined],
    ] as const)('%s', async (fault, kind, status) => {
      const retries: RetryInfo[] = [];
      const from = mark();
      server.faults.next(fault);
      const { ms, result } = await elapsed(adapter({ attemptTimeoutMs: 300, deadlineMs: 2000 }, retries).transcribe(await speech('no thanks'), TELEPHONY_FORMAT));
      expect(result).toEqual({ status: 'fulfilled', value: { text: 'no thanks', confidence: expect.any(Number) } });
      expect(retries).toEqual([expect.objectContaining({ attempt: 1, kind, status, mode: 'prerecorded' })]);
      expect(requestsSince(from).map((r) => r.fault)).toEqual([fault, undefined]);
      // A retry waits at most retryMaxDelayMs (250 ms), even after a 429 whose retry-after asks for 1 s.
      expect(retries[0]!.delayMs).toBeLessThanOrEqual(250);
      if (fault === 'http-429') expect(retries[0]!.delayMs).toBe(250);
      if (kind === 'timeout') expect(ms).toBeGreaterThanOrEqual(290);
      expect(ms).toBeLessThan(kind === 'timeout' ? 1500 : 1000);
    });

    it.each(['first', 'second'])('malformed, %s time (the server alternates: not JSON, not the documented shape) → malformed, not retried', async () => {
      const retries: RetryInfo[] = [];
      const from = mark();
      const variant = (server.stats.faults.malformed ?? 0) % 2;
      server.faults.next('malformed');
      const err = await failure(adapter({}, retries).transcribe(await speech('no thanks'), TELEPHONY_FORMAT));
      expect(err.kind).toBe('malformed');
      expect(err.message).toMatch(variant === 0 ? /not JSON/ : /has no results/);
      expect(retries).toEqual([]);
      expect(requestsSince(from)).toHaveLength(1);
    });
  });

  describe('faults that persist: the request fails with the right kind, bounded by its budget', () => {
    it.each([
      ['http-429', 'unavailable'],
      ['http-500', 'unavailable'],
      ['drop', 'unavailable'],
    ] as const)('%s → %s after 1 + maxRetries attempts', async (fault, kind) => {
      const retries: RetryInfo[] = [];
      const from = mark();
      server.faults.next(fault, 10);
      const err = await failure(adapter({ maxRetries: 2, deadlineMs: 3000 }, retries).transcribe(await speech('goodbye'), TELEPHONY_FORMAT));
      expect(err.kind).toBe(kind);
      expect(retries.map((r) => r.attempt)).toEqual([1, 2]);
      expect(requestsSince(from)).toHaveLength(3);
    });

    it.each(['timeout', 'stall'] as const)('%s → timeout within the deadline', async (fault) => {
      server.faults.next(fault, 10);
      const { ms, result } = await elapsed(adapter({ attemptTimeoutMs: 250, deadlineMs: 800, maxRetries: 5 }).transcribe(await speech('goodbye'), TELEPHONY_FORMAT));
      expect(result.status).toBe('rejected');
      expect(((result as PromiseRejectedResult).reason as SpeechProviderError).kind).toBe('timeout');
      expect(ms).toBeLessThanOrEqual(800 + SLACK_MS);
      expect(ms).toBeGreaterThanOrEqual(250);
    });
  });

  it('never spends more than the deadline, whatever the faults and budget', async () => {
    await fc.assert(
      fc.asyncProperty(
        fc.constantFrom<Fault>('timeout', 'stall', 'http-429', 'http-500', 'drop'),
        fc.integer({ min: 150, max: 600 }),
        fc.integer({ min: 150, max: 900 }),
        fc.integer({ min: 0, max: 4 }),
        async (fault, attemptTimeoutMs, deadlineMs, maxRetries) => {
          server.faults.clear();
          server.faults.next(fault, 20);
          const retries: RetryInfo[] = [];
          const from = mark();
          const { ms, result } = await elapsed(adapter({ attemptTimeoutMs, deadlineMs, maxRetries }, retries).transcribe(await speech('goodbye'), TELEPHONY_FORMAT));
          server.faults.clear();
          expect(result.status).toBe('rejected');
          expect(ms).toBeLessThanOrEqual(deadlineMs + SLACK_MS);
          expect(retries.length).toBeLessThanOrEqual(maxRetries);
          expect(requestsSince(from)).toHaveLength(retries.length + 1);
        },
      ),
      { numRuns: 12 },
    );
  });

  it("stops at once when the caller aborts, with the caller's reason", async () => {
    server.faults.next('timeout', 5);
    const controller = new AbortController();
    setTimeout(() => controller.abort(new Error('turn cancelled')), 100);
    const { ms, result } = await elapsed(adapter().transcribe(await speech('goodbye'), TELEPHONY_FORMAT, { signal: controller.signal }));
    expect(result).toEqual({ status: 'rejected', reason: new Error('turn cancelled') });
    expect(ms).toBeLessThan(400);
  });
});

// --- live -----------------------------------------------------------------------------------------------------------

/** Streams audio in 20 ms frames (as fast as the socket takes them: the server works in stream time). */
async function stream(live: DeepgramLiveTranscriber, audio: Uint8Array, format: AudioFormat): Promise<void> {
  const frame = (format.sampleRate / 50) * (format.encoding === 'pcm16' ? 2 : 1);
  for (let i = 0, n = 0; i < audio.length; i += frame, n++) {
    live.send(audio.subarray(i, i + frame));
    if (n % 10 === 9) await new Promise((r) => setImmediate(r));
  }
}

const concat = (...parts: Uint8Array[]) => Uint8Array.from(parts.flatMap((p) => Array.from(p)));

async function openLive(options: LiveOptions & Partial<DeepgramOptions> = {}, format: AudioFormat = TELEPHONY_FORMAT, events: LiveEvent[] = []) {
  const { apiKey, ...rest } = options;
  const stt = new DeepgramSpeechToText({ apiKey: apiKey ?? KEY, baseUrl: url, ...rest });
  return stt.live(format, { onEvent: (e) => events.push(e), ...rest });
}

describe('live (WSS /v1/listen) through the SDK', () => {
  it.each([
    ['μ-law 8 kHz', TELEPHONY_FORMAT, 'mulaw', '8000'],
    ['linear16 16 kHz', WIDEBAND_FORMAT, 'linear16', '16000'],
  ] as const)('%s: SpeechStarted, interim prefixes, a speech_final transcript, UtteranceEnd, then Metadata on close', async (_, format, encoding, rate) => {
    const line = 'i would like to book an appointment';
    const from = mark();
    const events: LiveEvent[] = [];
    const live = await openLive({}, format, events);
    expect(requestsSince(from)[0]).toMatchObject({
      kind: 'ws',
      path: '/v1/listen',
      authorized: true,
      status: 101,
      query: {
        model: 'nova-3',
        language: 'en',
        encoding,
        sample_rate: rate,
        channels: '1',
        interim_results: 'true',
        endpointing: '300',
        utterance_end_ms: '1000',
        vad_events: 'true',
      },
    });
    await stream(live, concat(silence(300, format), await speech(line, format), silence(1500, format)), format);
    expect(await live.finalize()).toEqual({ text: line, confidence: expect.any(Number) });
    expect(await live.close()).toEqual({ text: '' });

    const types = events.map((e) => (e.type === 'transcript' ? (e.isFinal ? (e.speechFinal ? 'speech_final' : 'final') : 'interim') : e.type));
    expect(types[0]).toBe('speech-started');
    const interims = events.filter((e): e is Extract<LiveEvent, { type: 'transcript' }> => e.type === 'transcript' && !e.isFinal);
    expect(interims.length).toBeGreaterThanOrEqual(2);
    for (const i of interims) expect(line.startsWith(i.text)).toBe(true);
    const finals = events.filter((e): e is Extract<LiveEvent, { type: 'transcript' }> => e.type === 'transcript' && e.isFinal);
    expect(finals[0]).toMatchObject({ text: line, speechFinal: true, fromFinalize: false, start: 0 });
    expect(types.indexOf('utterance-end')).toBeGreaterThan(types.indexOf('speech_final'));
    const utteranceEnd = events.find((e) => e.type === 'utterance-end') as Extract<LiveEvent, { type: 'utterance-end' }>;
    expect(utteranceEnd.lastWordEnd).toBeGreaterThan(1);
    expect(types.slice(-2)).toEqual(['metadata', 'closed']);
    expect(events.at(-1)).toEqual({ type: 'closed', code: 1000, reason: '' });
    expect(live.isOpen).toBe(false);
  });

  it('finalize() flushes speech that endpointing has not closed yet (from_finalize)', async () => {
    const events: LiveEvent[] = [];
    const live = await openLive({ interimResults: false, vadEvents: false }, TELEPHONY_FORMAT, events);
    await stream(live, await speech('where are you located'), TELEPHONY_FORMAT);
    expect(await live.finalize()).toEqual({ text: 'where are you located', confidence: expect.any(Number) });
    expect(events).toEqual([expect.objectContaining({ type: 'transcript', isFinal: true, speechFinal: false, fromFinalize: true, text: 'where are you located' })]);
    await live.close();
  });

  it('iterates events and keeps two utterances of one stream apart', async () => {
    const live = await openLive({ interimResults: false });
    const seen: LiveEvent[] = [];
    const reading = (async () => {
      for await (const e of live) seen.push(e);
    })();
    await stream(
      live,
      concat(await speech('what are your opening hours'), silence(600, TELEPHONY_FORMAT), await speech('goodbye'), silence(600, TELEPHONY_FORMAT)),
      TELEPHONY_FORMAT,
    );
    expect((await live.finalize()).text).toBe('what are your opening hours goodbye');
    await live.close();
    await reading;
    const finals = seen.filter((e) => e.type === 'transcript' && e.speechFinal).map((e) => (e as { text: string }).text);
    expect(finals).toEqual(['what are your opening hours', 'goodbye']);
    expect(seen.filter((e) => e.type === 'speech-started')).toHaveLength(2);
    expect(seen.at(-1)?.type).toBe('closed');
  });

  it('keeps a connection open with KeepAlive; Deepgram closes an idle one (1011 NET-0001) and the stream fails unavailable', async () => {
    const idle = new DeepgramServer({ apiKey: KEY, latency: ZERO_LATENCY, recognizer, idleTimeoutMs: 500 });
    const idleUrl = await idle.start();
    try {
      const events: LiveEvent[] = [];
      const live = await new DeepgramSpeechToText({ apiKey: KEY, baseUrl: idleUrl }).live(TELEPHONY_FORMAT, { onEvent: (e) => events.push(e) });
      for (let i = 0; i < 8; i++) {
        await new Promise((r) => setTimeout(r, 100));
        live.keepAlive();
      }
      expect(live.isOpen).toBe(true);
      await new Promise((r) => setTimeout(r, 1000));
      expect(events.at(-1)).toMatchObject({ type: 'closed', code: 1011 });
      const error = events.find((e) => e.type === 'error') as Extract<LiveEvent, { type: 'error' }>;
      expect(error.error.kind).toBe('unavailable');
      expect(error.error.message).toMatch(/NET-0001/);
      expect(() => live.send(new Uint8Array(160))).toThrow(error.error);
    } finally {
      await idle.close();
    }
  });

  it('rejects a wrong API key at the upgrade, without retrying', async () => {
    const retries: RetryInfo[] = [];
    const from = mark();
    const err = await failure(openLive({ apiKey: 'wrong-key', onRetry: (r) => retries.push(r) }));
    expect(err.kind).toBe('rejected');
    expect(err.message).toMatch(/401/);
    expect(retries).toEqual([]);
    expect(requestsSince(from)).toEqual([expect.objectContaining({ kind: 'ws', authorized: false, status: 401 })]);
  });

  describe('faults at the upgrade: retried within the open budget, then the clean attempt streams', () => {
    it.each([
      ['http-429', 'unavailable', 429],
      ['http-500', 'unavailable', 500],
      ['timeout', 'timeout', undefined],
    ] as const)('%s', async (fault, kind, status) => {
      const retries: RetryInfo[] = [];
      const from = mark();
      server.faults.next(fault);
      const { ms, result } = await elapsed(openLive({ openTimeoutMs: 300, openDeadlineMs: 2000, onRetry: (r) => retries.push(r) }));
      expect(result.status).toBe('fulfilled');
      const live = (result as PromiseFulfilledResult<DeepgramLiveTranscriber>).value;
      expect(retries).toEqual([expect.objectContaining({ attempt: 1, kind, status, mode: 'live' })]);
      expect(requestsSince(from).map((r) => [r.fault, r.status])).toEqual([
        [fault, fault === 'timeout' ? undefined : status],
        [undefined, 101],
      ]);
      if (fault === 'timeout') expect(ms).toBeGreaterThanOrEqual(290);
      await stream(live, await speech('yes please'), TELEPHONY_FORMAT);
      expect((await live.finalize()).text).toBe('yes please');
      await live.close();
    });

    it.each([
      ['http-429', 'unavailable'],
      ['http-500', 'unavailable'],
      ['timeout', 'timeout'],
    ] as const)('%s persisting → %s within the open deadline', async (fault, kind) => {
      server.faults.next(fault, 20);
      const { ms, result } = await elapsed(openLive({ openTimeoutMs: 200, openDeadlineMs: 700, maxRetries: 5 }));
      expect(result.status).toBe('rejected');
      expect(((result as PromiseRejectedResult).reason as SpeechProviderError).kind).toBe(kind);
      expect(ms).toBeLessThanOrEqual(700 + SLACK_MS);
    });
  });

  describe('faults after the upgrade', () => {
    it('stall: finalize() fails with timeout, bounded by resultTimeoutMs', async () => {
      server.faults.next('stall');
      const live = await openLive({ resultTimeoutMs: 400 });
      await stream(live, await speech('goodbye'), TELEPHONY_FORMAT);
      const { ms, result } = await elapsed(live.finalize());
      expect(((result as PromiseRejectedResult).reason as SpeechProviderError).kind).toBe('timeout');
      expect(ms).toBeGreaterThanOrEqual(390);
      expect(ms).toBeLessThan(400 + 200);
      expect(live.isOpen).toBe(false);
    });

    it.each(['first', 'second'])('malformed, %s time (the server alternates: not JSON, not the documented shape) → malformed', async () => {
      const variant = (server.stats.faults.malformed ?? 0) % 2;
      server.faults.next('malformed');
      const events: LiveEvent[] = [];
      const live = await openLive({ resultTimeoutMs: 1000 }, TELEPHONY_FORMAT, events);
      const err = await failure(
        (async () => {
          await stream(live, concat(await speech('goodbye'), silence(500, TELEPHONY_FORMAT)), TELEPHONY_FORMAT);
          await live.finalize();
        })(),
      );
      expect(err.kind).toBe('malformed');
      expect(err.message).toMatch(variant === 0 ? /not a Deepgram message/ : /without/);
      expect(events.filter((e) => e.type === 'error').map((e) => (e as { error: SpeechProviderError }).error.kind)).toEqual(['malformed']);
      expect(events.at(-1)?.type).toBe('closed');
    });

    it('drop: the connection is destroyed mid-stream → unavailable', async () => {
      server.faults.next('drop');
      const events: LiveEvent[] = [];
      const live = await openLive({}, TELEPHONY_FORMAT, events);
      const err = await failure(
        (async () => {
          await stream(live, await speech('goodbye'), TELEPHONY_FORMAT);
          await live.finalize();
        })(),
      );
      expect(err.kind).toBe('unavailable');
      expect(events.at(-1)).toMatchObject({ type: 'closed', code: 1006 });
    });
  });
});

// --- the local server's protocol, raw ---------------------------------------------------------------------------------

interface Raw {
  status: number;
  headers: Headers;
  json: unknown;
}

async function post(query: string, body: Uint8Array | string, headers: Record<string, string> = { authorization: `Token ${KEY}` }, path = '/v1/listen', method = 'POST'): Promise<Raw> {
  const res = await fetch(`${url}${path}${query}`, { method, headers: { 'content-type': 'application/octet-stream', ...headers }, body: method === 'GET' ? undefined : (body as BodyInit) });
  const text = await res.text();
  let json: unknown = text;
  try {
    json = JSON.parse(text);
  } catch {
    /* not JSON */
  }
  return { status: res.status, headers: res.headers, json };
}

/** Opens a raw WebSocket; resolves on open, or with the refused upgrade's status and body. */
function rawWs(query: string, options: { headers?: Record<string, string>; protocols?: string[] } = { headers: { authorization: `Token ${KEY}` } }) {
  const ws = new WebSocket(`${url.replace('http', 'ws')}/v1/listen${query}`, options.protocols ?? [], { headers: options.headers });
  const messages: Array<Record<string, unknown>> = [];
  const closed = new Promise<{ code: number; reason: string }>((r) => ws.once('close', (code, reason) => r({ code, reason: reason.toString() })));
  ws.on('message', (data) => messages.push(JSON.parse(String(data)) as Record<string, unknown>));
  const opened = new Promise<{ open: true } | { open: false; status: number; body: unknown }>((resolve) => {
    ws.once('open', () => resolve({ open: true }));
    ws.once('unexpected-response', (_req, res: IncomingMessage) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => resolve({ open: false, status: res.statusCode ?? 0, body: JSON.parse(body) }));
    });
    ws.once('error', () => undefined);
  });
  return { ws, messages, closed, opened };
}

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{4}-[0-9a-f]{12}$/;

describe('the local Deepgram, raw HTTP and ws', () => {
  const Q = '?model=nova-3&encoding=mulaw&sample_rate=8000';

  it('checks Authorization: Token <key> and answers 401 with Deepgram error body otherwise', async () => {
    const audio = await speech('goodbye');
    for (const headers of [{}, { authorization: `Bearer ${KEY}` }, { authorization: 'Token nope' }, { authorization: KEY }] as Array<Record<string, string>>) {
      const res = await post(Q, audio, headers);
      expect(res.status).toBe(401);
      expect(res.json).toEqual({ err_code: 'INVALID_AUTH', err_msg: 'Invalid credentials.', request_id: expect.stringMatching(UUID) });
      expect(res.headers.get('dg-request-id')).toBe((res.json as { request_id: string }).request_id);
    }
    expect((await post(Q, audio, { authorization: `token   ${KEY}` })).status).toBe(200);
  });

  it.each([
    ['?encoding=bogus&sample_rate=8000', /encoding: unknown variant/],
    ['?encoding=opus&sample_rate=8000', /not supported by the local Deepgram/],
    ['?encoding=mulaw', /sample_rate is required/],
    ['?encoding=mulaw&sample_rate=fast', /sample_rate/],
    ['?encoding=mulaw&sample_rate=8000&channels=2', /mono/],
    ['?encoding=mulaw&sample_rate=8000&model=gpt-4o', /No such model\/language\/tier combination/],
    ['?encoding=mulaw&sample_rate=8000&language=English', /No such model\/language\/tier combination/],
    ['?encoding=mulaw&sample_rate=8000&punctuate=yes', /punctuate: expected a boolean/],
    ['?encoding=mulaw&sample_rate=8000&endpointing=soon', /endpointing/],
  ])('400 for %s', async (query, message) => {
    const res = await post(query, await speech('goodbye'));
    expect(res.status).toBe(400);
    expect(res.json).toEqual({ err_code: 'Bad Request', err_msg: expect.stringMatching(message), request_id: expect.stringMatching(UUID) });
  });

  it('400 for an empty or undecodable body, a JSON (URL) body; 404 elsewhere; 405 for GET without upgrade', async () => {
    expect((await post(Q, new Uint8Array())).json).toMatchObject({ err_msg: expect.stringMatching(/corrupt or unsupported data/) });
    expect((await post('?model=nova-3', new Uint8Array([1, 2, 3, 4]))).status).toBe(400); // no encoding, not a WAV
    expect((await post('?encoding=linear16&sample_rate=16000', new Uint8Array(3))).status).toBe(400); // odd PCM16
    expect((await post(Q, JSON.stringify({ url: 'https://dpgr.am/spacewalk.wav' }), { authorization: `Token ${KEY}`, 'content-type': 'application/json' })).status).toBe(400);
    expect((await post(Q, new Uint8Array(10), undefined, '/v1/speak')).status).toBe(404);
    expect((await post(Q, new Uint8Array(), undefined, '/v1/listen', 'GET')).status).toBe(405);
  });

  it('answers the documented pre-recorded shape', async () => {
    const audio = await speech('what are your opening hours');
    const res = await post(`${Q}&punctuate=true`, audio);
    expect(res.status).toBe(200);
    const body = res.json as {
      metadata: Record<string, unknown> & { models: string[]; model_info: Record<string, unknown> };
      results: { channels: Array<{ alternatives: Array<{ transcript: string; confidence: number; words: Array<Record<string, unknown>> }> }> };
    };
    expect(body.metadata).toEqual({
      transaction_key: 'deprecated',
      request_id: res.headers.get('dg-request-id'),
      sha256: createHash('sha256').update(audio).digest('hex'),
      created: expect.any(String),
      duration: audio.length / 8000,
      channels: 1,
      models: [expect.stringMatching(UUID)],
      model_info: { [body.metadata.models[0]!]: { name: 'general-nova-3', version: expect.any(String), arch: 'nova-3' } },
    });
    expect(Number.isNaN(Date.parse(body.metadata.created as string))).toBe(false);
    const alt = body.results.channels[0]!.alternatives[0]!;
    expect(alt.transcript).toBe('What are your opening hours?');
    expect(alt.words.map((w) => w.word)).toEqual(['what', 'are', 'your', 'opening', 'hours']);
    expect(alt.words.at(-1)?.punctuated_word).toBe('hours?');
    for (const [i, w] of alt.words.entries()) {
      expect(w).toEqual({ word: expect.any(String), start: expect.any(Number), end: expect.any(Number), confidence: alt.confidence, punctuated_word: expect.any(String) });
      expect(w.end as number).toBeGreaterThan(w.start as number);
      if (i > 0) expect(w.start as number).toBeGreaterThanOrEqual(alt.words[i - 1]!.end as number);
    }
    expect(alt.words[0]!.start as number).toBeGreaterThan(0);
    expect(alt.words.at(-1)!.end as number).toBeLessThanOrEqual(audio.length / 8000);
  });

  it('reads a WAV container when no encoding is given', async () => {
    const pcm = await synthesize('monday at nine thirty', { voice: 'rms', sampleRate: 16000 });
    const wav = Buffer.alloc(44 + pcm.byteLength);
    wav.write('RIFF', 0);
    wav.writeUInt32LE(36 + pcm.byteLength, 4);
    wav.write('WAVEfmt ', 8);
    wav.writeUInt32LE(16, 16);
    wav.writeUInt16LE(1, 20);
    wav.writeUInt16LE(1, 22);
    wav.writeUInt32LE(16000, 24);
    wav.writeUInt32LE(32000, 28);
    wav.writeUInt16LE(2, 32);
    wav.writeUInt16LE(16, 34);
    wav.write('data', 36);
    wav.writeUInt32LE(pcm.byteLength, 40);
    Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).copy(wav, 44);
    const res = await post('?model=nova-3', wav);
    expect((res.json as { results: { channels: Array<{ alternatives: Array<{ transcript: string }> }> } }).results.channels[0]!.alternatives[0]!.transcript).toBe('monday at nine thirty');
  });

  it('waits sttAfterAudio after the body before answering', async () => {
    const slow = new DeepgramServer({ apiKey: KEY, recognizer, latency: { ...ZERO_LATENCY, sttAfterAudio: { kind: 'fixed', ms: 300 } } });
    const slowUrl = await slow.start();
    try {
      const stt = new DeepgramSpeechToText({ apiKey: KEY, baseUrl: slowUrl });
      const audio = await speech('goodbye');
      const { ms } = await elapsed(stt.transcribe(audio, TELEPHONY_FORMAT));
      expect(ms).toBeGreaterThanOrEqual(295);
      const live = await stt.live(TELEPHONY_FORMAT, { interimResults: false });
      await stream(live, audio, TELEPHONY_FORMAT);
      const timed = await elapsed(live.finalize());
      expect(timed.result).toEqual({ status: 'fulfilled', value: { text: 'goodbye', confidence: expect.any(Number) } });
      expect(timed.ms).toBeGreaterThanOrEqual(295);
      await live.close();
    } finally {
      await slow.close();
    }
  });

  it('refuses the upgrade with 401 / 400 and the error body; accepts the browser form of auth (subprotocols token, <key>)', async () => {
    const noAuth = rawWs(Q, {});
    expect(await noAuth.opened).toEqual({ open: false, status: 401, body: { err_code: 'INVALID_AUTH', err_msg: 'Invalid credentials.', request_id: expect.stringMatching(UUID) } });
    const badQuery = rawWs('?encoding=mulaw');
    expect(await badQuery.opened).toMatchObject({ open: false, status: 400, body: { err_code: 'Bad Request', err_msg: expect.stringMatching(/sample_rate/) } });
    const containerLive = rawWs('?model=nova-3');
    expect(await containerLive.opened).toMatchObject({ open: false, status: 400 });
    const browser = rawWs(Q, { protocols: ['token', KEY] });
    expect(await browser.opened).toEqual({ open: true });
    expect(browser.ws.protocol).toBe('token');
    browser.ws.close();
  });

  it('streams Deepgram-shaped Results, SpeechStarted and UtteranceEnd; CloseStream → Metadata, close 1000', async () => {
    const line = 'can i move my appointment to friday at ten am';
    const c = rawWs(`${Q}&interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true&punctuate=true`);
    expect(await c.opened).toEqual({ open: true });
    const audio = concat(silence(200, TELEPHONY_FORMAT), await speech(line), silence(1300, TELEPHONY_FORMAT));
    for (let i = 0; i < audio.length; i += 160) c.ws.send(audio.subarray(i, i + 160));
    c.ws.send(JSON.stringify({ type: 'KeepAlive' }));
    c.ws.send(JSON.stringify({ type: 'CloseStream' }));
    expect(await c.closed).toEqual({ code: 1000, reason: '' });
    const types = c.messages.map((m) => m.type);
    expect(types[0]).toBe('SpeechStarted');
    expect(c.messages[0]).toEqual({ type: 'SpeechStarted', channel: [0, 1], timestamp: expect.any(Number) });
    expect(c.messages[0]!.timestamp as number).toBeGreaterThanOrEqual(0.2);
    const final = c.messages.find((m) => m.type === 'Results' && m.is_final)!;
    expect(final).toEqual({
      type: 'Results',
      channel_index: [0, 1],
      duration: expect.any(Number),
      start: 0,
      is_final: true,
      speech_final: true,
      channel: { alternatives: [{ transcript: 'Can I move my appointment to friday at ten am?', confidence: expect.any(Number), words: expect.any(Array) }] },
      metadata: { request_id: expect.stringMatching(UUID), model_info: { name: 'general-nova-3', version: expect.any(String), arch: 'nova-3' }, model_uuid: expect.stringMatching(UUID) },
      from_finalize: false,
    });
    const interim = c.messages.find((m) => m.type === 'Results' && !m.is_final)!;
    expect(interim).toMatchObject({ is_final: false, speech_final: false, from_finalize: false });
    expect(types).toContain('UtteranceEnd');
    expect(c.messages.find((m) => m.type === 'UtteranceEnd')).toEqual({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: expect.any(Number) });
    expect(c.messages.at(-1)).toEqual({
      type: 'Metadata',
      transaction_key: 'deprecated',
      request_id: (final.metadata as { request_id: string }).request_id,
      sha256: createHash('sha256').update(audio).digest('hex'),
      created: expect.any(String),
      duration: audio.length / 8000,
      channels: 1,
    });
  });

  it('closes 1008 on a text message that is not a control message', async () => {
    const c = rawWs(Q);
    await c.opened;
    c.ws.send('hello');
    expect((await c.closed).code).toBe(1008);
  });
});

// --- helpers ------------------------------------------------------------------------------------------------------

async function listen(handler: (req: IncomingMessage, body: Buffer) => { status: number; body: unknown }): Promise<{ url: string; close: () => Promise<void> }> {
  const s: Server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const out = handler(req, Buffer.concat(chunks));
      res.writeHead(out.status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(out.body));
    });
  });
  await new Promise<void>((r) => s.listen(0, '127.0.0.1', r));
  return {
    url: `http://127.0.0.1:${(s.address() as AddressInfo).port}`,
    close: () =>
      new Promise<void>((r) => {
        s.closeAllConnections();
        s.close(() => r());
      }),
  };
}
