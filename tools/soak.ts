/**
 * The soak (issue 7): concurrent calls for minutes on the local stack, with a share of the vendor stand-ins'
 * requests faulted, then the verdicts RELIABILITY.md reports — turns answered (a faulted turn recovers through the
 * adapters' retries or the fallback phrase), transcripts lost, memory over time (flat or not, from samples taken
 * throughout, not the end alone). Writes `<out>/soak.json` next to the load test's report.json/report.html.
 *
 *   npm run soak -- [--calls 100] [--duration 600] [--fault-rate 0.01] [--frame-ms 20] [--out .cache/reliability/soak]
 */
import { Command, InvalidArgumentError } from 'commander';
import { writeFileSync } from 'node:fs';
import path from 'node:path';
import { runLoadtest } from './loadtest/loadtest';
import type { LoadReport } from './loadtest/report-types';

export interface SoakVerdict {
  readonly date: string;
  readonly command: string;
  readonly calls: number;
  readonly durationS: number;
  readonly frameMs: number;
  readonly faultRate: number;
  readonly turns: { attempted: number; answered: number; fallbacks: number; answeredPercent: number };
  readonly transcripts: { misheard: number; missing: number };
  readonly faultsInjected: { deepgram: number; elevenlabs: number; requests: number };
  readonly memory: { samples: number; firstHalfMeanMb: number; secondHalfMeanMb: number; growthPercent: number; slopeMbPerMin: number; flat: boolean };
  readonly cpuPercent: { mean: number; max: number };
  readonly latency: { p50: number; p95: number; p99: number };
  readonly calls_: LoadReport['calls'];
  readonly errors: Record<string, number>;
  readonly pass: boolean;
}

/** Memory is flat when the second half of the run (after a minute's warm-up) holds within 10 % of the first. */
/** `t` in seconds since the run started (MachineSample). */
export function memoryVerdict(samples: readonly { t: number; stackRssMb: number }[], warmupS = 60) {
  const t0 = samples[0]?.t ?? 0;
  const kept = samples.filter((s) => s.t - t0 >= warmupS);
  const use = kept.length >= 4 ? kept : samples;
  const half = Math.floor(use.length / 2);
  const mean = (v: readonly { stackRssMb: number }[]) => (v.length ? v.reduce((a, s) => a + s.stackRssMb, 0) / v.length : 0);
  const first = mean(use.slice(0, half));
  const second = mean(use.slice(half));
  // Least-squares slope, MB per minute.
  const xs = use.map((s) => (s.t - t0) / 60);
  const ys = use.map((s) => s.stackRssMb);
  const mx = xs.reduce((a, b) => a + b, 0) / (xs.length || 1);
  const my = ys.reduce((a, b) => a + b, 0) / (ys.length || 1);
  const num = xs.reduce((a, x, i) => a + (x - mx) * (ys[i]! - my), 0);
  const den = xs.reduce((a, x) => a + (x - mx) ** 2, 0);
  const growthPercent = first > 0 ? ((second - first) / first) * 100 : 0;
  return {
    samples: use.length,
    firstHalfMeanMb: Math.round(first),
    secondHalfMeanMb: Math.round(second),
    growthPercent: Math.round(growthPercent * 10) / 10,
    slopeMbPerMin: den > 0 ? Math.round((num / den) * 100) / 100 : 0,
    flat: growthPercent < 10,
  };
}

