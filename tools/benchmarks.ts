/**
 * `npm run benchmarks [-- --quick]`: the load-test matrix behind BENCHMARKS.md, run on this machine, and the file
 * regenerated from the reports (each run's report.json/html stays under .cache/benchmarks/<run>/).
 * Rows: the headline profile (seed latencies through the local vendor servers, reply cache off) at 1, 10, 25, 50 and
 * 100 concurrent calls with Twilio's 20 ms frames and with 100 ms chunks, 60 s after a 10 s ramp; zero provider
 * latency (platform overhead); provisioned concurrency off versus on; reply cache on versus off. Before them, what one
 * call costs DynamoDB per frame spread over 1 to 256 environments (tools/frame-cost.ts). Then the cost model from the
 * measured counts, at the load test's own spread and at the worst one. End of turn (issue 17): the words against the
 * fixed silence, one call at 20 and 100 ms framing, with what each costs per call-minute.
 */
import { Command } from 'commander';
import { mkdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { estimateCost, estimateModelCost, provisionedConcurrencyFor, renderCostMarkdown, renderModelCostMarkdown } from './loadtest/cost-model';
import { FRAME_COST_HEADER, frameCostRow, measureFrameCost, type FrameCost } from './frame-cost';
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

const FRAME_COST_ENVIRONMENTS = [1, 4, 16, 64, 256];
const FRAME_COST_SECONDS = 60;

function matrix(quick: boolean): Run[] {
  const d = (_calls: number) => (quick ? 20 : 60);
  const runs: Run[] = [];
  for (const frame of [20, 100]) {
    for (const calls of quick ? [1, 10] : [1, 10, 25, 50, 100]) {
      runs.push({ id: `seed-${frame}ms-${calls}`, group: `headline-${frame}`, args: `--calls ${calls} --duration ${d(calls)} --profile seed --reply-cache off --frame-ms ${frame}` });
    }
  }
  runs.push({ id: 'zero-20ms-1', group: 'zero', args: `--calls 1 --duration ${d(1)} --profile zero --reply-cache off` });
  runs.push({ id: 'zero-100ms-10', group: 'zero', args: `--calls 10 --duration ${d(10)} --profile zero --reply-cache off --frame-ms 100` });
  runs.push({ id: 'provisioned-off-1', group: 'provisioned', args: `--calls 1 --duration ${d(1)} --profile seed --reply-cache off --provisioned off` });
  runs.push({ id: 'cache-on-1', group: 'cache', args: `--calls 1 --duration ${d(1)} --profile seed --reply-cache on` });
  // End of turn (issue 17): the words decide (default) against the fixed 400 ms silence as it was before, one call,
  // longer runs (about 20 turns each) so the p95 is not just the slowest of a handful. "Before": preemption at 200 ms
  // of silence and a coordination tick every 200 ms, no read at the end of speech, as they were.
  const before = '--function-env END_OF_TURN=fixed --function-env PREEMPT_SILENCE_MS=200 --function-env TICK_MS=200 --function-env SPEECH_END_TICK_MS=0';
  const eot = quick ? 20 : 180;
  for (const frame of [20, 100]) {
    runs.push({ id: `eot-before-${frame}ms-1`, group: 'end-of-turn', args: `--calls 1 --duration ${eot} --profile seed --reply-cache off --frame-ms ${frame} ${before}` });
    runs.push({ id: `eot-words-${frame}ms-1`, group: 'end-of-turn', args: `--calls 1 --duration ${eot} --profile seed --reply-cache off --frame-ms ${frame}` });
  }
  // What a 100 ms coordination tick would add (TICK_MS=100: the words are transcribed up to 100 ms sooner, for twice the
  // ticks' reads).
  // The words deciding, but the pause found by the ticks alone (no read at the end of speech, SPEECH_END_TICK_MS=0).
  runs.push({ id: 'eot-words-noearly-20ms-1', group: 'end-of-turn', args: `--calls 1 --duration ${eot} --profile seed --reply-cache off --function-env SPEECH_END_TICK_MS=0` });
  // Reading at 80 ms of silence instead of 40: fewer pauses inside the words taken for the end, for a later start.
  runs.push({ id: 'eot-words-end80-20ms-1', group: 'end-of-turn', args: `--calls 1 --duration ${eot} --profile seed --reply-cache off --function-env SPEECH_END_TICK_MS=80` });
  runs.push({ id: 'eot-words-tick100-20ms-1', group: 'end-of-turn', args: `--calls 1 --duration ${eot} --profile seed --reply-cache off --function-env TICK_MS=100` });
  // The model path: the Bedrock stand-in at a Haiku-class latency (first token ≈ 0.4 s) on top of the seed profile.
  for (const calls of quick ? [1] : [1, 10, 100]) {
    runs.push({ id: `model-20ms-${calls}`, group: 'model', args: `--calls ${calls} --duration ${d(calls)} --profile seed --reply-cache off --responder bedrock` });
  }
  return runs;
}

const ms = (v: number) => `${Math.round(v)} ms`;
const errorsText = (e: Readonly<Record<string, number>>) =>
  Object.entries(e)
    .map(([k, v]) => `${k} ${v}`)
    .join(', ') || '—';

function row(label: string, r: LoadReport): string {
  const s = r.stages;
  return `| ${label} | ${r.success_rate} % (${r.turns.attempted - r.turns.failed}/${r.turns.attempted}) | ${ms(r.avg_latency_ms)} | ${ms(r.latency.server.p50)} | ${ms(r.p95_latency_ms)} | ${ms(r.p99_latency_ms)} | ${ms(r.latency.client.p95)} | ${ms(r.latency.afterEndpoint.p95)} | ${ms(r.platformOverhead.p95)} | ${ms(s.dispatch.p95)} | ${ms(s.stt.p95)} | ${ms(s.ttsFirstByte.p95)} | ${ms(s.send.p95)} | ${r.coldStarts.hotPath} / ${r.coldStarts.hotPathAfterRamp ?? '—'} | ${r.throttles} | ${Math.round(r.machine.cpuPercent.mean)} % / ${Math.round(r.machine.cpuPercent.max)} % | ${errorsText(r.errors)} |`;
}
const HEADER =
  '| run | success (turns) | avg | p50 | p95 | p99 | client p95 | endpoint → audio p95 | platform overhead p95 | dispatch p95 | STT p95 | TTS first byte p95 | send p95 | hot-path cold starts (run / after the ramp) | throttles | CPU mean / max | errors |\n|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|---|';

async function main() {
  const o = new Command()
    .option('--quick', 'a short matrix (1 and 10 calls, 20 s)')
    .option('--only <ids>', 'comma-separated run ids')
    .option('--render-only', 'rewrite BENCHMARKS.md from the reports already in .cache/benchmarks')
    .option('--skip-frame-cost', 'keep the frame-cost measurement already on disk')
    .parse()
    .opts<{ quick?: boolean; only?: string; renderOnly?: boolean; skipFrameCost?: boolean }>();
  const runs = o.renderOnly ? [] : matrix(Boolean(o.quick)).filter((r) => !o.only || o.only.split(',').includes(r.id));
  const dir = path.join('.cache', 'benchmarks');
  if (!o.renderOnly && !o.skipFrameCost && !o.only) {
    const costs: FrameCost[] = [];
    for (const environments of FRAME_COST_ENVIRONMENTS) {
      console.log(`frame cost: npx tsx tools/frame-cost.ts --seconds ${FRAME_COST_SECONDS} --environments ${environments}`);
      costs.push(await measureFrameCost({ seconds: FRAME_COST_SECONDS, environments, preemptSilenceMs: 0, frameMs: 20 }));
    }
    mkdirSync(dir, { recursive: true });
    writeFileSync(path.join(dir, 'frame-cost.json'), JSON.stringify(costs, null, 2));
  }
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
  // A full matrix has left something of a run alive (a 2026-12-07 run kept 13 threads and a fifth of a core busy after
  // this line, which also burdened every run after the one that leaked it): say what, then end rather than linger.
  const open = process.getActiveResourcesInfo().filter((r) => !['TTYWrap', 'PipeWrap', 'FSReqPromise'].includes(r)); // stdio, pending fs
  if (runs.length > 0 && open.length > 0) console.warn(`still open after the runs (a run did not stop everything it started): ${[...new Set(open)].map((r) => `${r} × ${open.filter((x) => x === r).length}`).join(', ')}`);
  process.exit(0);
}

/** The targets against what the runs measured (every number from a report of this matrix). */
function verdict(reports: Map<string, LoadReport>, runs: Run[], frameCosts: FrameCost[] | undefined): string[] {
  const out = ['## Against the targets', ''];
  const held = (frame: number) =>
    runs
      .filter((r) => r.group === `headline-${frame}`)
      .map((r) => reports.get(r.id))
      .filter((r): r is LoadReport => r !== undefined && r.success_rate >= 99.9)
      .map((r) => r.run.calls)
      .reduce((a, b) => Math.max(a, b), 0);
  if (frameCosts && frameCosts.length > 0) {
    const rows = frameCosts.map(frameCostRow);
    const most = Math.max(...rows.map((r) => r.requestsPerFrame));
    const least = Math.min(...rows.map((r) => r.requestsPerFrame));
    const bytesRatio = Math.max(...rows.map((r) => r.bytesPerFrame)) / Math.min(...rows.map((r) => r.bytesPerFrame));
    out.push(
      `- **Flat coordination cost** (target: largest per-frame figure ≤ 1.2 × the smallest over ${frameCosts.map((c) => c.environments).join(', ')} environments, ≤ 0.6 requests per frame): ` +
        `requests per frame ${least.toFixed(3)}–${most.toFixed(3)} (ratio ${(most / least).toFixed(3)}), bytes per frame ratio ${bytesRatio.toFixed(3)}. ` +
        `**${most / least <= 1.2 && bytesRatio <= 1.2 && most <= 0.6 ? 'Met' : 'Not met'}.**`,
    );
  }
  const one100 = reports.get('seed-100ms-1');
  const hundred = reports.get('seed-100ms-100');
  if (hundred) {
    const bound = one100 ? 1.2 * one100.p95_latency_ms : undefined;
    const ok = hundred.success_rate >= 99.9 && bound !== undefined && hundred.p95_latency_ms <= bound && (hundred.coldStarts.hotPathAfterRamp ?? 0) === 0;
    out.push(
      `- **100 calls, 100 ms chunks** (target: ≥ 99.9 % success, turn p95 ≤ 1.2 × the 1-call p95 of this matrix${bound !== undefined ? ` = ${Math.round(bound)} ms` : ''}, no hot-path cold start after the ramp): ` +
        `success ${hundred.success_rate} % of ${hundred.turns.attempted} turns, p95 ${Math.round(hundred.p95_latency_ms)} ms, hot-path cold starts after the ramp ${hundred.coldStarts.hotPathAfterRamp ?? 'not measured'}. **${ok ? 'Met' : 'Not met'}.**`,
    );
  }
  const twentyHeld = held(20);
  out.push(`- **Twilio's 20 ms framing** (target: ≥ 25 calls at ≥ 99.9 % success): the most calls of this matrix that held ≥ 99.9 % is ${twentyHeld || 'none'}. **${twentyHeld >= 25 ? 'Met' : 'Not met'}.**`);
  out.push(`- Most concurrent calls that held ≥ 99.9 % success with 100 ms chunks: ${held(100) || 'none of the sizes run'}.`);
  const one = reports.get('seed-20ms-1');
  if (one) {
    out.push(
      `- One call, 20 ms frames: turn latency p95 ${Math.round(one.p95_latency_ms)} ms, which includes the silence that ended each turn (300–1,000 ms, chosen by the caller's words: docs/LATENCY.md); endpoint → first audio p95 ${Math.round(one.latency.afterEndpoint.p95)} ms; platform overhead p95 ${Math.round(one.platformOverhead.p95)} ms.`,
    );
  }
  out.push('');
  return out;
}

/** The frame-cost table: one call's DynamoDB traffic per frame, spread over more and more environments. */
function frameCostSection(costs: FrameCost[] | undefined, measuredOn: string | undefined): string[] {
  if (!costs || costs.length === 0) return [];
  const out = ['## What a frame costs DynamoDB, however widely Lambda spreads a call', ''];
  out.push(
    `\`npx tsx tools/frame-cost.ts --seconds ${FRAME_COST_SECONDS} --environments ${costs.map((c) => c.environments).join(',')}\`: one call (speech 1.5 s, then 2.5 s of silence while the agent answers, repeated; ` +
      'a connection that declared its format, as Twilio\'s does), its frames delivered in real time and spread round-robin over N environments — the worst placement, ' +
      'no environment sees two consecutive frames — through the same domain code the handlers run, against dynalite counting every request of the call ' +
      `(frames, turns, marks), measured ${measuredOn ?? 'on an unknown date'} (the load-test runs below may be of another day: \`--skip-frame-cost\` keeps this one). ` +
      'See `docs/ARCHITECTURE.md`, "The hot path".',
    '',
  );
  out.push(...FRAME_COST_HEADER, ...costs.map((c) => frameCostRow(c).line), '');
  return out;
}

/** What the load costs this machine, run by run: where its two cores go as calls are added. */
function capacity(reports: Map<string, LoadReport>, runs: Run[]): string[] {
  const out = ['## What the machine spends per call', ''];
  out.push(
    '| run | success | media invocations per second | machine CPU, mean (cores) | machine CPU per media invocation | machine CPU per call (cores) |',
    '|---|---|---|---|---|---|',
  );
  for (const run of runs.filter((r) => r.group.startsWith('headline-'))) {
    const r = reports.get(run.id);
    if (!r?.counts) continue;
    const seconds = (r.run.rampS + r.run.durationS) || 1;
    const perSecond = r.counts.lambda.media!.invocations / seconds;
    const cores = (r.machine.cpuPercent.mean / 100) * r.machine.cpus;
    out.push(
      `| ${run.id} | ${r.success_rate} % | ${perSecond.toFixed(0)} | ${cores.toFixed(2)} | ${perSecond > 0 ? ((cores * 1000) / perSecond).toFixed(2) : '—'} ms | ${(cores / r.run.calls).toFixed(3)} |`,
    );
  }
  out.push('');
  out.push('Machine CPU is the whole machine\'s mean over the run (callers, gateway, Lambda runtime and its environments,');
  out.push('dynalite, vendor servers) — everything the load needs here, split by component with');
  out.push('`npx tsx tools/cpu-breakdown.ts` — divided by the media invocations per second (over ramp and run), so it');
  out.push('includes each call\'s turns. On AWS the same invocations run on Lambda\'s CPUs and are paid per invocation.', '');
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
  let frameCosts: FrameCost[] | undefined;
  let frameCostsAt: string | undefined;
  try {
    const file = path.join(dir, 'frame-cost.json');
    frameCosts = JSON.parse(readFileSync(file, 'utf8')) as FrameCost[];
    frameCostsAt = statSync(file).mtime.toISOString().slice(0, 10);
  } catch {
    frameCosts = undefined;
  }
  const any = [...reports.values()][0];
  const out: string[] = [];
  out.push('# Benchmarks', '');
  out.push('Regenerate everything below with `npm run benchmarks` (about 25 minutes; `-- --quick` for a short matrix).');
  out.push('Each row is one run of `npm run loadtest` (its command is in the row\'s report); the full reports, with');
  out.push('histograms and CDFs per stage, are written to `.cache/benchmarks/<run>/report.html`. Latency is defined in');
  out.push('[`docs/LATENCY.md`](docs/LATENCY.md): last caller speech frame at the gateway → first agent audio leaving it,');
  out.push('**including the silence that ends the turn** (chosen by the words since issue 17; rows measured before it waited a');
  out.push('fixed 400 ms: each row\'s date is in its report). Percentiles from HDR histograms. Durations are shorter than the');
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
  // Rows are re-run one by one (`--only`): each headline row says when it was measured, and whether before issue 17's end
  // of turn (a fixed 400 ms silence, 200 ms ticks) or after it.
  const measured = (id: string) => {
    const r = reports.get(id);
    if (!r) return '';
    const eot = r.endOfTurn && r.endOfTurn.none.turns < r.turns.answered ? 'end of turn by the words' : 'fixed 400 ms end of turn';
    return ` (${r.run.date.slice(0, 16).replace('T', ' ')}, ${eot})`;
  };
  for (const frame of [20, 100]) {
    const ids = runs.filter((r) => r.group === `headline-${frame}`).map((r) => [`${r.id.split('-').at(-1)} calls${measured(r.id)}`, r.id] as [string, string]);
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
  out.push(...endOfTurnSection(reports, runs));
  out.push(...modelSection(reports, runs));
  out.push(...verdict(reports, runs, frameCosts));
  out.push(...frameCostSection(frameCosts, frameCostsAt));
  out.push(...capacity(reports, runs));
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
    const scenario = { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 30, provisionedConcurrency: provisionedConcurrencyFor('prod') };
    const estimate = estimateCost(best.counts, scenario);
    out.push(renderCostMarkdown(estimate).replace(/^## /gm, '### '), '');
    const worst = frame === 20 ? frameCosts?.find((c) => c.environments === Math.max(...frameCosts!.map((x) => x.environments))) : undefined;
    if (worst) {
      // The same run with its DynamoDB traffic replaced by the frame-cost measurement at the worst spread, scaled from that
      // call's frames to this run's media frames.
      const scale = best.counts.lambda.media!.invocations / worst.frames;
      const dynamodb = Object.fromEntries(
        Object.entries(worst.counts).map(([op, c]) => [op, { requests: c.requests * scale, requestBytes: c.requestBytes * scale, responseBytes: c.responseBytes * scale }]),
      );
      const worstEstimate = estimateCost({ ...best.counts, dynamodb }, scenario);
      const line = (e: typeof estimate) => e.lineItems.filter((l) => l.key.startsWith('dynamodb')).reduce((n, l) => n + l.monthly, 0);
      out.push(
        `**At the worst spread** (every frame in another of ${worst.environments} environments: DynamoDB traffic from the frame-cost table, scaled to this run's ` +
          `${best.counts.lambda.media!.invocations} media frames): DynamoDB $${line(worstEstimate).toFixed(0)} a month against $${line(estimate).toFixed(0)} at the load test's own spread; ` +
          `total $${worstEstimate.monthly.toFixed(0)} against $${estimate.monthly.toFixed(0)}.`,
        '',
      );
    }
  }
  return out.join('\n') + '\n';
}

/**
 * Deepgram's pre-recorded price per audio minute (Nova-3, pay as you go), to price the transcriptions preemptive
 * generation throws away. From secondary sources seen 2026-12-07 ($0.0043–0.00435), not Deepgram's own price page
 * (not reachable from here): not verified.
 */
const STT_USD_PER_AUDIO_MINUTE = 0.0043;

/** End of turn by the words against the fixed silence (issue 17): latency, how turns ended, and what it costs. */
function endOfTurnSection(reports: Map<string, LoadReport>, runs: Run[]): string[] {
  const arms = runs.filter((r) => r.group === 'end-of-turn').flatMap((r) => (reports.get(r.id) ? [[r, reports.get(r.id)!] as const] : []));
  if (arms.length === 0) return [];
  const out = ['## End of turn: by the words, against a fixed silence (issue 17; one call, seed profile, rule responder)', ''];
  out.push(
    '"before": the turn ends after 400 ms of silence whatever was said, preemptive generation starts at 200 ms of silence, the coordination tick is 200 ms ' +
      '(`--function-env END_OF_TURN=fixed --function-env PREEMPT_SILENCE_MS=200 --function-env TICK_MS=200 --function-env SPEECH_END_TICK_MS=0`). "words": the defaults — the ' +
      'environment that saw the last speech frame reads at 40 ms of silence (otherwise the next tick does), the watcher transcribes at once, the responder judges ' +
      'the words, and the turn ends after 300 ms when they sound finished, 700 ms when it cannot tell, 1,000 ms when they stop mid-phrase; ticks every 200 ms ' +
      'as before (docs/LATENCY.md, "End of turn"). "noearly": the words deciding, the pause found by the ticks alone (SPEECH_END_TICK_MS=0); "end80": the read at 80 ms of ' +
      'silence. Each row says when it ran (UTC): rows of different runs compare less well on this shared machine than rows of one. The callers\' lines are the load test\'s ' +
      '(synthetic, in-domain): the recordings test (`test/integration/stack/real-recordings.test.ts`) covers real speech.',
    '',
    '| run | turns | p50 | p95 | mean | endpoint stage p50 / p95 | ended as complete / unsure / incomplete / not judged | early answers discarded per call-minute | DynamoDB requests per media frame | media function billed ms per call-minute | platform $ per call-minute | + speech-to-text audio $ per call-minute | target p50 ≤ 450, p95 ≤ 550 |',
    '|---|---|---|---|---|---|---|---|---|---|---|---|---|',
  );
  for (const [run, r] of arms) {
    const c = r.counts;
    const eot = r.endOfTurn;
    const judged = eot ? `${eot.complete.turns} / ${eot.unsure.turns} / ${eot.incomplete.turns} / ${eot.none.turns}` : '—';
    const requests = c ? Object.values(c.dynamodb).reduce((n, x) => n + x.requests, 0) : 0;
    const media = c?.lambda.media;
    const platform = c ? estimateCost(c, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 30, provisionedConcurrency: provisionedConcurrencyFor('prod') }).perCallMinute : undefined;
    const stt = c?.turnTaking ? ((c.turnTaking.sttAudioSeconds / 60) * STT_USD_PER_AUDIO_MINUTE) / c.callMinutes : undefined;
    const discarded = c?.turnTaking ? (c.turnTaking.speculationsDiscarded / c.callMinutes).toFixed(1) : '—';
    const target = r.latency.server.p50 <= 450 && r.p95_latency_ms <= 550 ? 'met' : 'not met';
    out.push(
      `| ${run.id} (${r.run?.date ? r.run.date.slice(0, 16).replace('T', ' ') : 'undated'}) | ${r.turns.answered} | ${ms(r.latency.server.p50)} | ${ms(r.p95_latency_ms)} | ${ms(r.avg_latency_ms)} | ${ms(r.stages.endpoint.p50)} / ${ms(r.stages.endpoint.p95)} | ${judged} | ${discarded} | ` +
        `${c && media ? (requests / media.invocations).toFixed(3) : '—'} | ${c && media ? Math.round(media.billedMs / c.callMinutes) : '—'} | ${platform !== undefined ? `$${platform.toFixed(5)}` : '—'} | ${stt !== undefined ? `$${stt.toFixed(5)}` : '—'} | ${target} |`,
    );
  }
  out.push(
    '',
    `Platform $ per call-minute: the cost model below on this run's counts (100 calls × 8 h × 30 days, prod's provisioned concurrency). Speech-to-text: the ` +
      `audio the Deepgram stand-in was sent (every transcription, discarded ones included) at $${STT_USD_PER_AUDIO_MINUTE} per audio minute (Nova-3 pre-recorded; ` +
      'secondary sources, 2026-12-07, not verified). Each row\'s command is in its report (`.cache/benchmarks/<run>/report.json`).',
    '',
  );
  return out;
}

/** The model path against the rules: one call and ten, the model's own stages, and what its tokens cost. */
function modelSection(reports: Map<string, LoadReport>, runs: Run[]): string[] {
  const model = runs.filter((r) => r.group === 'model').flatMap((r) => (reports.get(r.id) ? [[r, reports.get(r.id)!] as const] : []));
  if (model.length === 0) return [];
  const out = ['## The language model (issue 16): Bedrock stand-in at a Haiku-class latency, seed profile, 20 ms frames', ''];
  out.push(
    'The responder is the front desk agent on the model path (RESPONDER=bedrock): the unchanged Bedrock SDK against the local Bedrock Runtime stand-in, ' +
      'first token 0.4 s p50 (normal, sd 80 ms, at least 200 ms) and 100 output tokens a second. Its answers come from a deterministic policy (the ' +
      "front desk's rules, with bookings as tool calls), not from a model: what is measured is the path's latency and cost, not a model's wit.",
    '',
    HEADER,
  );
  const rules = reports.get('seed-20ms-1');
  if (rules) out.push(row('rules, 1 call (the headline row)', rules));
  for (const [r, rep] of model) out.push(row(`model, ${r.id.split('-').at(-1)} call${rep.run.calls > 1 ? 's' : ''}`, rep));
  out.push('', '| run | model first token p50 / p95 | responder (to the first sentence) p50 / p95 | model calls per turn | target: p95 ≤ 900 ms at 1 call |', '|---|---|---|---|---|');
  for (const [r, rep] of model) {
    const first = rep.stages.modelFirstToken;
    const responder = rep.stages.responder;
    const calls = rep.counts?.model && rep.turns.answered > 0 ? (rep.counts.model.calls / rep.turns.answered).toFixed(2) : '—';
    const target = rep.run.calls === 1 ? (rep.p95_latency_ms <= 900 ? `met (${ms(rep.p95_latency_ms)})` : `not met (${ms(rep.p95_latency_ms)})`) : '—';
    out.push(`| ${r.id} | ${first ? `${ms(first.p50)} / ${ms(first.p95)}` : '—'} | ${ms(responder.p50)} / ${ms(responder.p95)} | ${calls} | ${target} |`);
  }
  out.push('');
  const one = model.find(([, rep]) => rep.counts?.model)?.[1];
  const estimate = one?.counts ? estimateModelCost(one.counts, 100 * 60 * 8 * 30) : undefined;
  if (estimate) {
    out.push(`Model tokens and cost per call-minute, from the ${one!.run.calls}-call run (${one!.counts!.callMinutes.toFixed(1)} call-minutes; scenario: 100 calls × 8 h × 30 days):`, '');
    out.push(renderModelCostMarkdown(estimate));
  }
  return out;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
