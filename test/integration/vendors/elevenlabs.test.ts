/**
 * Contract: the product's ElevenLabs adapter (the real SDK, nothing mocked) against the local ElevenLabs server:
 * both output formats, both modes, auth, every fault kind, retries and their limits, and the static prompt cache.
 */
import { createServer } from 'node:net';
import { durationMs, levelDbfs, toPcm16 } from '../../../functions/domain/audio';
import { SpeechProviderError } from '../../../functions/domain/speech';
import { TELEPHONY_FORMAT, WIDEBAND_FORMAT, type AudioFormat } from '../../../functions/contracts/audio-format';
import { ElevenLabsTextToSpeech, type ElevenLabsRetryEvent, type ElevenLabsTtsOptions } from '../../../functions/providers/elevenlabs/tts';
import { OfflineSpeechToText } from '../../../functions/providers/offline/stt';
import { StaticPromptCache } from '../../../functions/providers/prompt-cache';
import { splitSentences } from '../../../functions/domain/call/sentences';
import { startSpeechServer, type SpeechServer } from '../../../local/speech/server';
import type { LatencyModel } from '../../../local/vendors/behaviour';
import { ElevenLabsServer, SYNTHETIC_MS_PER_CHAR, syntheticAudio } from '../../../local/vendors/elevenlabs-server';
import { DEV_CORPUS } from '../speech/corpus';

jest.setTimeout(60_000);

const KEY = 'el-test-key';
const VOICE = '21m00Tcm4TlvDq8ikWAM';
/** 40 characters: 2.8 s of synthetic audio. */
const TEXT = 'Our opening hours are nine to five today';
const FIRST_BYTE_MS = 150;
const FACTOR = 4;
const LATENCY: LatencyModel = {
  sttAfterAudio: { kind: 'fixed', ms: 0 },
  ttsFirstByte: { kind: 'fixed', ms: FIRST_BYTE_MS },
  ttsRealtimeFactor: FACTOR,
};

let el: ElevenLabsServer;
beforeAll(async () => {
  el = new ElevenLabsServer({ apiKey: KEY, latency: LATENCY, voices: [VOICE], retryAfterSeconds: 0 });
  await el.start();
  // Evaluating the SDK takes seconds under jest; keep it out of the timed tests.
  await adapter().prime();
}, 120_000);
afterAll(() => el.close());
afterEach(() => el.faults.clear());

function adapter(overrides: Partial<ElevenLabsTtsOptions> = {}): ElevenLabsTextToSpeech {
  return new ElevenLabsTextToSpeech({
    apiKey: KEY,
    voiceId: VOICE,
    baseUrl: el.url,
    firstByteTimeoutMs: 2000,
    idleTimeoutMs: 1000,
    retryBaseDelayMs: 20,
    ...overrides,
  });
}

interface Collected {
  chunks: Uint8Array[];
  at: number[]; // ms since the call, per chunk
  error?: unknown;
  ms: number; // until done or failed
}
async function collect(it: AsyncIterable<Uint8Array>): Promise<Collected> {
  const t0 = performance.now();
  const out: Collected = { chunks: [], at: [], ms: 0 };
  try {
    for await (const c of it) {
      out.chunks.push(c);
      out.at.push(performance.now() - t0);
    }
  } catch (e) {
    out.error = e;
  }
  out.ms = performance.now() - t0;
  return out;
}
const join = (cs: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(cs.reduce((n, c) => n + c.byteLength, 0));
  let o = 0;
  for (const c of cs) {
    out.set(c, o);
    o += c.byteLength;
  }
  return out;
};
/** Requests the server saw while `fn` ran. */
async function counting<T>(fn: () => Promise<T>): Promise<{ result: T; requests: number }> {
  const before = el.stats.ttsRequests;
  const result = await fn();
  return { result, requests: el.stats.ttsRequests - before };
}

