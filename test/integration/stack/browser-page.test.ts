/**
 * The browser page (web/) in a real browser against the local stack: Debian's chromium, driven by playwright-core,
 * with a WAV file as its microphone (a known utterance synthesized offline, after enough silence for the greeting
 * to finish, then silence). The page is loaded from `localhost` and calls the token endpoint on `127.0.0.1`: another
 * origin, so the endpoint's CORS answer is exercised too. A full turn must come back into the page: what the agent
 * heard, its reply, the turn's latency and its stages. A screenshot mid-call goes to .cache/test-artifacts/.
 * Barge-in too, in a browser of its own whose microphone talks over the agent's long answer: the server's `clear`
 * must stop the page's playback and the new words get a turn of their own.
 *
 * Needs /usr/bin/chromium (scripts/setup.sh installs it; npm test runs that first). Without it this fails: a page
 * that was never opened in a browser is not tested.
 */
import { existsSync, mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { pathToFileURL } from 'node:url';
import { chromium, type Browser, type Page } from 'playwright-core';
import { WaveFile } from 'wavefile';
import { issueCallerToken } from '../../../functions/access/caller-tokens';
import { standalonePage, STANDALONE_PAGE } from '../../../lib/constructs/web-client';
import type { LocalStack } from '../../../local/stack';
import { synthesize } from '../../../local/speech/tts/flite';
import { wordErrorRate } from '../../../local/speech/stt/lm';
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
/** Said over the agent's answer to UTTERANCE (opening hours: about 10 s of speech) in the barge-in test. */
const BARGE_UTTERANCE = 'where are you located';
/**
 * Silence between the two utterances of the barge-in test: the agent must have started answering the first (400 ms
 * endpoint silence, recognition, reply, first synthesized audio: 1.2–2 s seen here, 2.4 s with the CPU saturated) before the
 * second is said, and the answer must still be playing. Barge-in needs 200 ms of speech over the agent's audio, so
 * this holds while the first audio comes within GAP + ~1 s of the first utterance's end; the answer lasts ~10 s.
 */
const BARGE_GAP_S = 4;
/**
 * The barge-in test's lead silence, longer than LEAD_SILENCE_S: the greeting plays for about 5 s after the call starts,
 * and until its end mark reaches the server a caller's words count as talking over it. Seen under heavy CPU load with
 * 7 s: a `clear` for the greeting, whose end mark had been echoed 0.3 s before the first utterance began.
 */
const BARGE_LEAD_SILENCE_S = 10;

let stack: LocalStack;
let browser: Browser | undefined;

/**
 * The caller's microphone, 16-bit PCM WAV as chromium wants it: `parts` in order, a number being that many seconds
 * of silence, a string an utterance (Flite, 16 kHz).
 */
async function microphoneWav(file: string, parts: readonly (number | string)[]): Promise<void> {
  const rate = 16000;
  const pieces = await Promise.all(
    parts.map((part) => (typeof part === 'number' ? new Int16Array(Math.round(rate * part)) : synthesize(part, { voice: 'rms', sampleRate: rate }))),
  );
  const samples = new Int16Array(pieces.reduce((n, p) => n + p.length, 0));
  let at = 0;
  for (const piece of pieces) {
    samples.set(piece, at);
    at += piece.length;
  }
  const wav = new WaveFile();
  wav.fromScratch(1, rate, '16', samples);
  writeFileSync(file, wav.toBuffer());
}

/** Chromium with a fake microphone playing `wav` (looped), no permission prompt, audio allowed to play. */
const launchBrowser = (wav: string) =>
  chromium.launch({
    executablePath: CHROMIUM,
    headless: true,
    args: [
      '--use-fake-device-for-media-stream',
      '--use-fake-ui-for-media-stream',
      `--use-file-for-fake-audio-capture=${wav}`,
      '--autoplay-policy=no-user-gesture-required',
    ],
  });

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) {
    throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (npm test and npm start do) or apt-get install chromium`);
  }
  mkdirSync(ARTIFACTS, { recursive: true });
  const wav = path.join(ARTIFACTS, 'browser-microphone.wav');
  await microphoneWav(wav, [LEAD_SILENCE_S, UTTERANCE, TRAIL_SILENCE_S]);
  ({ stack } = await startStack('browser-page', { provisionedByFunction: { media: 3 } }));
  browser = await launchBrowser(wav);
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

/** One protocol message on the page's WebSocket, as Playwright saw it go by (the page's own media frames left out). */
interface WireEvent {
  readonly dir: 'in' | 'out';
  readonly at: number;
  readonly event: string;
  /** Inbound media: the turn whose reply it belongs to (the last `voiceagent.reply` before it), and its duration. */
  readonly turn?: number;
  readonly ms?: number;
  readonly name?: string;
  readonly text?: string;
  readonly status?: string;
  readonly latencyMs?: number;
}

/** The fields of protocol messages (docs/PROTOCOL.md) this test looks at. */
interface WireMessage {
  event?: string;
  media?: { payload?: string };
  mark?: { name?: string };
  turn?: number;
  text?: string;
  status?: string;
  latencyMs?: number;
}

/** Records every message but the caller's own audio on the page's WebSocket: the protocol, observed from outside. */
function recordWire(page: Page, bytesPerMs: number): WireEvent[] {
  const wire: WireEvent[] = [];
  let replyTurn: number | undefined;
  page.on('websocket', (ws) => {
    const note = (dir: 'in' | 'out') => (frame: { payload: string | Buffer }) => {
      if (typeof frame.payload !== 'string') return;
      let msg: WireMessage;
      try {
        msg = JSON.parse(frame.payload) as WireMessage;
      } catch {
        return;
      }
      const at = Date.now();
      const event = String(msg.event);
      if (event === 'media') {
        if (dir === 'out') return;
        const ms = Buffer.from(String(msg.media?.payload ?? ''), 'base64').byteLength / bytesPerMs;
        wire.push({ dir, at, event, turn: replyTurn, ms });
      } else {
        if (event === 'voiceagent.reply') replyTurn = msg.turn;
        wire.push({ dir, at, event, turn: msg.turn, name: msg.mark?.name, text: msg.text, status: msg.status, latencyMs: msg.latencyMs });
      }
    };
    ws.on('framereceived', note('in'));
    ws.on('framesent', note('out'));
  });
  return wire;
}

/** The wire in a few readable lines (one line per run of media), for failure messages. */
const timeline = (wire: readonly WireEvent[]) =>
  wire
    .filter((e, i) => e.event !== 'media' || wire[i - 1]?.event !== 'media')
    .map((e) => `${((e.at - wire[0]!.at) / 1000).toFixed(2)}s ${e.dir} ${e.event}${e.turn !== undefined ? ` t${e.turn}` : ''}${e.name ? ` ${e.name}` : ''}${e.status ? ` ${e.status}` : ''}${e.latencyMs !== undefined ? ` ${Math.round(e.latencyMs)} ms` : ''}${e.text ? ` "${e.text}"` : ''}`);

/**
 * Watches the page's playback from outside (an init script, nothing in the page): each AudioBufferSourceNode's
 * scheduled window in AudioContext time, and every stop() with the context's time then. A source stopped before its
 * start time is queued audio dropped.
 */
const PLAYBACK_PROBE = `(() => {
  const probe = (window.__playbackProbe = { scheduled: 0, stops: [] });
  const proto = AudioBufferSourceNode.prototype;
  const start = proto.start;
  const stop = proto.stop;
  proto.start = function (when, ...rest) {
    this.__window = { from: Math.max(when || 0, this.context.currentTime), duration: this.buffer ? this.buffer.duration : 0 };
    probe.scheduled++;
    return start.call(this, when, ...rest);
  };
  proto.stop = function (...args) {
    const w = this.__window || { from: 0, duration: 0 };
    probe.stops.push({ now: this.context.currentTime, from: w.from, to: w.from + w.duration, wallMs: Date.now() });
    return stop.call(this, ...args);
  };
})();`;
interface PlaybackProbe {
  scheduled: number;
  stops: { now: number; from: number; to: number; wallMs: number }[];
}

describe('barge-in in the page', () => {
  let bargeBrowser: Browser | undefined;
  afterAll(async () => bargeBrowser?.close());

  // The microphone asks for the opening hours (a reply of about 10 s), then, once the agent is answering, asks where
  // the practice is, over the answer. The file is about 77 s long and the test is over well within it, so chromium's
  // looping of it never says either utterance a second time; turns are found by what was heard, not assumed numbers.
  it('stops the agent when the caller talks over it (server `clear`, queued audio dropped) and answers the new words', async () => {
    const wav = path.join(ARTIFACTS, 'browser-microphone-barge-in.wav');
    await microphoneWav(wav, [BARGE_LEAD_SILENCE_S, UTTERANCE, BARGE_GAP_S, BARGE_UTTERANCE, TRAIL_SILENCE_S]);
    bargeBrowser = await launchBrowser(wav);
    const page = await bargeBrowser.newPage({ viewport: { width: 900, height: 900 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    await page.addInitScript({ content: PLAYBACK_PROBE });
    const wire = recordWire(page, 32); // l16: 16-bit samples at 16 kHz
    await page.goto(`http://127.0.0.1:${stack.port}/?format=l16`);
    await page.click('#call');
    await page.locator('#state', { hasText: 'In call' }).waitFor({ timeout: 20_000 });
    await page.locator('li.turn[data-turn="1"][data-kind="greeting"] .reply').waitFor({ timeout: 20_000 });

    // Both utterances come back as completed turns of their own, in order.
    const spoken = page.locator('li.turn[data-status]', { has: page.locator('.heard:not([hidden])') });
    const asked = spoken.nth(0);
    const barged = spoken.nth(1);
    await barged.waitFor({ timeout: 60_000 });
    const turnOf = async (li: typeof asked) => ({
      n: Number(await li.getAttribute('data-turn')),
      status: await li.getAttribute('data-status'),
      heard: await li.locator('.heard').textContent(),
      reply: await li.locator('.reply').textContent(),
      note: (await li.locator('.note').isVisible()) ? await li.locator('.note').textContent() : null,
    });
    const first = await turnOf(asked);
    const second = await turnOf(barged);
    // On failure, the turns and the protocol timeline show what happened and when.
    const story = () => `${JSON.stringify({ first, second })}\n${timeline(wire).join('\n')}`;
    expect(first.heard === UTTERANCE ? 'heard' : `not heard:\n${story()}`).toBe('heard');
    expect(first.reply).toMatch(/open/i);
    // Cut off mid-answer. All its audio may have been sent before the caller spoke ('completed') or not ('barged').
    expect(['completed', 'barged']).toContain(first.status);
    expect(second.n).toBeGreaterThan(first.n);
    expect(second.status).toBe('completed');
    // The same bar as the CLI barge-in test (call-flow.test.ts): said over the agent, the words are still all heard.
    expect({ heard: second.heard, werAtMostQuarter: wordErrorRate(BARGE_UTTERANCE, second.heard ?? '') <= 0.25 }).toEqual({ heard: second.heard, werAtMostQuarter: true });
    expect(second.reply).toMatch(/Maple Street/);

    // The protocol: exactly one `clear`, after the first answer's audio began and before the second utterance's
    // transcript; the first answer's end mark echoed at the clear, long before its audio could have played out.
    const index = (pred: (e: WireEvent) => boolean) => wire.findIndex(pred);
    const clears = wire.filter((e) => e.dir === 'in' && e.event === 'clear').length;
    expect(clears === 1 ? 'one clear' : `${clears} clears:\n${story()}`).toBe('one clear');
    const clearAt = index((e) => e.event === 'clear');
    const firstAudio = index((e) => e.dir === 'in' && e.event === 'media' && e.turn === first.n);
    const secondHeard = index((e) => e.dir === 'in' && e.event === 'voiceagent.transcript' && e.turn === second.n);
    const endEcho = index((e) => e.dir === 'out' && e.event === 'mark' && e.name === `t${first.n}-end`);
    const order = { firstAudio, clearAt, endEcho, secondHeard }; // indexes into the wire; -1: never seen
    const inOrder = firstAudio >= 0 && firstAudio < clearAt && clearAt < endEcho && endEcho < secondHeard;
    expect(inOrder ? 'in order' : `out of order ${JSON.stringify(order)}:\n${story()}`).toBe('in order');
    const answerMs = wire.filter((e) => e.dir === 'in' && e.event === 'media' && e.turn === first.n).reduce((ms, e) => ms + e.ms!, 0);
    expect(answerMs).toBeGreaterThan(5000); // a long answer: there was something left to cut
    // Played from its first audio in real time, the answer would end at firstAudio + answerMs; the echo came well before.
    expect(wire[endEcho]!.at).toBeLessThan(wire[firstAudio]!.at + answerMs - 1000);

    // The page: playback stopped at once — every source still playing or queued was stopped, in one go, and some
    // of them had not started yet (queued audio dropped) — and the interruption is on screen.
    const probe = await page.evaluate(() => (window as unknown as { __playbackProbe: PlaybackProbe }).__playbackProbe);
    expect(probe.stops.length).toBeGreaterThan(1);
    const nows = probe.stops.map((s) => s.now);
    expect(Math.max(...nows) - Math.min(...nows)).toBeLessThan(0.05);
    const queued = probe.stops.filter((s) => s.from > s.now);
    expect(queued.length).toBeGreaterThan(0);
    const droppedS = probe.stops.reduce((s, x) => s + Math.max(0, x.to - Math.max(x.from, x.now)), 0);
    expect(droppedS).toBeGreaterThan(1);
    // Stopped right when the clear arrived (wall clocks of the same machine; generous for a loaded one).
    expect(Math.abs(probe.stops[0]!.wallMs - wire[clearAt]!.at)).toBeLessThan(2000);
    expect(first.note).toBe('interrupted: you talked over the agent');
    expect(await asked.getAttribute('data-played')).toBe('true'); // its pending marks were echoed at the clear
    expect(second.note).toBeNull();

    // Playback resumes after a clear: the second answer is played to its end mark, with no further stop().
    await page.locator(`li.turn[data-turn="${second.n}"][data-played]`).waitFor({ timeout: 30_000 });
    const stats = (await page.locator('#stats').textContent())!;
    expect(Number(/barge-ins (\d+)/.exec(stats)![1])).toBe(1);
    const after = await page.evaluate(() => (window as unknown as { __playbackProbe: PlaybackProbe }).__playbackProbe);
    expect(after.stops.length).toBe(probe.stops.length);
    // Nothing else was heard: no third spoken turn (the file did not loop within the test).
    expect(await spoken.count()).toBe(2);

    await page.screenshot({ path: path.join(ARTIFACTS, 'browser-barge-in.png'), fullPage: true });
    await page.click('#hangup');
    await page.locator('#state', { hasText: 'Call ended: you hung up' }).waitFor({ timeout: 5_000 });
    expect(await page.locator('#error').isHidden()).toBe(true);
    expect(problems).toEqual([]);
    await page.close();
  });
});
