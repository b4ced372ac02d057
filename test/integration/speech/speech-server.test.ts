/**
 * Offline speech engines through the local speech server: flite (rms) audio → pocketsphinx, at 16 kHz PCM16 and
 * 8 kHz μ-law. Needs Debian pocketsphinx (scripts/install-speech-deps.sh); no canned transcripts anywhere.
 */
import { fromPcm16, levelDbfs as rmsDbfs, toPcm16 } from '../../../functions/domain/audio';
import { TELEPHONY_FORMAT, WIDEBAND_FORMAT } from '../../../functions/contracts/audio-format';

const encodeMulaw = (s: Int16Array) => fromPcm16(s, TELEPHONY_FORMAT);
const decodeMulaw = (b: Uint8Array) => toPcm16(b, TELEPHONY_FORMAT);
const pcm16ToBytes = (s: Int16Array) => fromPcm16(s, WIDEBAND_FORMAT);
const bytesToPcm16 = (b: Uint8Array) => toPcm16(b, WIDEBAND_FORMAT);
import { startSpeechServer, type SpeechServer } from '../../../local/speech/server';
import { normalizeText, wordErrorRate } from '../../../local/speech/stt/lm';
import { synthesize } from '../../../local/speech/tts/flite';
import { DEV_CORPUS, OFF_DOMAIN, RECOMBINED } from './corpus';

jest.setTimeout(120_000);

let server: SpeechServer;
const report: string[] = [];

interface TranscribeReply {
  text: string;
  confidence: number;
  engine: string;
  decodeMs: number;
}

async function transcribe(body: Uint8Array, query: string): Promise<{ status: number; json: TranscribeReply }> {
  const res = await fetch(`${server.url}/v1/transcribe?${query}`, { method: 'POST', body: body as Uint8Array<ArrayBuffer> });
  return { status: res.status, json: (await res.json()) as TranscribeReply };
}

