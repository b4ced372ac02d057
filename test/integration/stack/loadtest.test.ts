/**
 * `npm run loadtest` end to end on a small scale: it starts its own local stack, runs callers at real-time pace,
 * and writes report.json (seed shape + stages + counts) and report.html. Behaviour, not performance: the numbers'
 * sizes are the benchmark's business; here they must exist, agree with each other, and come from the run.
 */
import { existsSync, mkdtempSync, readFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { parseOptions, runLoadtest } from '../../../tools/loadtest/loadtest';
import type { LoadReport } from '../../../tools/loadtest/report-types';
import { DEFAULT_ENDPOINTING } from '../../../functions/contracts/turn-policy';

jest.setTimeout(180_000);

it('runs two calls against a local stack it starts, and writes the JSON and HTML reports', async () => {
  const out = mkdtempSync(path.join(os.tmpdir(), 'loadtest-'));
  const options = parseOptions(['--calls', '2', '--duration', '12', '--ramp', '1', '--profile', 'zero', '--out', out, '--no-progress', '--barge-in', '0']);
  const report = await runLoadtest({ ...options, skipBuild: true }, 'test');
  const written = JSON.parse(readFileSync(path.join(out, 'report.json'), 'utf8')) as LoadReport;
  expect(written).toEqual(JSON.parse(JSON.stringify(report)));
  expect(existsSync(path.join(out, 'report.html'))).toBe(true);
  expect(readFileSync(path.join(out, 'report.html'), 'utf8')).toContain('<svg');

  // Seed-shaped headline, consistent with the turns counted.
  expect(report.turns.attempted).toBeGreaterThanOrEqual(2);
  expect(report.success_rate).toBe(Math.round((10000 * (report.turns.attempted - report.turns.failed)) / report.turns.attempted) / 100);
  expect(report.latency.server.count).toBe(report.turns.answered);
  expect(report.p95_latency_ms).toBe(report.latency.server.p95);
  // Every answered turn went through the silence that ended it before its answer (at least the shortest the words can
  // ask for, 300 ms), and the report says how each turn's end was decided.
  expect(report.latency.server.p50).toBeGreaterThan(DEFAULT_ENDPOINTING.completeSilenceMs);
  const ended = report.endOfTurn!;
  expect(ended.complete.turns + ended.unsure.turns + ended.incomplete.turns + ended.none.turns).toBe(report.turns.answered);
  if (ended.complete.turns > 0) expect(ended.complete.latency.p50).toBeGreaterThan(DEFAULT_ENDPOINTING.completeSilenceMs);
  if (ended.unsure.turns > 0) expect(ended.unsure.latency.p50).toBeGreaterThan(DEFAULT_ENDPOINTING.unsureSilenceMs);
  expect(report.counts?.turnTaking?.sttRequests).toBeGreaterThanOrEqual(report.turns.answered);
  expect(report.stages.stt.count).toBe(report.turns.answered);
  expect(report.stages.dispatch.count).toBeGreaterThan(0);
  // Client and server measured the same turns: the difference is loopback and queueing, not a different turn.
  expect(Math.abs(report.latency.clientMinusServer.p50)).toBeLessThan(100);

  // The counts the cost model reads: every caller message reached a function, and the turns wrote to the table.
  const c = report.counts!;
  expect(c.callMinutes).toBeGreaterThan(0.1);
  expect(c.lambda.media!.invocations).toBeGreaterThan(c.callMinutes * 60 * 50 * 0.8);
  expect(c.messagesIn).toBeGreaterThanOrEqual(c.lambda.media!.invocations);
  expect(c.dynamodb.PutItem!.requests).toBeGreaterThan(0);
  expect(report.machine.samples.length).toBeGreaterThan(5);
});
