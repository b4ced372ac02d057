/**
 * Issue 7 on a real call: the function logs of a short call through the local stack (offline providers) hold no
 * audio, tokens or keys. The stack scans its own lines on stop() against its own secrets; this test adds the
 * credentials a caller presented (a browser token, a wrong token) and checks the scan saw every line written.
 */
import { randomBytes } from 'node:crypto';
import { readFileSync, rmSync } from 'node:fs';
import path from 'node:path';
import type { LocalStack } from '../../../local/stack';
import { scanFiles, type LogScanReport } from '../../../local/observability/log-scan';
import { CallerSession } from '../../../tools/caller/session';
import { recordReliability } from '../../support/reliability';
import { connectCaller, speech, startStack, upgradeStatus } from '../../support/stack';

const NAME = 'log-scan';
const LOGS_DIR = path.resolve(__dirname, '..', '..', '..', '.cache', 'test-logs', NAME);

let stack: LocalStack;
beforeAll(async () => {
  // A fresh directory: every line in it is this run's (LogSink appends across runs).
  rmSync(LOGS_DIR, { recursive: true, force: true });
  ({ stack } = await startStack(NAME, { provisionedByFunction: { media: 3 } }));
}, 180_000);
afterAll(async () => stack?.stop());


describe('the logs of a short call', () => {
  it('hold no audio, tokens or keys', async () => {
    // A call with the stack token: greeting, one spoken turn (caller audio in, agent audio out), hang up.
    const caller = await connectCaller(stack);
    expect((await caller.waitForTurn(1))?.status).toBe('completed');
    await caller.waitForAgentSilence(300);
    await caller.speak(await speech('what are your opening hours'));
    expect((await caller.waitForTurn(2))?.status).toBe('completed');
    await caller.hangUp();

    // A browser token issued and used, and a wrong token refused: neither may be logged.
    const res = await fetch(`http://127.0.0.1:${stack.port}/browser/token`, { method: 'POST' });
    const { token: browserToken } = (await res.json()) as { token: string };
    const browser = new CallerSession({ url: `${stack.url}?token=${encodeURIComponent(browserToken)}`, events: true });
    await browser.connect();
    expect((await browser.waitForTurn(1))?.status).toBe('completed');
    await browser.hangUp();
    const wrongToken = randomBytes(12).toString('base64url');
    expect(await upgradeStatus(`${stack.url}?token=${encodeURIComponent(wrongToken)}`)).toBe(403);

    await stack.stop();
    const report = stack.logScan as LogScanReport;
    expect(report).toBeDefined();
    // The scan covered every line the functions wrote (the directory was empty before this stack).
    const written = report.files.reduce((n, f) => n + readFileSync(f.file, 'utf8').split('\n').filter(Boolean).length, 0);
    expect(report.lines).toBe(written);
    expect(report.files.map((f) => path.basename(f.file))).toEqual(expect.arrayContaining(['authorizer.log', 'media.log', 'start.log']));
    expect(report.secretsChecked).toContain('voiceAgentToken');
    // What the callers presented, looked for in the same lines.
    const presented = scanFiles(LOGS_DIR, report.files.map((f) => ({ file: f.file })), [
      { name: 'browser token', value: browserToken },
      { name: 'wrong token', value: wrongToken },
    ]);
    const findings = [...report.findings, ...presented.findings];
    const ok = report.lines > 0 && findings.length === 0;
    recordReliability({
      area: 'abuse',
      tried:
        'function log lines of a call (greeting, a spoken turn), a browser-token call and a refused wrong token, scanned for audio (base64, hex, byte arrays), the stack token, the caller-token HMAC key, caller tokens, token= values, credential headers and AWS keys',
      cases: report.lines,
      outcome: `${report.lines} lines in ${report.files.length} log files, ${findings.length} findings (${[...new Set(findings.map((f) => f.kind))].join(', ') || 'none'})`,
      ok,
    });
    expect(findings.map((f) => `${path.basename(f.file)}:${f.line} ${f.kind} ${f.detail}: ${f.excerpt}`)).toEqual([]);
    expect(report.lines).toBeGreaterThan(0);
  });
});