describe('formats and modes', () => {
  test.each([
    ['telephony (ulaw_8000)', TELEPHONY_FORMAT],
    ['wideband (pcm_16000)', WIDEBAND_FORMAT],
  ] as [string, AudioFormat][])('%s: raw audio in the format, first chunk long before the stream ends', async (_, format) => {
    const got = await collect(adapter().synthesize(TEXT, format));
    expect(got.error).toBeUndefined();
    const audio = join(got.chunks);
    // The bytes are the server's clip for this format, whole and in order.
    expect(durationMs(audio.byteLength, format)).toBeCloseTo(TEXT.length * SYNTHETIC_MS_PER_CHAR, 0);
    expect(audio).toEqual(syntheticAudio(TEXT, format));
    const level = levelDbfs(toPcm16(audio, format));
    expect(level).toBeGreaterThan(-25);
    expect(level).toBeLessThan(-8);
    if (format.encoding === 'pcm16') for (const c of got.chunks) expect(c.byteLength % 2).toBe(0); // server splits mid-sample
    expect(el.requests.at(-1)).toMatchObject({
      route: 'stream',
      outputFormat: format.encoding === 'mulaw' ? 'ulaw_8000' : 'pcm_16000',
      modelId: 'eleven_flash_v2_5',
      status: 200,
    });
    // Streaming, per the latency model: first byte after ~150 ms, the rest paced over 2.8 s / 4 = 700 ms.
    const streamMs = (TEXT.length * SYNTHETIC_MS_PER_CHAR) / FACTOR;
    expect(got.chunks.length).toBeGreaterThan(10);
    expect(got.at[0]!).toBeGreaterThanOrEqual(FIRST_BYTE_MS - 5);
    expect(got.at[0]!).toBeLessThan(FIRST_BYTE_MS + 250);
    expect(got.at.at(-1)! - got.at[0]!).toBeGreaterThan(streamMs * 0.7);
  });

  test('convert mode (POST /v1/text-to-speech/{voice_id}): the same audio, first byte only once the whole clip exists', async () => {
    const got = await collect(adapter({ mode: 'convert' }).synthesize(TEXT, TELEPHONY_FORMAT));
    expect(got.error).toBeUndefined();
    expect(join(got.chunks)).toEqual(syntheticAudio(TEXT, TELEPHONY_FORMAT));
    expect(el.requests.at(-1)).toMatchObject({ route: 'convert', outputFormat: 'ulaw_8000', status: 200 });
    const wholeMs = FIRST_BYTE_MS + (TEXT.length * SYNTHETIC_MS_PER_CHAR) / FACTOR;
    expect(got.at[0]!).toBeGreaterThan(wholeMs - 20);
  });

  test('model id, optimize_streaming_latency and voice settings reach the API', async () => {
    const tts = adapter({ modelId: 'eleven_turbo_v2_5', optimizeStreamingLatency: 2, voiceSettings: { stability: 0.4, speed: 1.1 } });
    expect((await collect(tts.synthesize('Hello.', WIDEBAND_FORMAT))).error).toBeUndefined();
    expect(el.requests.at(-1)).toMatchObject({ modelId: 'eleven_turbo_v2_5', optimizeStreamingLatency: 2, outputFormat: 'pcm_16000' });
  });

  test('a format ElevenLabs is not used with is a clear error, without a request', async () => {
    const { result, requests } = await counting(() => collect(adapter().synthesize(TEXT, { encoding: 'mulaw', sampleRate: 16000 })));
    expect(result.error).toBeInstanceOf(SpeechProviderError);
    expect(result.error).toMatchObject({ kind: 'rejected', message: expect.stringContaining('mulaw/16000') });
    expect(requests).toBe(0);
  });
});

