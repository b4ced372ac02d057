/** The Lambda-side adapters against the real local speech server and against misbehaving fake servers. */
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { SpeechProviderError } from '../../../functions/domain/speech';
import { TELEPHONY_FORMAT, WIDEBAND_FORMAT } from '../../../functions/contracts/audio-format';
import { OfflineSpeechToText } from '../../../functions/providers/offline/stt';
import { OfflineTextToSpeech } from '../../../functions/providers/offline/tts';
import { startSpeechServer, type SpeechServer } from '../../../local/speech/server';
import { DEV_CORPUS } from './corpus';

jest.setTimeout(120_000);

let speech: SpeechServer;
beforeAll(async () => {
  speech = await startSpeechServer({ corpus: DEV_CORPUS, sttPoolSize: 1 });
});
afterAll(async () => {
  await speech?.close();
});

async function collect(it: AsyncIterable<Uint8Array>): Promise<Uint8Array[]> {
  const out: Uint8Array[] = [];
  for await (const c of it) out.push(c);
  return out;
}
const join = (cs: Uint8Array[]): Uint8Array => Uint8Array.from(cs.flatMap((c) => Array.from(c)));

/** A throwaway HTTP server with a custom handler. */
async function fake(handler: Parameters<typeof createServer>[1]): Promise<{ url: string; server: Server }> {
  const server = createServer(handler);
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', r));
  return { url: `http://127.0.0.1:${(server.address() as AddressInfo).port}`, server };
}
const stop = (s: Server): Promise<void> =>
  new Promise((r) => {
    s.closeAllConnections();
    s.close(() => r());
  });

test('TTS → STT through the adapters, telephony and wideband formats', async () => {
  const tts = new OfflineTextToSpeech({ baseUrl: speech.url, timeoutMs: 10_000 });
  const stt = new OfflineSpeechToText({ baseUrl: speech.url, timeoutMs: 20_000 });
  for (const format of [TELEPHONY_FORMAT, WIDEBAND_FORMAT]) {
    const chunks = await collect(tts.synthesize('I would like to book an appointment.', format));
    if (format.encoding === 'pcm16') for (const c of chunks) expect(c.length % 2).toBe(0);
    const t = await stt.transcribe(join(chunks), format, { context: 'greeting' });
    expect(t.text).toBe('i would like to book an appointment');
    expect(t.confidence).toBeGreaterThan(0);
  }
});

test('TTS adapter: pcm16 samples split across HTTP chunks are re-aligned; a dangling half sample is malformed', async () => {
  let tail = [4, 5, 6];
  const f = await fake((_req, res) => {
    res.writeHead(200);
    res.write(Buffer.from([1, 2, 3]));
    setTimeout(() => res.end(Buffer.from(tail)), 30);
  });
  try {
    const tts = new OfflineTextToSpeech({ baseUrl: f.url, timeoutMs: 2000 });
    const chunks = await collect(tts.synthesize('x', WIDEBAND_FORMAT));
    expect(chunks.map((c) => Array.from(c))).toEqual([[1, 2], [3, 4, 5, 6]]);
    // μ-law bytes pass through untouched
    expect(join(await collect(tts.synthesize('x', TELEPHONY_FORMAT)))).toEqual(Uint8Array.from([1, 2, 3, 4, 5, 6]));
    tail = [4, 5, 6, 7];
    await expect(collect(tts.synthesize('x', WIDEBAND_FORMAT))).rejects.toMatchObject({ kind: 'malformed' });
  } finally {
    await stop(f.server);
  }
});

