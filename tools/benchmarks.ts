/**
 * `npm run benchmarks [-- --quick]`: the load-test matrix behind BENCHMARKS.md, run on this machine, and the file
 * regenerated from the reports (each run's report.json/html stays under .cache/benchmarks/<run>/).
 * Rows: the headline profile (seed latencies through the local vendor servers, reply cache off) at 1, 10, 50 and
 * 100 concurrent calls with Twilio's 20 ms frames and with 100 ms chunks; zero provider latency (platform
 * overhead); provisioned concurrency off versus on; reply cache on versus off. Then the cost model from the
 * measured counts.
 */
import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { estimateCost, provisionedConcurrencyFor, renderCostMarkdown } from './loadtest/cost-model';
import { parseOptions, runLoadtest } from './loadtest/loadtest';
import type { LoadReport } from './loadtest/report-types';

interface Run {
  readonly id: string;
  readonly group: string;
  readonly args: string;
}

const SEED = {
  serverless: { success_rate: 92.8, avg_latency_ms: 650, p95_latency_ms: 1100, p99_latency_ms: 1800 },
  container: { success_rate: 98.5, avg_latency_ms: 425, p95_latency_ms: 520, p99_latency_ms: 650 },
};

function matrix(quick: boolean): Run[] {
  const d = (calls: number) => (quick ? 20 : calls >= 50 ? 30 : 60);
  const runs: Run[] = [];
  for (const frame of [20, 100]) {
    for (const calls of quick ? [1, 10] : [1, 10, 50, 100]) {
      runs.push({ id: `seed-${frame}ms-${calls}`, group: `headline-${frame}`, args: `--calls ${calls} --duration ${d(calls)} --profile seed --reply-cache off --frame-ms ${frame}` });
    }
  }
  runs.push({ id: 'zero-20ms-1', group: 'zero', args: `--calls 1 --duration ${d(1)} --profile zero --reply-cache off` });
  runs.push({ id: 'zero-100ms-10', group: 'zero', args: `--calls 10 --duration ${d(10)} --profile zero --reply-cache off --frame-ms 100` });
  runs.push({ id: 'provisioned-off-1', group: 'provisioned', args: `--calls 1 --duration ${d(1)} --profile seed --reply-cache off --provisioned off` });
  runs.push({ id: 'cache-on-1', group: 'cache', args: `--calls 1 --duration ${d(1)} --profile seed --reply-cache on` });
  return runs;
}

const ms = (v: number) => `${Math.round(v)} ms`;
const errorsText = (e: Readonly<Record<string, number>>) =>
  Object.entries(e)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '—';

function row(label: string, r: LoadReport): string {
  const s = r.stages;
  return `| ${label} | ${r.success_rate} % (${r.turns.attempted - r.turns.failed}/${r.turns.attempted}) | ${ms(r.avg_latency_ms)} | ${ms(r.latency.server.p50)} | ${ms(r.p95_latency_ms)} | ${ms(r.p99_latency_ms)} | ${ms(r.latency.client.p95)} | ${ms(r.latency.afterEndpoint.p95)} | ${ms(r.platformOverhead.p95)} | ${ms(s.dispatch.p95)} | ${ms(s.stt.p95)} | ${ms(s.ttsFirstByte.p95)} | ${ms(s.send.p95)} | ${r.coldStarts.hotPath} | ${r.throttles} | ${Math.round(r.machine.cpuPercent.mean)} % / ${Math.round(r.machine.cpuPercent.max)} % | ${errorsText(r.errors)} |`;
}
const HEADER =
  '| run | success (turns) | avg | p50 | p95 | p99 | client p95 | endpoint → audio p95 | platform overhead p95 | dispatch p95 | STT p95 | TTS first byte p95 | send p95 | hot-path cold starts | throttles | CPU mean / max | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';

async function main() {
  const o = new Command()
    .option('--quick', 'a short matrix (1 and 10 calls, 20 s)')
    .option('--only <ids>', 'comma-separated run ids')
    .option('--render-only', 'rewrite BENCHMARKS.md from the reports already in .cache/benchmarks')
    .parse()
    .opts<{ quick?: boolean; only?: string; renderOnly?: boolean }>();
  const runs = o.renderOnly ? [] : matrix(Boolean(o.quick)).filter((r) => !o.only || o.only.split(',').includes(r.id));
  const dir = path.join('.cache', 'benchmarks');
  let built = false;
  for (const run of runs) {
    const out = path.join(dir, run.id);
    const args = `${run.args} --out ${out} --no-progress`;
    console.log(`benchmark ${run.id}: npm run loadtest -- ${args}`);
    const options = { ...parseOptions(args.split(' ')), skipBuild: built };
    const report = await runLoadtest(options, `npm run loadtest -- ${args}`);
    built = true;
    console.log(`  success ${report.success_rate} %, p95 ${report.p95_latency_ms} ms, errors ${errorsText(report.errors)}`);
  }
  writeFileSync('BENCHMARKS.md', render(dir, matrix(Boolean(o.quick))));
  console.log('BENCHMARKS.md written');
}