export function soakVerdict(report: LoadReport, o: { calls: number; duration: number; frameMs: number; faultRate: number }, command: string): SoakVerdict {
  const answered = report.turns.answered;
  const attempted = report.turns.attempted;
  const answeredPercent = attempted > 0 ? Math.round((10000 * answered) / attempted) / 100 : 0;
  const sumFaults = (f?: { faults: Record<string, number | undefined> }) => Object.values(f?.faults ?? {}).reduce<number>((a, b) => a + (b ?? 0), 0);
  const memory = memoryVerdict(report.machine.samples);
  const transcripts = { misheard: report.errors.misheard ?? 0, missing: report.errors.transcript_missing ?? 0 };
  return {
    date: report.run.date,
    command,
    calls: o.calls,
    durationS: o.duration,
    frameMs: o.frameMs,
    faultRate: o.faultRate,
    turns: { attempted, answered, fallbacks: report.errors.fallback_answer ?? 0, answeredPercent },
    transcripts,
    faultsInjected: {
      deepgram: sumFaults(report.vendorFaults?.deepgram),
      elevenlabs: sumFaults(report.vendorFaults?.elevenlabs),
      requests: (report.vendorFaults?.deepgram.requests ?? 0) + (report.vendorFaults?.elevenlabs.requests ?? 0),
    },
    memory,
    cpuPercent: report.machine.cpuPercent,
    latency: { p50: report.latency.server.p50, p95: report.latency.server.p95, p99: report.latency.server.p99 },
    calls_: report.calls,
    errors: report.errors,
    pass: attempted > 0 && answeredPercent >= 99.9 && transcripts.missing === 0 && memory.flat,
  };
}

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
  return n;
};

async function main() {
  const o = new Command('soak')
    .description('Concurrent calls on the local stack with vendor faults injected; writes soak.json, report.json and report.html')
    .option('--calls <n>', 'concurrent calls', int('--calls', 1, 200), 100)
    .option('--duration <s>', 'seconds of load after the ramp', int('--duration', 10, 3600), 600)
    .option('--ramp <s>', 'seconds over which the calls start', int('--ramp', 0, 600), 10)
    .option('--fault-rate <share>', 'share of vendor requests faulted (all fault kinds)', (v) => {
      const n = Number(v);
      if (!(n >= 0 && n <= 1)) throw new InvalidArgumentError('--fault-rate must be from 0 to 1');
      return n;
    }, 0.01)
    .option('--frame-ms <ms>', 'caller audio per message (Twilio: 20)', int('--frame-ms', 10, 200), 20)
    .option('--out <dir>', 'where soak.json and the load reports go', path.join('.cache', 'reliability', 'soak'))
    .option('--no-progress', 'no progress bar')
    .parse(['node', 'soak', ...process.argv.slice(2)])
    .opts<{ calls: number; duration: number; ramp: number; faultRate: number; frameMs: number; out: string; progress: boolean }>();
  const command = `npm run soak -- ${process.argv.slice(2).join(' ')}`.trim();
  const report = await runLoadtest(
    {
      calls: o.calls,
      duration: o.duration,
      ramp: o.ramp,
      profile: 'seed',
      out: o.out,
      frameMs: o.frameMs,
      replyCache: true,
      provisioned: true,
      bargeIn: 0.1,
      turnsPerCall: [3, 6],
      seed: 1,
      answerTimeoutMs: 10_000,
      progress: o.progress,
      vendorFaults: { rate: o.faultRate },
    },
    command,
  );
  const verdict = soakVerdict(report, o, command);
  writeFileSync(path.join(o.out, 'soak.json'), JSON.stringify(verdict, null, 2));
  console.log(
    `soak: ${verdict.calls} calls × ${verdict.durationS} s, ${verdict.faultRate * 100} % vendor faults (${verdict.faultsInjected.deepgram + verdict.faultsInjected.elevenlabs} injected in ${verdict.faultsInjected.requests} requests): ` +
      `${verdict.turns.answered}/${verdict.turns.attempted} turns answered (${verdict.turns.answeredPercent} %, ${verdict.turns.fallbacks} by the fallback), ` +
      `${verdict.transcripts.missing} transcripts missing, ${verdict.transcripts.misheard} misheard; memory ${verdict.memory.firstHalfMeanMb} → ${verdict.memory.secondHalfMeanMb} MB (${verdict.memory.growthPercent} %, ${verdict.memory.slopeMbPerMin} MB/min): ${verdict.memory.flat ? 'flat' : 'growing'}; ${verdict.pass ? 'PASS' : 'FAIL'}`,
  );
  console.log(`soak.json: ${path.join(o.out, 'soak.json')}`);
  process.exitCode = verdict.pass ? 0 : 1;
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`soak failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