describe('failures', () => {
  test('wrong API key → rejected at once, no retry, the key never in the message', async () => {
    const retries: ElevenLabsRetryEvent[] = [];
    const tts = adapter({ apiKey: 'sk_wrong_secret_value', onRetry: (e) => retries.push(e) });
    const { result, requests } = await counting(() => collect(tts.synthesize(TEXT, TELEPHONY_FORMAT)));
    expect(result.error).toMatchObject({ name: 'SpeechProviderError', provider: 'elevenlabs', kind: 'rejected' });
    expect((result.error as Error).message).toBe('HTTP 401: invalid_api_key: Invalid API key');
    expect((result.error as Error).message).not.toContain('sk_wrong');
    expect(requests).toBe(1);
    expect(retries).toEqual([]);
  });

  test('unknown voice → rejected (404), no retry', async () => {
    const { result, requests } = await counting(() => collect(adapter({ voiceId: 'nosuchvoice' }).synthesize(TEXT, TELEPHONY_FORMAT)));
    expect(result.error).toMatchObject({ kind: 'rejected', message: expect.stringContaining('voice_not_found') });
    expect(requests).toBe(1);
  });

  test.each(['http-429', 'http-500'] as const)('%s twice before the first byte: retried within the budget, then the whole clip once', async (fault) => {
    el.faults.next(fault, 2);
    const retries: ElevenLabsRetryEvent[] = [];
    const { result, requests } = await counting(() => collect(adapter({ onRetry: (e) => retries.push(e) }).synthesize(TEXT, TELEPHONY_FORMAT)));
    expect(result.error).toBeUndefined();
    expect(join(result.chunks)).toEqual(syntheticAudio(TEXT, TELEPHONY_FORMAT));
    expect(requests).toBe(3);
    const status = fault === 'http-429' ? 429 : 500;
    expect(retries).toEqual([
      expect.objectContaining({ attempt: 1, status }),
      expect.objectContaining({ attempt: 2, status }),
    ]);
  });

  test('errors beyond the retry budget → unavailable after 1 + maxRetries requests', async () => {
    el.faults.next('http-500', 5);
    const retries: ElevenLabsRetryEvent[] = [];
    const { result, requests } = await counting(() => collect(adapter({ maxRetries: 2, onRetry: (e) => retries.push(e) }).synthesize(TEXT, TELEPHONY_FORMAT)));
    expect(result.error).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('HTTP 500') });
    expect(requests).toBe(3);
    expect(retries).toHaveLength(2);
  });

  test('a Retry-After longer than maxRetryDelayMs is not waited for: unavailable at once', async () => {
    const slow = new ElevenLabsServer({ apiKey: KEY, latency: LATENCY, retryAfterSeconds: 5 });
    await slow.start();
    try {
      slow.faults.next('http-429');
      const retries: ElevenLabsRetryEvent[] = [];
      const got = await collect(adapter({ baseUrl: slow.url, maxRetryDelayMs: 1000, onRetry: (e) => retries.push(e) }).synthesize(TEXT, TELEPHONY_FORMAT));
      expect(got.error).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('429') });
      expect(retries).toEqual([]);
      expect(got.ms).toBeLessThan(1000);
      expect(slow.stats.ttsRequests).toBe(1);
    } finally {
      await slow.close();
    }
  });

  test('timeout (never answered) → timeout at the first-byte deadline, not retried', async () => {
    el.faults.next('timeout', 3);
    const retries: ElevenLabsRetryEvent[] = [];
    const { result, requests } = await counting(() =>
      collect(adapter({ firstByteTimeoutMs: 400, onRetry: (e) => retries.push(e) }).synthesize(TEXT, TELEPHONY_FORMAT)),
    );
    expect(result.error).toMatchObject({ kind: 'timeout', message: 'no audio within 400 ms' });
    expect(result.ms).toBeGreaterThanOrEqual(390);
    expect(result.ms).toBeLessThan(1200);
    expect(requests).toBe(1);
    expect(retries).toEqual([]);
  });

  test('the first-byte deadline bounds retries too: 500s then silence end at the deadline', async () => {
    el.faults.next('http-500').next('timeout', 3);
    const got = await collect(adapter({ firstByteTimeoutMs: 500 }).synthesize(TEXT, TELEPHONY_FORMAT));
    expect(got.error).toMatchObject({ kind: 'timeout' });
    expect(got.ms).toBeLessThan(1300);
  });

  test('stall (first chunk, then nothing) → the chunk, then timeout after idleTimeoutMs, not retried', async () => {
    el.faults.next('stall');
    const { result, requests } = await counting(() => collect(adapter({ idleTimeoutMs: 300 }).synthesize(TEXT, TELEPHONY_FORMAT)));
    expect(result.chunks).toHaveLength(1);
    expect(result.error).toMatchObject({ kind: 'timeout', message: expect.stringContaining('nothing for 300 ms') });
    expect(result.ms - result.at[0]!).toBeGreaterThanOrEqual(290);
    expect(result.ms - result.at[0]!).toBeLessThan(1000);
    expect(requests).toBe(1);
  });

  test('malformed (200 with a JSON body) → malformed, not retried', async () => {
    el.faults.next('malformed');
    const { result, requests } = await counting(() => collect(adapter().synthesize(TEXT, WIDEBAND_FORMAT)));
    expect(result.chunks).toHaveLength(0);
    expect(result.error).toMatchObject({ kind: 'malformed', message: expect.stringContaining('application/json') });
    expect(requests).toBe(1);
  });

  test('drop after the first chunk → the error surfaces, no retry, no audio played twice', async () => {
    el.faults.next('drop');
    const retries: ElevenLabsRetryEvent[] = [];
    const { result, requests } = await counting(() => collect(adapter({ onRetry: (e) => retries.push(e) }).synthesize(TEXT, TELEPHONY_FORMAT)));
    expect(result.error).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('broke after') });
    expect(requests).toBe(1);
    expect(retries).toEqual([]);
    // Exactly the start of the clip, once.
    const played = join(result.chunks);
    expect(played.byteLength).toBeGreaterThan(0);
    expect(played).toEqual(syntheticAudio(TEXT, TELEPHONY_FORMAT).subarray(0, played.byteLength));
  });

  test('connection refused → retried (network), then unavailable', async () => {
    const port = await new Promise<number>((resolve) => {
      const s = createServer();
      s.listen(0, '127.0.0.1', () => {
        const p = (s.address() as { port: number }).port;
        s.close(() => resolve(p));
      });
    });
    const retries: ElevenLabsRetryEvent[] = [];
    const got = await collect(adapter({ baseUrl: `http://127.0.0.1:${port}`, onRetry: (e) => retries.push(e) }).synthesize(TEXT, TELEPHONY_FORMAT));
    expect(got.error).toMatchObject({ kind: 'unavailable', message: expect.stringContaining('ECONNREFUSED') });
    expect(retries).toHaveLength(2);
    expect(retries[0]!.status).toBeUndefined();
  });

  test("the caller's abort ends the stream with the caller's reason, before and after the first byte", async () => {
    const before = new AbortController();
    setTimeout(() => before.abort(new Error('barge-in')), 50);
    const early = await collect(adapter().synthesize(TEXT, TELEPHONY_FORMAT, { signal: before.signal }));
    expect(early.error).toEqual(new Error('barge-in'));
    expect(early.chunks).toHaveLength(0);

    const after = new AbortController();
    const got: Uint8Array[] = [];
    let error: unknown;
    try {
      for await (const c of adapter().synthesize(TEXT, TELEPHONY_FORMAT, { signal: after.signal })) {
        got.push(c);
        if (got.length === 2) after.abort(new Error('caller hung up'));
      }
    } catch (e) {
      error = e;
    }
    expect(error).toEqual(new Error('caller hung up'));
    expect(got).toHaveLength(2);
  });

  test('a consumer that stops early releases the response; the next request works', async () => {
    for await (const _ of adapter().synthesize(TEXT, TELEPHONY_FORMAT)) break;
    const got = await collect(adapter().synthesize('Goodbye.', TELEPHONY_FORMAT));
    expect(got.error).toBeUndefined();
  });
});