/** The targets against what the runs measured (every number from a report). */
function verdict(reports: Map<string, LoadReport>, runs: Run[]): string[] {
  const out = ['## Against the targets', ''];
  const held = (frame: number) =>
    runs
      .filter((r) => r.group === `headline-${frame}`)
      .map((r) => reports.get(r.id))
      .filter((r): r is LoadReport => r !== undefined && r.success_rate >= 99.9)
      .map((r) => r.run.calls)
      .reduce((a, b) => Math.max(a, b), 0);
  const hundred = reports.get('seed-20ms-100');
  if (hundred) {
    out.push(
      `- **100 calls, 20 ms frames, seed latencies, reply cache off** (target: ≥ 99.9 % success, p95 ≤ 400 ms, p99 ≤ 500 ms, platform overhead p95 ≤ 15 ms, no hot-path cold starts): success ${hundred.success_rate} % of ${hundred.turns.attempted} turns. **Not met on this machine**; see the capacity section below for why and what would change it.`,
    );
  }
  for (const frame of [20, 100]) {
    out.push(`- Most concurrent calls that held ≥ 99.9 % success with ${frame} ms ${frame === 20 ? 'frames' : 'chunks'}: ${held(frame) || 'none of the sizes run'}.`);
  }
  const one = reports.get('seed-20ms-1');
  if (one) {
    out.push(
      `- One call, 20 ms frames: turn latency p95 ${Math.round(one.p95_latency_ms)} ms, of which 400 ms is the endpoint silence the caller must leave; endpoint → first audio p95 ${Math.round(one.latency.afterEndpoint.p95)} ms; platform overhead p95 ${Math.round(one.platformOverhead.p95)} ms. A p95 ≤ 400 ms is impossible by construction while the definition includes a 400 ms endpoint silence: the target would need a shorter silence (and more cut-off callers) or an endpoint decided by the speech-to-text provider's own end-of-utterance event.`,
    );
  }
  out.push('');
  return out;
}

/** What one call costs this machine, from the 1-call runs, and what 100 would need. */
function capacity(reports: Map<string, LoadReport>): string[] {
  const out = ['## What holds 100 calls back on this machine', ''];
  out.push('| frames | media invocations per call-second | machine CPU per call (cores) | CPU per media invocation | cores 100 calls would need |', '|---|---|---|---|---|');
  for (const frame of [20, 100]) {
    const r = reports.get(`seed-${frame}ms-1`);
    if (!r?.counts) continue;
    const seconds = r.counts.callMinutes * 60;
    const perSecond = r.counts.lambda.media!.invocations / seconds;
    const cores = (r.machine.cpuPercent.mean / 100) * r.machine.cpus;
    const perInvocationMs = (cores * 1000) / perSecond;
    out.push(`| ${frame} ms | ${perSecond.toFixed(1)} | ${cores.toFixed(2)} | ${perInvocationMs.toFixed(2)} ms | ${(cores * 100).toFixed(0)} |`);
  }
  out.push('');
  out.push('CPU per call is the whole machine\'s mean over the 1-call run (callers, gateway, Lambda runtime, dynalite, vendor');
  out.push('servers) divided by one call, so it over-counts slightly; per invocation it is that divided by the media');
  out.push('invocations per second. Each invocation is a separate message to a separate Lambda environment (a worker');
  out.push('thread woken for it), as on AWS: that wake-up, the event\'s serialization and the handler\'s middleware cost');
  out.push('this machine far more than the handler\'s own work. On AWS that CPU is Lambda\'s, paid per invocation; here it');
  out.push('is two cores shared by everything. See the note at the end of `docs/ARCHITECTURE.md` for the design change');
  out.push('this points to.', '');
  return out;
}

function load(dir: string, id: string): LoadReport | undefined {
  try {
    return JSON.parse(readFileSync(path.join(dir, id, 'report.json'), 'utf8')) as LoadReport;
  } catch {
    return undefined;
  }
}

