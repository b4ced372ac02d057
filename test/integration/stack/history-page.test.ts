/**
 * The on-call history end to end: a real call through the local stack (offline speech, two spoken turns), then
 * `GET /history` through the gateway and the Lambda runtime (the function's own identity: its Query on the
 * `calls-by-day` index is checked by local IAM), and the history page in Debian's chromium, loaded from `localhost`
 * against the API on `127.0.0.1` (another origin: the CORS preflight of its Authorization header is exercised). The
 * page must show the call turn by turn — what was heard and answered, the latency and each stage — exactly as the
 * turn records stored it. Screenshots of the list and the call go to .cache/test-artifacts/ (README shows them).
 */
import { existsSync, mkdirSync, readdirSync } from 'node:fs';
import path from 'node:path';
import { chromium, type Browser } from 'playwright-core';
import type { DynamoCallStore } from '../../../functions/adapters/dynamo-call-store';
import type { CallDetail, HistoryPage } from '../../../functions/contracts/history';
import { turnLatency, type TurnRecord } from '../../../functions/domain/call/model';
import { scanFiles } from '../../../local/observability/log-scan';
import type { LocalStack } from '../../../local/stack';
import { callIdOf, connectCaller, speech, startStack, until } from '../../support/stack';

jest.setTimeout(180_000);

const CHROMIUM = '/usr/bin/chromium';
const ARTIFACTS = path.resolve(__dirname, '..', '..', '..', '.cache', 'test-artifacts');
const SAY = ['what are your opening hours', 'i would like to book an appointment'];

let stack: LocalStack;
let store: DynamoCallStore;
let browser: Browser | undefined;
let callId: string;
let records: TurnRecord[];

beforeAll(async () => {
  if (!existsSync(CHROMIUM)) throw new Error(`${CHROMIUM} is missing: run scripts/setup.sh (npm test and npm start do) or apt-get install chromium`);
  mkdirSync(ARTIFACTS, { recursive: true });
  // The offline engines share two cores with everything else; this test is about what the history shows, not speed.
  ({ stack, store } = await startStack('history-page', { provisionedByFunction: { media: 4 }, functionEnv: { STT_TIMEOUT_MS: '15000', TTS_TIMEOUT_MS: '15000' } }));
  const caller = await connectCaller(stack);
  expect((await caller.waitForTurn(1))?.status).toBe('completed');
  await caller.waitForAgentSilence(300);
  let turn = 2;
  for (const words of SAY) {
    await caller.speak(await speech(words));
    const report = await caller.waitForTurn(turn);
    expect(report?.status).toBe('completed');
    turn = report!.turn + 1;
    await caller.waitForAgentSilence(300);
  }
  callId = await callIdOf(stack, caller.streamSid);
  await caller.hangUp();
  await until(async () => (await store.getCall(callId))?.status === 'ended', 15_000);
  records = (await store.listTurns(callId)).sort((a, b) => a.turn - b.turn);
  browser = await chromium.launch({ executablePath: CHROMIUM, headless: true });
});
afterAll(async () => {
  await browser?.close();
  await stack?.stop();
});

const api = () => `http://127.0.0.1:${stack.port}`;
/** `token`: null sends no Authorization header. */
const history = (query = '', token: string | null = stack.token) =>
  fetch(`${api()}/history${query}`, { headers: token !== null ? { authorization: `Bearer ${token}` } : {} });

describe('GET /history through the stack', () => {
  it('refuses without the token, lists the call with its outcome, and gives its turns as stored', async () => {
    expect((await history('', null)).status).toBe(401);
    expect((await history(`?call=${callId}`, 'not-the-token')).status).toBe(401);
    const list = (await (await history()).json()) as HistoryPage;
    expect(list.environment).toBe('local');
    expect(list.calls.map((c) => c.callId)).toEqual([callId]);
    expect(list.calls[0]).toMatchObject({ status: 'ended', turns: records.length, errors: 0, bargeIns: 0 });
    expect(list.calls[0]!.durationMs).toBeGreaterThan(0);
    const detail = (await (await history(`?call=${encodeURIComponent(callId)}`)).json()) as CallDetail;
    expect(detail.turns.map((t) => [t.turn, t.transcript, t.reply, t.timings])).toEqual(records.map((r) => [r.turn, r.transcript, r.reply, r.timings]));
  });
});

