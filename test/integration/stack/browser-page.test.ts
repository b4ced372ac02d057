/**
 * The browser page (web/) in a real browser against the local stack: Debian's chromium, driven by playwright-core,
 * with a WAV file as its microphone (a known utterance synthesized offline, after enough silence for the greeting
 * to finish, then silence). The page is loaded from `localhost` and calls the token endpoint on `127.0.0.1`: another
 * origin, so the endpoint's CORS answer is exercised too. A full turn must come back into the page: what the agent
 * heard, its reply, the turn's latency and its stages. A screenshot mid-call goes to .cache/test-artifacts/.
 *
 * Needs /usr/bin/chromium (scripts/setup.sh installs it; npm test runs that first). Without it this fails: a page
 * that was never opened in a browser is not tested.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser } from 'playwright-core';
import { WaveFile } from 'wavefile';
import { issueCallerToken } from '../../../functions/shared/caller-tokens';
import { standalonePage, STANDALONE_PAGE } from '../../../lib/constructs/web-client';
import type { LocalStack } from '../../../local/stack';
import { synthesize } from '../../../local/speech/tts/flite';
import { CallerSession } from '../../../tools/caller/session';
import { startStack } from '../../support/stack';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', '.cache', 'test-artifacts');
const SCREENSHOT = path.join(ARTIFACTS, 'browser-call.png');
const UTTERANCE = 'what are your opening hours';
/** Silence before the utterance: the greeting (about 3 s of speech, synthesized first) must be over, or this barges in. */
const LEAD_SILENCE_S = 7;
/** Silence after it: chromium loops the file, and the utterance must be said once within the test. */
const TRAIL_SILENCE_S = 60;

let stack: LocalStack;
let browser: Browser | undefined;

/** The caller's microphone: silence, the utterance (Flite, 16 kHz), silence; 16-bit PCM WAV as chromium wants it. */
async function microphoneWav(file: string): Promise<void> {
  const rate = 16000;
  const words = await synthesize(UTTERANCE, { voice: 'rms', sampleRate: rate });
  const samples = new Int16Array(rate * LEAD_SILENCE_S + words.length + rate * TRAIL_SILENCE_S);
  samples.set(words, rate * LEAD_SILENCE_S);
  const wav = new WaveFile();
  wav.fromScratch(1, rate, '16', samples);
  writeFileSync(file, wav.toBuffer());
}

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (npm test and npm start do) or apt-get install chromium`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const wav = path.join(ARTIFACTS, 'browser-microphone.wav');
  await microphoneWav(wav);
  ({ stack } = await startStack('browser-page', { provisionedByFunction: { media: 3 } }));
  browser = await chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

describe('the token endpoint', () => {
  it('hands out a short-lived token for this stage, never the long-lived one, readable from any origin', async () => {
    const res = await fetch(`http://127.0.0.1:${stack.port}/browser/token`, { method: 'POST', headers: { origin: 'https://example.org' } });
    expect(res.status).toBe(200);
    expect(res.headers.get('access-control-allow-origin')).toBe('*');
    expect(res.headers.get('cache-control')).toBe('no-store');
    const text = await res.text();
    expect(text).not.toContain(stack.token);
    const body = JSON.parse(text) as { token: string; expiresAt: number; url: string };
    expect(body.url).toBe(stack.url);
    expect(body.token).toMatch(/^v1\.\d+\.[A-Za-z0-9_-]+\.[A-Za-z0-9_-]{43}$/);
    const lifetime = body.expiresAt - Date.now() / 1000;
    expect(lifetime).toBeGreaterThan(290);
    expect(lifetime).toBeLessThanOrEqual(300);
  });

  it('opens the WebSocket with a fresh token; an expired or altered one is refused (403)', async () => {
    const { token } = (await (await fetch(`http://127.0.0.1:${stack.port}/browser/token`, { method: 'POST' })).json()) as { token: string };
    const caller = new CallerSession({ url: `${stack.url}?token=${encodeURIComponent(token)}`, events: true });
    await caller.connect();
    expect((await caller.waitForTurn(1))?.status).toBe('completed'); // the greeting: the call is up
    await caller.hangUp();

    const expired = issueCallerToken(stack.token, { nowMs: Date.now() - 10 * 60_000 }).token;
    const [v, exp, nonce, mac] = token.split('.');
    const extended = [v, String(Number(exp) + 3600), nonce, mac].join('.');
    for (const bad of [expired, extended]) {
      await expect(new CallerSession({ url: `${stack.url}?token=${encodeURIComponent(bad)}` }).connect()).rejects.toMatchObject({ statusCode: 403 });
    }
  });
});