function render(dir: string, runs: Run[]): string {
  const reports = new Map(runs.flatMap((r) => {
    const rep = load(dir, r.id);
    return rep ? [[r.id, rep] as const] : [];
  }));
  const any = [...reports.values()][0];
  const out: string[] = [];
  out.push('# Benchmarks', '');
  out.push('Regenerate everything below with `npm run benchmarks` (about 25 minutes; `-- --quick` for a short matrix).');
  out.push('Each row is one run of `npm run loadtest` (its command is in the row\'s report); the full reports, with');
  out.push('histograms and CDFs per stage, are written to `.cache/benchmarks/<run>/report.html`. Latency is defined in');
  out.push('[`docs/LATENCY.md`](docs/LATENCY.md): last caller speech frame at the gateway → first agent audio leaving it,');
  out.push('**including the 400 ms endpoint silence**. Percentiles from HDR histograms. Durations are shorter than the');
  out.push("seed's 10 minutes so the matrix fits in a session; `npm run loadtest -- --calls 100 --duration 600` runs the seed's.");
  out.push('');
  out.push('"endpoint → audio" is the same turn measured from the endpoint decision instead of the caller\'s last word:');
  out.push("not our definition, but what the seed study's latency breakdown adds up (dispatch, STT, response, TTS, return,");
  out.push('no endpointing). The seed\'s figures below are the study\'s own, not re-measured here.', '');
  if (any) {
    out.push(`Machine: ${any.machine.cpus} × ${any.machine.cpuModel}, ${any.machine.totalMemMb} MB, Node ${any.machine.node}; everything (callers, gateway, Lambda runtime, dynalite, vendor servers) on it. Runs from ${[...reports.values()].map((r) => r.run.date).sort()[0]}.`, '');
  }
  const section = (title: string, ids: [string, string][]) => {
    out.push(`## ${title}`, '', HEADER);
    for (const [label, id] of ids) {
      const r = reports.get(id);
      if (r) out.push(row(label, r));
    }
    out.push('');
  };
  out.push('## The seed study, for comparison (100 concurrent calls, 10 minutes)', '');
  out.push('| design | success | avg | p95 | p99 |', '|---|---|---|---|---|');
  out.push(`| seed: serverless | ${SEED.serverless.success_rate} % | ${SEED.serverless.avg_latency_ms} ms | ${SEED.serverless.p95_latency_ms} ms | ${SEED.serverless.p99_latency_ms} ms |`);
  out.push(`| seed: container ("optimized") | ${SEED.container.success_rate} % | ${SEED.container.avg_latency_ms} ms | ${SEED.container.p95_latency_ms} ms | ${SEED.container.p99_latency_ms} ms |`, '');
  for (const frame of [20, 100]) {
    const ids = runs.filter((r) => r.group === `headline-${frame}`).map((r) => [`${r.id.split('-').at(-1)} calls`, r.id] as [string, string]);
    section(`Headline: seed provider latencies, reply cache off, ${frame} ms ${frame === 20 ? 'frames (Twilio)' : 'chunks'}`, ids);
  }
  section('Zero provider latency: what the platform itself adds', [
    ['1 call, 20 ms', 'zero-20ms-1'],
    ['10 calls, 100 ms', 'zero-100ms-10'],
  ]);
  section('Provisioned concurrency off versus on (1 call, 20 ms, seed)', [
    ['on', 'seed-20ms-1'],
    ['off', 'provisioned-off-1'],
  ]);
  section('Reply cache on versus off (1 call, 20 ms, seed)', [
    ['off (every reply synthesized)', 'seed-20ms-1'],
    ['on', 'cache-on-1'],
  ]);
  out.push(...verdict(reports, runs));
  out.push(...capacity(reports));
  for (const frame of [20, 100]) {
    const best = runs
      .filter((r) => r.group === `headline-${frame}`)
      .map((r) => reports.get(r.id))
      .filter((r): r is LoadReport => r?.counts !== undefined && r.counts.callMinutes > 0 && r.success_rate >= 99)
      .at(-1);
    if (!best?.counts) continue;
    out.push(`## Cost model: ${frame} ms ${frame === 20 ? 'frames (Twilio)' : 'chunks'}`, '');
    out.push(
      `Measured counts from the ${best.run.calls}-call run above (${best.counts.callMinutes.toFixed(1)} call-minutes): the largest ${frame} ms run that held ≥ 99 % success. ` +
        'Counts of messages, invocations and table requests carry over to AWS as they are; Lambda durations were measured on this ' +
        'machine\'s emulated runtime (a 2-core VM shared by everything) and are likely longer than on Lambda, so the duration line ' +
        "is an upper estimate. Provisioned concurrency is priced as prod's schedule in lib/config.ts.",
      '',
    );
    const estimate = estimateCost(best.counts, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 30, provisionedConcurrency: provisionedConcurrencyFor('prod') });
    out.push(renderCostMarkdown(estimate).replace(/^## /gm, '### '), '');
  }
  return out.join('\n') + '\n';
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
