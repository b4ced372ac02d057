/**
 * `npx tsx tools/bundle-report.ts [--runs 5] [--out .cache/bench/bundles.json]`
 * Per function of the route table: the deploy artifact's size (dist/functions/<name>/, zipped the way the CDK CLI
 * zips an asset directory) and the local cold-start (init) time of its bundle, measured on the local runtime against
 * a live local stack (init-time priming makes real DynamoDB and @connections requests, and that is counted).
 */
import { Command } from 'commander';
import { execFileSync } from 'node:child_process';
import { mkdirSync, readdirSync, readFileSync, statSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { ZipFile } from 'yazl';
import { ALL_FUNCTIONS } from '../functions/contracts/routes';
import { LambdaRuntime } from '../local/runtime/runtime';
import type { FunctionConfig } from '../local/runtime/types';
import { LocalStack } from '../local/stack';
import { buildFunctions, bundlePath } from '../scripts/build-functions';

const ROOT = path.resolve(__dirname, '..');
/** What CDK's `zipDirectory` (the CLI's asset packaging, yazl) uses: deflate level 6, fixed 1980 DOS time, no extra fields. */
const ZIP_METHOD = 'yazl, deflate level 6, fixed timestamps: how the CDK CLI zips an asset directory';
const ZIP_DEFLATE_LEVEL = 6;
/** The baseline's function name (also its log file's). */
const EMPTY = 'empty-bundle';
const FIXED_MTIME = new Date('1980-01-01T00:00:00Z');

// --- artifact size ----------------------------------------------------------------------------------------------

function filesUnder(dir: string, prefix = ''): string[] {
  return readdirSync(dir, { withFileTypes: true })
    .flatMap((e) => (e.isDirectory() ? filesUnder(path.join(dir, e.name), `${prefix}${e.name}/`) : [`${prefix}${e.name}`]))
    .sort();
}

/** The directory zipped with yazl at deflate level 6, as the CDK CLI packages an asset (its length is the artifact's). */
export function zipDirectory(dir: string): Promise<Buffer> {
  const zip = new ZipFile();
  for (const file of filesUnder(dir)) {
    zip.addBuffer(readFileSync(path.join(dir, file)), file, { mtime: FIXED_MTIME, mode: statSync(path.join(dir, file)).mode, compressionLevel: ZIP_DEFLATE_LEVEL });
  }
  zip.end();
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    zip.outputStream.on('data', (c: Buffer) => chunks.push(c)).on('end', () => resolve(Buffer.concat(chunks))).on('error', reject);
  });
}

// --- init time ----------------------------------------------------------------------------------------------------

/**
 * One cold start: a runtime of its own with only this function and no provisioned environment, so the invocation
 * gets a fresh environment (worker start + module load + top-level-await priming), then everything is torn down.
 * One init at a time, so the two cores are not shared between inits.
 */
async function coldStart(config: FunctionConfig, event: unknown, onLog: (fn: string, env: string, line: string) => void) {
  const runtime = new LambdaRuntime({ functions: [{ ...config, provisionedConcurrency: 0 }], maxConcurrentInits: 1, onLog });
  await runtime.start();
  try {
    const r = await runtime.invoke(config.name, event);
    if (r.initDurationMs === undefined) throw new Error(`${config.name}: no cold start reported (${r.ok ? 'ok' : `${r.errorType}: ${r.errorMessage}`})`);
    return { initMs: r.initDurationMs, outcome: r.ok ? 'ok' : r.errorType };
  } finally {
    await runtime.stop();
  }
}

const median = (xs: number[]) => {
  const s = [...xs].sort((a, b) => a - b);
  const m = s.length >> 1;
  return s.length % 2 ? s[m]! : (s[m - 1]! + s[m]!) / 2;
};
const kib = (bytes: number) => (bytes / 1024).toFixed(1);
const ms = (x: number) => x.toFixed(0);
const sleep = (msecs: number) => new Promise((r) => setTimeout(r, msecs));
const git = (...args: string[]) => {
  try {
    return execFileSync('git', args, { cwd: ROOT, encoding: 'utf8' }).trim();
  } catch {
    return undefined;
  }
};