describe('the page', () => {
  it('is served by the local stack with the right content types, and nothing outside web/', async () => {
    const base = `http://127.0.0.1:${stack.port}`;
    const types = await Promise.all(['/', '/index.html', '/app.js', '/codec.js'].map(async (p) => (await fetch(base + p)).headers.get('content-type')));
    expect(types).toEqual(['text/html; charset=utf-8', 'text/html; charset=utf-8', 'text/javascript; charset=utf-8', 'text/javascript; charset=utf-8']);
    for (const p of ['/package.json', '/%2e%2e/package.json', '/..%2Fpackage.json', '/web/index.html', '/nothing.js']) {
      expect((await fetch(base + p)).status).toBe(404);
    }
  });

  // Both formats the protocol allows (the page resamples the microphone to 16 kHz PCM or to 8 kHz μ-law), and both
  // ways the page is opened: served by the stack, and as the deployed call.html (scripts inlined, API address built
  // in: lib/constructs/web-client.ts) opened from a file, an origin Chromium treats most strictly.
  it.each([
    ['l16', 'the page the stack serves', SCREENSHOT],
    ['mulaw', "the deployment's self-contained call.html, from a file", path.join(ARTIFACTS, 'browser-call-mulaw.png')],
  ])('calls the agent (%s, %s): the microphone is heard, the turn comes back with its latency and stages', async (format, how, screenshot) => {
    const page = await browser!.newPage({ viewport: { width: 900, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    const api = `http://127.0.0.1:${stack.port}`;
    if (how.startsWith('the page')) {
      // Page and API on different origins (localhost vs 127.0.0.1): the token request is cross-origin.
      await page.goto(`http://localhost:${stack.port}/?format=${format}&api=${encodeURIComponent(api)}`);
    } else {
      const file = path.join(ARTIFACTS, STANDALONE_PAGE);
      writeFileSync(file, standalonePage(api));
      await page.goto(`${pathToFileURL(file).href}?format=${format}`);
      expect(await page.locator('#api').inputValue()).toBe(api);
    }
    await page.click('#call');
    await page.locator('#state', { hasText: 'In call' }).waitFor({ timeout: 20_000 });

    // Turn 1 is the greeting; the first turn the caller speaks is the next one.
    await page.locator('li.turn[data-turn="1"][data-kind="greeting"] .reply').waitFor({ timeout: 20_000 });
    const spoken = page.locator('li.turn[data-status]', { has: page.locator('.heard:not([hidden])') }).first();
    await spoken.waitFor({ timeout: 40_000 });
    const turn = {
      status: await spoken.getAttribute('data-status'),
      heard: await spoken.locator('.heard').textContent(),
      reply: await spoken.locator('.reply').textContent(),
      latency: await spoken.locator('.latency').textContent(),
      stages: await spoken.locator('.stages').textContent(),
    };
    expect(turn).toMatchObject({ status: 'completed', heard: UTTERANCE });
    expect(turn.reply).toMatch(/open/i);
    expect(turn.latency).toMatch(/^\d+ ms$/);
    const latencyMs = Number(turn.latency!.split(' ')[0]);
    // At least the endpoint silence (400 ms), and not absurd.
    expect(latencyMs).toBeGreaterThanOrEqual(400);
    expect(latencyMs).toBeLessThan(10_000);
    for (const stage of ['endpointing', 'speech-to-text', 'responder', 'TTS first byte', 'send']) expect(turn.stages).toMatch(new RegExp(`${stage} \\d+ ms`));

    // The reply is played, and its end mark echoed when playback reaches it: the server streams the whole reply
    // (about 10 s of speech) within a second or so and reports the turn, so an echo on arrival would come at once.
    const reported = Date.now();
    const n = Number(await spoken.getAttribute('data-turn'));
    await page.locator(`li.turn[data-turn="${n}"][data-played]`).waitFor({ timeout: 30_000 });
    expect(Date.now() - reported).toBeGreaterThan(3000);
    const stats = (await page.locator('#stats').textContent())!;
    expect(Number(/marks echoed (\d+)/.exec(stats)![1])).toBeGreaterThanOrEqual(4); // the greeting's and the reply's sentences and ends
    expect(Number(/frames sent (\d+)/.exec(stats)![1])).toBeGreaterThan(LEAD_SILENCE_S * 50); // 20 ms frames, in real time
    expect(Number(/agent audio ([\d.]+) s/.exec(stats)![1])).toBeGreaterThan(1);
    expect(await page.locator('#timer').textContent()).toMatch(/^00:(0[5-9]|[1-5]\d)$/); // ticking, in real time

    // Mid-call (still connected, the conversation on screen), for a person to look at.
    mkdirSync(ARTIFACTS, { recursive: true });
    await page.screenshot({ path: screenshot, fullPage: true });

    await page.click('#hangup');
    await page.locator('#state', { hasText: 'Call ended: you hung up' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#call').isEnabled()).toBe(true);
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});