async function synthesizeHttp(body: unknown): Promise<{ status: number; chunks: Uint8Array[]; firstMs: number; totalMs: number; res: Response }> {
  const t0 = performance.now();
  const res = await fetch(`${server.url}/v1/synthesize`, {
    method: 'POST',
    headers: { 'content-type': 'application/json' },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
  const chunks: Uint8Array[] = [];
  let firstMs = -1;
  if (res.body) {
    for await (const c of res.body as unknown as AsyncIterable<Uint8Array>) {
      if (firstMs < 0) firstMs = performance.now() - t0;
      chunks.push(c);
    }
  }
  return { status: res.status, chunks, firstMs, totalMs: performance.now() - t0, res };
}

const concat = (chunks: Uint8Array[]): Uint8Array => {
  const out = new Uint8Array(chunks.reduce((n, c) => n + c.length, 0));
  let o = 0;
  for (const c of chunks) {
    out.set(c, o);
    o += c.length;
  }
  return out;
};

beforeAll(async () => {
  // Strict thresholds: every decode below 0.95 is checked against the full model, so off-domain speech is caught.
  // (The stack's defaults trust in-domain decodes from 0.4 up: faster turns, at the price of some off-domain
  // speech being forced onto domain words — see PocketsphinxRecognizerOptions.verifyBelow.)
  server = await startSpeechServer({ corpus: DEV_CORPUS, sttPoolSize: 2, rejectBelow: 0.35, verifyBelow: 0.95 });
});

afterAll(async () => {
  await server?.close();
  if (report.length) console.log(report.join('\n'));
});

describe.each([
  { label: '16 kHz PCM16', rate: 16000 as const, query: 'encoding=pcm16&sample_rate=16000' },
  { label: '8 kHz μ-law', rate: 8000 as const, query: 'encoding=mulaw&sample_rate=8000' },
])('transcribe flite rms audio at $label', ({ label, rate, query }) => {
  const encode = (s: Int16Array): Uint8Array => (rate === 8000 ? encodeMulaw(s) : pcm16ToBytes(s));

  test('domain sentences (corpus and recombined) are transcribed exactly', async () => {
    const sentences = [...DEV_CORPUS, ...RECOMBINED];
    const audio = await Promise.all(sentences.map(async (t) => encode(await synthesize(t, { voice: 'rms', sampleRate: rate }))));
    const replies = await Promise.all(audio.map((a) => transcribe(a, query)));
    const wers = sentences.map((t, i) => wordErrorRate(t, replies[i]!.json.text));
    const words = sentences.reduce((n, t) => n + t.split(' ').length, 0);
    const totalWer = sentences.reduce((n, t, i) => n + wers[i]! * t.split(' ').length, 0) / words;
    report.push(
      `[speech] ${label}: WER ${(totalWer * 100).toFixed(1)} % over ${sentences.length} domain utterances; decodeMs ` +
        replies.map((r) => r.json.decodeMs.toFixed(0)).join(' '),
    );
    replies.forEach((r, i) => {
      expect(r.status).toBe(200);
      expect({ sentence: sentences[i], heard: normalizeText(r.json.text) }).toEqual({
        sentence: sentences[i],
        heard: normalizeText(sentences[i]!),
      });
      expect(r.json.confidence).toBeGreaterThan(0);
      expect(r.json.engine).toBe('domain');
    });
    expect(totalWer).toBe(0);
  });

  test('off-domain speech falls back to the full en-us model', async () => {
    for (const t of OFF_DOMAIN) {
      const r = await transcribe(encode(await synthesize(t, { voice: 'rms', sampleRate: rate })), query);
      expect(r.status).toBe(200);
      const wer = wordErrorRate(t, r.json.text);
      report.push(`[speech] ${label} off-domain "${t}" → "${r.json.text}" (${r.json.engine}, WER ${(wer * 100).toFixed(0)} %)`);
      expect(r.json.engine).toBe('full');
      expect(wer).toBeLessThanOrEqual(0.34);
    }
  });
});

test('the context parameter is accepted (unknown context → domain LM)', async () => {
  const a = pcm16ToBytes(await synthesize('yes please', { sampleRate: 16000 }));
  const r = await transcribe(a, 'encoding=pcm16&sample_rate=16000&context=confirm_booking');
  expect(r.status).toBe(200);
  expect(r.json.text).toBe('yes please');
});

describe('synthesize', () => {
  test.each([
    { encoding: 'pcm16', sample_rate: 16000 },
    { encoding: 'mulaw', sample_rate: 8000 },
    { encoding: 'pcm16', sample_rate: 8000 },
    { encoding: 'mulaw', sample_rate: 16000 },
  ])('returns plausible streamed audio as $encoding at $sample_rate Hz', async ({ encoding, sample_rate }) => {
    const text = 'Thanks for calling. Your appointment is on Tuesday at three pm. Is there anything else?';
    const r = await synthesizeHttp({ text, encoding, sample_rate, voice: 'rms' });
    expect(r.status).toBe(200);
    expect(r.res.headers.get('transfer-encoding')).toBe('chunked');
    expect(r.res.headers.get('x-audio-encoding')).toBe(encoding);
    expect(r.res.headers.get('x-sample-rate')).toBe(String(sample_rate));
    const bytes = concat(r.chunks);
    const samples = encoding === 'mulaw' ? decodeMulaw(bytes) : bytesToPcm16(bytes);
    if (encoding === 'pcm16') expect(bytes.length % 2).toBe(0);
    const seconds = samples.length / sample_rate;
    const words = text.split(/\s+/).length; // 15 words: ~2.5–3 words/s for flite rms
    expect(seconds).toBeGreaterThan(words * 0.2);
    expect(seconds).toBeLessThan(words * 0.7);
    expect(rmsDbfs(samples)).toBeGreaterThan(-35);
    // Streamed sentence by sentence: the first bytes come before the whole reply is synthesized.
    expect(r.chunks.length).toBeGreaterThanOrEqual(2);
    expect(r.firstMs).toBeLessThan(r.totalMs);
    report.push(`[speech] synthesize ${encoding}/${sample_rate}: ${seconds.toFixed(2)} s audio, first chunk ${r.firstMs.toFixed(0)} ms, all ${r.totalMs.toFixed(0)} ms, ${r.chunks.length} chunks`);
  });

  test('round trip: server synthesis at 8 kHz μ-law is recognized by the server', async () => {
    const text = 'can i move my appointment to friday at ten am';
    const r = await synthesizeHttp({ text, encoding: 'mulaw', sample_rate: 8000 });
    const t = await transcribe(concat(r.chunks), 'encoding=mulaw&sample_rate=8000');
    expect(t.json.text).toBe(text);
  });

  test('the length scales with the text', async () => {
    const short = concat((await synthesizeHttp({ text: 'yes', encoding: 'pcm16', sample_rate: 16000 })).chunks);
    const long = concat(
      (await synthesizeHttp({ text: 'i would like to book an appointment for tuesday at three pm', encoding: 'pcm16', sample_rate: 16000 })).chunks,
    );
    expect(long.length).toBeGreaterThan(short.length * 3);
  });
});

describe('bad requests → 400 with a reason', () => {
  const pcm = new Uint8Array(3200);
  test.each([
    ['no encoding', 'sample_rate=16000', pcm],
    ['bad encoding', 'encoding=alaw&sample_rate=8000', pcm],
    ['bad sample rate', 'encoding=pcm16&sample_rate=44100', pcm],
    ['no sample rate', 'encoding=mulaw', pcm],
    ['empty body', 'encoding=pcm16&sample_rate=16000', new Uint8Array(0)],
    ['odd pcm16 length', 'encoding=pcm16&sample_rate=16000', new Uint8Array(3201)],
    ['bad context', 'encoding=pcm16&sample_rate=16000&context=%20drop%20table', pcm],
  ])('transcribe: %s', async (_name, query, body) => {
    const r = await transcribe(body, query);
    expect(r.status).toBe(400);
    expect(typeof (r.json as unknown as { error: string }).error).toBe('string');
  });

  test.each([
    ['not JSON', '{"text": '],
    ['no text', { encoding: 'pcm16', sample_rate: 16000 }],
    ['text not a string', { text: 42, encoding: 'pcm16', sample_rate: 16000 }],
    ['bad encoding', { text: 'hi', encoding: 'mp3', sample_rate: 16000 }],
    ['bad sample rate', { text: 'hi', encoding: 'pcm16', sample_rate: 22050 }],
    ['sample rate as string', { text: 'hi', encoding: 'pcm16', sample_rate: '16000' }],
    ['bad voice', { text: 'hi', encoding: 'pcm16', sample_rate: 16000, voice: 'hal9000' }],
    ['nothing to say', { text: ' ... ', encoding: 'pcm16', sample_rate: 16000 }],
    ['text too long', { text: 'a '.repeat(1500), encoding: 'pcm16', sample_rate: 16000 }],
  ])('synthesize: %s', async (_name, body) => {
    const r = await synthesizeHttp(body);
    expect(r.status).toBe(400);
    expect(r.res.headers.get('content-type')).toContain('application/json');
    const json = JSON.parse(new TextDecoder().decode(concat(r.chunks))) as { error: string };
    expect(json.error).toEqual(expect.any(String));
  });

  test('unknown path → 404, wrong method → 405', async () => {
    expect((await fetch(`${server.url}/v1/nope`, { method: 'POST' })).status).toBe(404);
    expect((await fetch(`${server.url}/v1/transcribe`)).status).toBe(405);
  });
});

describe('decoder processes', () => {
  const waitFor = async (cond: () => boolean, ms: number): Promise<void> => {
    const end = Date.now() + ms;
    while (!cond()) {
      if (Date.now() > end) throw new Error('condition not met in time');
      await new Promise((r) => setTimeout(r, 50));
    }
  };

  test('a killed decoder process is restarted and requests keep working', async () => {
    const audio = pcm16ToBytes(await synthesize('where are you located', { sampleRate: 16000 }));
    const before = server.recognizer.pids;
    expect(before).toHaveLength(2);
    const restarts = server.recognizer.stats.restarts;
    process.kill(before[0]!, 'SIGKILL');
    // The other process still serves while the killed one comes back.
    const r = await transcribe(audio, 'encoding=pcm16&sample_rate=16000');
    expect(r.json.text).toBe('where are you located');
    await waitFor(() => server.recognizer.pids.length === 2 && !server.recognizer.pids.includes(before[0]!), 30_000);
    expect(server.recognizer.stats.restarts).toBe(restarts + 1);
    const again = await Promise.all([1, 2, 3].map(() => transcribe(audio, 'encoding=pcm16&sample_rate=16000')));
    for (const a of again) expect(a.json.text).toBe('where are you located');
  });

  test('a request in flight when every decoder dies is retried on a restarted process', async () => {
    const audio = pcm16ToBytes(await synthesize('book an appointment for tuesday at three pm', { sampleRate: 16000 }));
    const pids = server.recognizer.pids;
    const pending = transcribe(audio, 'encoding=pcm16&sample_rate=16000');
    await waitFor(() => server.recognizer.stats.busy > 0, 5_000);
    for (const pid of pids) process.kill(pid, 'SIGKILL');
    const r = await pending;
    expect(r.status).toBe(200);
    expect(r.json.text).toBe('book an appointment for tuesday at three pm');
    await waitFor(() => server.recognizer.pids.length === 2, 30_000);
    expect(server.recognizer.pids.some((p) => pids.includes(p))).toBe(false);
  });
});