/** The stages a turn's record says, in the page's words ("label N ms"): computed here from the record alone. */
function expectedStages(r: TurnRecord): string[] {
  const t = r.timings;
  const p = r.providerMs ?? {};
  const out: string[] = [];
  if (t.speechEndAt !== undefined) out.push(`endpointing ${t.endpointAt - t.speechEndAt} ms`);
  if (p.stt !== undefined) out.push(`speech-to-text ${p.stt} ms`);
  if (p.responder !== undefined) out.push(`responder ${p.responder} ms`);
  if (p.ttsFirstByte !== undefined) out.push(`TTS first byte ${p.ttsFirstByte} ms`);
  if (t.firstAudioAt !== undefined && t.ttsFirstByteAt !== undefined) out.push(`send ${t.firstAudioAt - t.ttsFirstByteAt} ms`);
  return out;
}

describe('the history page in chromium', () => {
  it('shows the call in the list and, opened, each turn with what was said and its stage timings as recorded', async () => {
    const page = await browser!.newPage({ viewport: { width: 1000, height: 1100 } });
    const problems: string[] = [];
    page.on('pageerror', (err) => problems.push(`page error: ${err.message}`));
    page.on('console', (msg) => {
      if (msg.type() === 'error') problems.push(`console: ${msg.text()}`);
    });
    // Page on localhost, API on 127.0.0.1: a cross-origin request with an Authorization header, so a preflight first.
    await page.goto(`http://localhost:${stack.port}/history.html?api=${encodeURIComponent(api())}`);
    await page.fill('#token', stack.token);
    await page.click('#load');
    const row = page.locator(`tr[data-call="${callId}"]`);
    await row.waitFor({ timeout: 15_000 });
    expect(await page.locator('#environment').textContent()).toContain('local');
    expect(await row.textContent()).toContain(String(records.length));
    await page.screenshot({ path: path.join(ARTIFACTS, 'history-list.png') });
    // The token stays in this tab: never in the address.
    expect(page.url()).not.toContain(stack.token);

    await row.click();
    await page.locator('li.turn').first().waitFor({ timeout: 15_000 });
    expect(await page.locator('li.turn').count()).toBe(records.length);
    const speechTurns = records.filter((r) => r.kind === 'speech');
    expect(speechTurns).toHaveLength(SAY.length);
    for (const r of records) {
      const li = page.locator(`li.turn[data-turn="${r.turn}"]`);
      expect(await li.getAttribute('data-status')).toBe(r.status);
      expect((await li.locator('.reply').textContent())?.trim()).toBe(r.reply);
      if (r.kind === 'speech') expect((await li.locator('.heard').textContent())?.trim()).toBe(r.transcript);
      expect((await li.locator('.latency').textContent())?.trim()).toBe(`${turnLatency(r)} ms`);
      const stages = (await li.locator('.stages').textContent()) ?? '';
      for (const stage of expectedStages(r)) expect(stages).toContain(stage);
      // A bar for each stage in the waterfall.
      expect(await li.locator('.waterfall [data-stage]').count()).toBeGreaterThanOrEqual(expectedStages(r).length);
    }
    await page.screenshot({ path: path.join(ARTIFACTS, 'history-call.png'), fullPage: true });
    expect(problems).toEqual([]);
    await page.close();
  });

  it('says the token was refused, and shows no call', async () => {
    const page = await browser!.newPage();
    await page.goto(`http://localhost:${stack.port}/history.html?api=${encodeURIComponent(api())}`);
    await page.fill('#token', 'not-the-token');
    await page.click('#load');
    await page.locator('#message', { hasText: /refused/i }).waitFor({ timeout: 15_000 });
    expect(await page.locator('tr[data-call]').count()).toBe(0);
    await page.close();
  });
});

describe('privacy', () => {
  it('wrote no transcript or reply of the call into any function log line, the history function\'s included', () => {
    const dir = stack.logs.directory!;
    const files = readdirSync(dir).filter((f) => f.endsWith('.log')).map((f) => ({ file: path.join(dir, f) }));
    expect(files.map((f) => path.basename(f.file))).toEqual(expect.arrayContaining(['call-history.log', 'media.log', 'start.log']));
    const said = records.flatMap((r) => [
      ...(r.transcript ? [{ name: `transcript of turn ${r.turn}`, value: r.transcript }] : []),
      ...(r.reply ? [{ name: `reply of turn ${r.turn}`, value: r.reply }] : []),
    ]);
    const report = scanFiles(dir, files, said);
    // Every spoken transcript and reply was long enough to be looked for.
    expect(report.secretsSkipped).toEqual([]);
    expect(report.secretsChecked.length).toBe(said.length);
    expect(report.findings.filter((f) => f.kind === 'known-secret').map((f) => `${path.basename(f.file)}:${f.line} ${f.detail}`)).toEqual([]);
  });
});