describe('static prompt cache over the adapter', () => {
  const GREETING = 'Thanks for calling Acme Dental. How can I help you today?';
  const GOODBYE = 'Goodbye.';

  test('a static text is synthesized once, then replayed with no request; other texts pass through', async () => {
    const cache = new StaticPromptCache(adapter(), { texts: [GOODBYE] });
    const first = await counting(() => collect(cache.synthesize(GOODBYE, TELEPHONY_FORMAT)));
    expect(first.requests).toBe(1);
    const second = await counting(() => collect(cache.synthesize(`  ${GOODBYE} `, TELEPHONY_FORMAT)));
    expect(second.requests).toBe(0);
    expect(join(second.result.chunks)).toEqual(join(first.result.chunks));
    expect(join(second.result.chunks)).toEqual(syntheticAudio(GOODBYE, TELEPHONY_FORMAT));
    // Another format is another recording.
    expect((await counting(() => collect(cache.synthesize(GOODBYE, WIDEBAND_FORMAT)))).requests).toBe(1);
    // Not a static text: every time to the vendor.
    for (let i = 0; i < 2; i++) expect((await counting(() => collect(cache.synthesize('Your booking is at three.', TELEPHONY_FORMAT)))).requests).toBe(1);
    expect(cache.stats).toEqual({ hits: 1, misses: 2, passThrough: 2, notKept: 0 });
    expect(cache.name).toBe('elevenlabs');
  });

  test('concurrent first requests share one synthesis, each streaming as it arrives', async () => {
    const cache = new StaticPromptCache(adapter(), { texts: [TEXT] });
    const { result, requests } = await counting(() => Promise.all([1, 2, 3].map(() => collect(cache.synthesize(TEXT, TELEPHONY_FORMAT)))));
    expect(requests).toBe(1);
    for (const r of result) {
      expect(r.error).toBeUndefined();
      expect(join(r.chunks)).toEqual(syntheticAudio(TEXT, TELEPHONY_FORMAT));
      // Not held back until the recording is complete.
      expect(r.at[0]!).toBeLessThan(r.at.at(-1)! - 300);
    }
  });

  test('warm() synthesizes every static sentence in each format; afterwards none costs a request', async () => {
    const cache = new StaticPromptCache(adapter(), { texts: [GREETING, GOODBYE], split: splitSentences });
    expect(cache.staticTexts).toEqual(['Thanks for calling Acme Dental.', 'How can I help you today?', 'Goodbye.']);
    const warm = await counting(() => cache.warm([TELEPHONY_FORMAT, WIDEBAND_FORMAT]));
    expect(warm.result).toEqual({ warmed: 6, failed: 0 });
    expect(warm.requests).toBe(6);
    const replay = await counting(async () => {
      for (const sentence of splitSentences(GREETING)) await collect(cache.synthesize(sentence, TELEPHONY_FORMAT));
    });
    expect(replay.requests).toBe(0);
    expect(cache.bytes).toBeGreaterThan(0);
  });

  test('a failed synthesis is not cached: the next request tries again', async () => {
    const cache = new StaticPromptCache(adapter({ maxRetries: 0 }), { texts: [GOODBYE] });
    el.faults.next('http-500');
    const failed = await collect(cache.synthesize(GOODBYE, TELEPHONY_FORMAT));
    expect(failed.error).toMatchObject({ kind: 'unavailable' });
    const retried = await counting(() => collect(cache.synthesize(GOODBYE, TELEPHONY_FORMAT)));
    expect(retried.requests).toBe(1);
    expect(retried.result.error).toBeUndefined();
    expect((await counting(() => collect(cache.synthesize(GOODBYE, TELEPHONY_FORMAT)))).requests).toBe(0);
  });

  test('memory is bounded: a recording past maxBytes is played but not kept', async () => {
    const cache = new StaticPromptCache(adapter(), { texts: [TEXT], maxBytes: 10_000 }); // the clip is 22,400 bytes
    for (let i = 0; i < 2; i++) {
      const r = await counting(() => collect(cache.synthesize(TEXT, TELEPHONY_FORMAT)));
      expect(r.requests).toBe(1);
      expect(join(r.result.chunks).byteLength).toBe(22_400);
    }
    expect(cache.bytes).toBe(0);
    expect(cache.stats.notKept).toBe(2);
  });
});