test('400 → rejected, 503 → unavailable, bad JSON → malformed', async () => {
  let status = 400;
  const f = await fake((_req, res) => {
    if (status === 200) {
      res.writeHead(200, { 'content-type': 'application/json' });
      res.end('{"tex');
      return;
    }
    res.writeHead(status, { 'content-type': 'application/json' });
    res.end(JSON.stringify({ error: 'nope' }));
  });
  try {
    const stt = new OfflineSpeechToText({ baseUrl: f.url, timeoutMs: 2000 });
    const tts = new OfflineTextToSpeech({ baseUrl: f.url, timeoutMs: 2000 });
    await expect(stt.transcribe(new Uint8Array(10), TELEPHONY_FORMAT)).rejects.toMatchObject({ kind: 'rejected', message: 'HTTP 400: nope' });
    await expect(collect(tts.synthesize('hi', TELEPHONY_FORMAT))).rejects.toMatchObject({ kind: 'rejected' });
    status = 503;
    await expect(stt.transcribe(new Uint8Array(10), TELEPHONY_FORMAT)).rejects.toMatchObject({ kind: 'unavailable' });
    await expect(collect(tts.synthesize('hi', TELEPHONY_FORMAT))).rejects.toMatchObject({ kind: 'unavailable' });
    status = 200;
    await expect(stt.transcribe(new Uint8Array(10), TELEPHONY_FORMAT)).rejects.toMatchObject({ kind: 'malformed' });
  } finally {
    await stop(f.server);
  }
});

test('no answer → timeout; caller abort → the caller\'s reason, not a provider error', async () => {
  const f = await fake(() => undefined); // never answers
  try {
    const stt = new OfflineSpeechToText({ baseUrl: f.url, timeoutMs: 200 });
    const tts = new OfflineTextToSpeech({ baseUrl: f.url, timeoutMs: 200 });
    await expect(stt.transcribe(new Uint8Array(10), TELEPHONY_FORMAT)).rejects.toMatchObject({ name: 'SpeechProviderError', kind: 'timeout' });
    await expect(collect(tts.synthesize('hi', TELEPHONY_FORMAT))).rejects.toMatchObject({ name: 'SpeechProviderError', kind: 'timeout' });
    const slow = new OfflineSpeechToText({ baseUrl: f.url, timeoutMs: 10_000 });
    const ac = new AbortController();
    const p = slow.transcribe(new Uint8Array(10), TELEPHONY_FORMAT, { signal: ac.signal });
    setTimeout(() => ac.abort(new Error('caller hung up')), 50);
    await expect(p).rejects.toThrow('caller hung up');
    const slowTts = new OfflineTextToSpeech({ baseUrl: f.url, timeoutMs: 10_000 });
    const ac2 = new AbortController();
    const p2 = collect(slowTts.synthesize('hi', TELEPHONY_FORMAT, { signal: ac2.signal }));
    setTimeout(() => ac2.abort(new Error('barge-in')), 50);
    await expect(p2).rejects.toThrow('barge-in');
  } finally {
    await stop(f.server);
  }
});

test('TTS stream that stalls mid-way → timeout', async () => {
  const f = await fake((_req, res) => {
    res.writeHead(200);
    res.write(Buffer.alloc(160));
  });
  try {
    const tts = new OfflineTextToSpeech({ baseUrl: f.url, timeoutMs: 300 });
    const got: Uint8Array[] = [];
    await expect(
      (async () => {
        for await (const c of tts.synthesize('hi', TELEPHONY_FORMAT)) got.push(c);
      })(),
    ).rejects.toMatchObject({ kind: 'timeout' });
    expect(got).toHaveLength(1);
  } finally {
    await stop(f.server);
  }
});

test('server down → unavailable', async () => {
  const f = await fake(() => undefined);
  const url = f.url;
  await stop(f.server);
  const stt = new OfflineSpeechToText({ baseUrl: url, timeoutMs: 2000 });
  const err = await stt.transcribe(new Uint8Array(10), TELEPHONY_FORMAT).catch((e: unknown) => e);
  expect(err).toBeInstanceOf(SpeechProviderError);
  expect(err).toMatchObject({ kind: 'unavailable', provider: 'offline-pocketsphinx' });
});
