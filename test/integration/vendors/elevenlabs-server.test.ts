/**
 * The local ElevenLabs server's protocol with raw fetch (no SDK): paths, the xi-api-key header, the API's error
 * shapes, raw audio per output_format, and what each fault looks like on the wire.
 */
import { durationMs, levelDbfs, toPcm16 } from '../../../functions/domain/audio';
import { TELEPHONY_FORMAT, WIDEBAND_FORMAT } from '../../../functions/contracts/audio-format';
import { ZERO_LATENCY } from '../../../local/vendors/behaviour';
import { ElevenLabsServer, SYNTHETIC_MS_PER_CHAR, syntheticAudio } from '../../../local/vendors/elevenlabs-server';

const KEY = 'test-key';
const VOICE = '21m00Tcm4TlvDq8ikWAM';
const TEXT = 'Thanks for calling.';

let el: ElevenLabsServer;
beforeAll(async () => {
  el = new ElevenLabsServer({ apiKey: KEY, latency: ZERO_LATENCY, voices: [VOICE], retryAfterSeconds: 2 });
  await el.start();
});
afterAll(() => el.close());
afterEach(() => el.faults.clear());

function post(path: string, body: unknown, headers: Record<string, string> = { 'xi-api-key': KEY }): Promise<Response> {
  return fetch(`${el.url}${path}`, {
    method: 'POST',
    headers: { 'content-type': 'application/json', ...headers },
    body: typeof body === 'string' ? body : JSON.stringify(body),
  });
}
const stream = (query = 'output_format=ulaw_8000', body: unknown = { text: TEXT }, headers?: Record<string, string>) =>
  post(`/v1/text-to-speech/${VOICE}/stream?${query}`, body, headers);

test('xi-api-key: missing → 401 needs_authorization, wrong → 401 invalid_api_key, in the API error envelope', async () => {
  const missing = await stream(undefined, undefined, {});
  expect(missing.status).toBe(401);
  expect(missing.headers.get('content-type')).toBe('application/json');
  expect(await missing.json()).toEqual({ detail: { status: 'needs_authorization', message: expect.any(String) } });
  const wrong = await stream(undefined, undefined, { 'xi-api-key': 'nope' });
  expect(wrong.status).toBe(401);
  expect(await wrong.json()).toEqual({ detail: { status: 'invalid_api_key', message: 'Invalid API key' } });
});

test('validation errors are FastAPI 422s with loc/msg/type; unknown voice 404; unsupported format 400', async () => {
  const badFormat = await stream('output_format=wav_8000');
  expect(badFormat.status).toBe(422);
  expect(await badFormat.json()).toEqual({
    detail: [expect.objectContaining({ type: 'enum', loc: ['query', 'output_format'], msg: expect.stringContaining("'ulaw_8000'"), input: 'wav_8000' })],
  });

  const noText = await stream(undefined, { model_id: 'eleven_flash_v2_5' });
  expect(noText.status).toBe(422);
  expect((await noText.json()).detail).toEqual([expect.objectContaining({ type: 'missing', loc: ['body', 'text'], msg: 'Field required' })]);

  // Several problems at once are all reported.
  const many = await stream('output_format=ulaw_8000&optimize_streaming_latency=9', { text: 5, voice_settings: { stability: 'high' } });
  expect(many.status).toBe(422);
  expect((await many.json()).detail.map((d: { loc: unknown[] }) => d.loc.join('.'))).toEqual([
    'query.optimize_streaming_latency',
    'body.text',
    'body.voice_settings.stability',
  ]);

  const notJson = await stream(undefined, '{"text": ');
  expect(notJson.status).toBe(422);
  expect((await notJson.json()).detail[0]).toMatchObject({ type: 'json_invalid', loc: ['body', 0] });

  const voice = await post('/v1/text-to-speech/unknownvoice/stream?output_format=ulaw_8000', { text: TEXT });
  expect(voice.status).toBe(404);
  expect(await voice.json()).toEqual({ detail: { status: 'voice_not_found', message: 'A voice with the voice_id unknownvoice was not found.' } });

  // The API accepts mp3 (and defaults to it); this stand-in produces raw formats only, and says so.
  for (const q of ['output_format=mp3_44100_128', '']) {
    const r = await stream(q);
    expect(r.status).toBe(400);
    expect((await r.json()).detail.status).toBe('unsupported_output_format');
  }
});