describe('real speech: the local ElevenLabs backed by the offline synthesizer', () => {
  let speech: SpeechServer;
  let real: ElevenLabsServer;
  beforeAll(async () => {
    speech = await startSpeechServer({ corpus: DEV_CORPUS, sttPoolSize: 1 });
    real = new ElevenLabsServer({ apiKey: KEY, latency: LATENCY, synthUrl: speech.url });
    await real.start();
  }, 120_000);
  afterAll(async () => {
    await real?.close();
    await speech?.close();
  });

  test('both formats are speech the recognizer understands; a repeated sentence is not synthesized again', async () => {
    const tts = adapter({ baseUrl: real.url });
    const stt = new OfflineSpeechToText({ baseUrl: speech.url, timeoutMs: 30_000 });
    for (const format of [TELEPHONY_FORMAT, WIDEBAND_FORMAT]) {
      const got = await collect(tts.synthesize('I would like to book an appointment.', format));
      expect(got.error).toBeUndefined();
      const t = await stt.transcribe(join(got.chunks), format);
      expect(t.text).toBe('i would like to book an appointment');
    }
    expect(real.stats.syntheses).toBe(2);
    await collect(tts.synthesize('I would like to book an appointment.', TELEPHONY_FORMAT));
    expect(real.stats).toMatchObject({ syntheses: 2, cacheHits: 1 });
  });
});