async function main() {
  const o = new Command()
    .option('--runs <n>', 'cold starts measured per function', '5')
    .option('--out <path>', 'JSON report', path.join('.cache', 'bench', 'bundles.json'))
    .parse()
    .opts<{ runs: string; out: string }>();
  const runs = Number(o.runs);
  if (!Number.isInteger(runs) || runs < 1) throw new Error('--runs must be a positive integer');

  await buildFunctions({ quiet: true });

  const sizes = new Map(
    await Promise.all(ALL_FUNCTIONS.map(async (fn) => {
      const dir = path.dirname(bundlePath(fn.name));
      const files = filesUnder(dir);
      return [
        fn.name,
        {
          files,
          bundleBytes: statSync(path.join(dir, 'index.mjs')).size,
          mapBytes: statSync(path.join(dir, 'index.mjs.map')).size,
          unzippedBytes: files.reduce((n, f) => n + statSync(path.join(dir, f)).size, 0),
          zipBytes: (await zipDirectory(dir)).length,
        },
      ] as const;
    })),
  );

  // Baseline: the same cold start with an empty bundle = what the local runtime itself (worker thread) costs.
  const emptyDir = path.join(ROOT, '.cache', 'bench', 'empty-bundle');
  mkdirSync(emptyDir, { recursive: true });
  writeFileSync(path.join(emptyDir, 'index.mjs'), 'export const handler = async () => ({});\n');

  const logsDir = path.join(ROOT, '.cache', 'bench', 'bundle-report-logs');
  // provisioned 0: the stack pre-initializes nothing, so nothing competes with the measured inits.
  const stack = await new LocalStack({ port: 0, provisioned: 0, skipBuild: true, logsDir }).start();
  const primingFailures = new Map<string, number>();
  stack.logs.onLine((fn, line) => {
    if (line.includes('priming failed')) primingFailures.set(fn, (primingFailures.get(fn) ?? 0) + 1);
  });
  const samples = new Map<string, number[]>();
  const outcomes = new Map<string, Set<string>>();
  const loadBefore = os.loadavg();
  try {
    // The stack's own function configs (bundle, limits, environment pointing at its DynamoDB, gateway, speech):
    // the runtime keeps them private, and TypeScript allows reading a private member by index for this purpose.
    const configs = stack.runtime!['functions'];
    const targets: { config: FunctionConfig; event: unknown }[] = ALL_FUNCTIONS.map((fn) => {
      const config = configs.get(fn.name)?.config;
      if (!config) throw new Error(`the local stack has no function '${fn.name}'`);
      return { config, event: JSON.parse(readFileSync(path.join(ROOT, 'events', `${fn.name}.json`), 'utf8')) };
    });
    const base = targets[0]!.config;
    targets.unshift({ config: { ...base, name: EMPTY, bundlePath: path.join(emptyDir, 'index.mjs') }, event: {} });

    // One unrecorded round first (disk cache, the gateway's and dynalite's first requests), then the runs; rounds go
    // over every function in turn so a burst of load from other users of the machine is spread over all of them.
    for (let round = 0; round <= runs; round++) {
      for (const { config, event } of targets) {
        const r = await coldStart(config, event, stack.logs.write);
        if (round > 0) {
          samples.set(config.name, [...(samples.get(config.name) ?? []), r.initMs]);
          outcomes.set(config.name, (outcomes.get(config.name) ?? new Set()).add(r.outcome));
        }
        await sleep(100); // let the terminated worker go before the next init
      }
      process.stderr.write(round === 0 ? 'warm-up round done\n' : `round ${round}/${runs} done\n`);
    }
  } finally {
    await stack.stop();
  }
  const loadAfter = os.loadavg();

  const init = (name: string) => {
    const xs = samples.get(name)!;
    const r1 = (x: number) => Math.round(x * 10) / 10;
    return { samplesMs: xs.map(r1), medianMs: r1(median(xs)), maxMs: r1(Math.max(...xs)) };
  };
  const functions = ALL_FUNCTIONS.map((fn) => ({
    name: fn.name,
    hotPath: fn.hotPath,
    memoryMb: fn.memoryMb,
    ...sizes.get(fn.name)!,
    init: init(fn.name),
    handlerOutcomes: [...outcomes.get(fn.name)!],
    primingFailures: primingFailures.get(fn.name) ?? 0,
  }));
  const baseline = init(EMPTY);
  const commandLine = ['npx tsx', path.relative(process.cwd(), process.argv[1]!), ...process.argv.slice(2)].join(' ');
  const report = {
    date: new Date().toISOString(),
    command: commandLine,
    node: process.version,
    cpu: os.cpus()[0]?.model,
    cores: os.availableParallelism(),
    loadAverage1m: { before: loadBefore[0], after: loadAfter[0] },
    git: { commit: git('rev-parse', 'HEAD'), dirty: (git('status', '--porcelain') ?? '') !== '' },
    zip: ZIP_METHOD,
    runs,
    initMeasurement:
      'local runtime, one fresh environment per sample, one init at a time, after one unrecorded warm-up round; ' +
      'includes worker-thread start (see emptyBundleInit) and init-time priming against the live local stack',
    emptyBundleInit: baseline,
    functions,
  };
  mkdirSync(path.dirname(path.resolve(o.out)), { recursive: true });
  writeFileSync(o.out, `${JSON.stringify(report, null, 2)}\n`);

  const rows = functions.map(
    (f) =>
      `| ${f.name} | ${f.hotPath ? 'yes' : 'no'} | ${kib(f.bundleBytes)} | ${kib(f.mapBytes)} | ${kib(f.zipBytes)} | ${ms(f.init.medianMs)} | ${ms(f.init.maxMs)} |`,
  );
  console.log(
    [
      `| function | hot path | index.mjs (KiB) | index.mjs.map (KiB) | zipped artifact (KiB) | init median (ms) | init max (ms) |`,
      `|---|---|---|---|---|---|---|`,
      ...rows,
      `| (empty bundle: the local runtime's own cost) | | | | | ${ms(baseline.medianMs)} | ${ms(baseline.maxMs)} |`,
      '',
      `${runs} cold starts per function, one at a time, local runtime (worker thread + module load + priming against the live local stack); ` +
        `node ${process.version}, ${report.cpu}, ${report.cores} cores (shared), 1-min load ${loadBefore[0]!.toFixed(2)} → ${loadAfter[0]!.toFixed(2)}.`,
      `Zipped size: ${ZIP_METHOD}. JSON: ${o.out}`,
    ].join('\n'),
  );
  const failed = functions.filter((f) => f.primingFailures > 0).map((f) => `${f.name} (${f.primingFailures})`);
  if (failed.length > 0) console.log(`Priming failed during init for: ${failed.join(', ')} (see ${logsDir})`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