test('paths and methods: unknown path 404, GET 405', async () => {
  const unknown = await post('/v1/text-to-speak/x', { text: TEXT });
  expect(unknown.status).toBe(404);
  expect(await unknown.json()).toEqual({ detail: 'Not Found' });
  const get = await fetch(`${el.url}/v1/text-to-speech/${VOICE}/stream`, { headers: { 'xi-api-key': KEY } });
  expect(get.status).toBe(405);
  await get.arrayBuffer();
});

test('raw audio: ulaw_8000 is μ-law bytes, pcm_16000 s16le, ~70 ms per character, on /stream and on convert', async () => {
  const expectedMs = TEXT.length * SYNTHETIC_MS_PER_CHAR;
  for (const [query, format, type] of [
    ['output_format=ulaw_8000', TELEPHONY_FORMAT, 'audio/basic'],
    ['output_format=pcm_16000&optimize_streaming_latency=3', WIDEBAND_FORMAT, 'audio/pcm'],
  ] as const) {
    for (const path of [`/v1/text-to-speech/${VOICE}/stream?${query}`, `/v1/text-to-speech/${VOICE}?${query}`]) {
      const r = await post(path, { text: TEXT, model_id: 'eleven_flash_v2_5', voice_settings: { stability: 0.5, use_speaker_boost: true } });
      expect(r.status).toBe(200);
      expect(r.headers.get('content-type')).toBe(type);
      const audio = new Uint8Array(await r.arrayBuffer());
      expect(durationMs(audio.byteLength, format)).toBeCloseTo(expectedMs, 0);
      expect(audio).toEqual(syntheticAudio(TEXT, format));
      // Decoded in its own format it is a voiced signal at a speech-like level (decoding μ-law as PCM would not be).
      const level = levelDbfs(toPcm16(audio, format));
      expect(level).toBeGreaterThan(-25);
      expect(level).toBeLessThan(-8);
      // convert declares the whole clip's length; stream is chunked.
      if (path.includes('/stream')) expect(r.headers.get('content-length')).toBeNull();
      else expect(r.headers.get('content-length')).toBe(String(audio.byteLength));
    }
  }
  expect(el.requests.at(-2)).toMatchObject({ route: 'stream', outputFormat: 'pcm_16000', optimizeStreamingLatency: 3, modelId: 'eleven_flash_v2_5', status: 200 });
});

test('faults on the wire: 429 with retry-after, 500, malformed 200 JSON', async () => {
  el.faults.next('http-429').next('http-500').next('malformed');
  const busy = await stream();
  expect(busy.status).toBe(429);
  expect(busy.headers.get('retry-after')).toBe('2');
  expect((await busy.json()).detail.status).toBe('too_many_concurrent_requests');
  const broken = await stream();
  expect(broken.status).toBe(500);
  expect((await broken.json()).detail).toEqual({ status: 'internal_server_error', message: expect.any(String) });
  const malformed = await stream();
  expect(malformed.status).toBe(200);
  expect(malformed.headers.get('content-type')).toBe('application/json');
  expect(await malformed.json()).toMatchObject({ status: 'ok' });
  expect(el.stats.faults).toMatchObject({ 'http-429': 1, 'http-500': 1, malformed: 1 });
});

test('faults on the wire: drop cuts the body after the first chunk; stall and timeout send nothing more', async () => {
  el.faults.next('drop');
  const dropped = await stream();
  expect(dropped.status).toBe(200);
  await expect(dropped.arrayBuffer()).rejects.toThrow(); // body terminated
  el.faults.next('stall');
  const stalled = await stream();
  expect(stalled.status).toBe(200);
  const reader = stalled.body!.getReader();
  expect((await reader.read()).value!.byteLength).toBeGreaterThan(0);
  const next = await Promise.race([reader.read().then(() => 'data'), new Promise((r) => setTimeout(() => r('nothing'), 300))]);
  expect(next).toBe('nothing');
  await reader.cancel();
  el.faults.next('timeout');
  const never = await Promise.race([stream().then(() => 'answered', () => 'closed'), new Promise((r) => setTimeout(() => r('nothing'), 300))]);
  expect(never).toBe('nothing');
});
