/**
 * `npx tsx tools/cpu-breakdown.ts [--calls 1,5,20] [--seconds 10] [--frame-ms 20] [--placement mru|random|round-robin]
 *   [--no-profile] [--parallel-gc]`
 *
 * Where the local stack's CPU goes per media invocation, by process and by thread, at several loads in one run (the
 * machine is shared and noisy: compare the levels of one run, not runs). One stack is started; callers are added
 * level by level (1, then 5, then 20 in all), each streaming silence after its greeting as tools/stack-cpu.ts does;
 * at each level, after a warm-up, a window of `--seconds` is measured:
 *
 *  - this process (gateway, runtime, callers), thread by thread from /proc/<pid>/task/<tid>/schedstat: the main
 *    thread; every environment's worker thread, grouped by function (each environment reports its thread id as it
 *    starts, LambdaRuntime.threads()); the other threads (V8's platform workers, which run GC and compilation for
 *    every isolate, libuv's pool, the module loader's thread); and threads that ended in the window (the process
 *    total from getrusage minus the live threads);
 *  - the helper processes (LocalStack.childProcesses(): dynalite, the vendor stand-ins, the speech engines with
 *    their recognizers) and any other child (esbuild's service), as process trees;
 *  - optionally (default on) a V8 CPU profile of the main thread over a further `--profile-seconds`, summarized by
 *    source folder (tools/cpu/main-profile.ts), which splits the main thread's time between the gateway, the runtime,
 *    the callers, ws, Node's internals and GC: each group's share of the sampled busy time, applied to the main
 *    thread's CPU. The sampler counts wall time and cannot see the kernel side of a thread sleeping and waking up
 *    (that is "idle" to it): when it saw less busy time than /proc charged the thread, the rest is the "not sampled"
 *    row; when it saw more (under load a runnable thread waits for a core and that wait counts as busy), there is no
 *    such row. Sampling is approximate (it undercounted 2 ms timer callbacks by ~25 % in a probe on this VM).
 *
 * Runs itself with node's --single-threaded-gc, as npm start runs the stack, unless --parallel-gc.
 *
 * Prints a markdown table (µs of CPU per media invocation by component, each level, and the last level / first level
 * ratio) and writes the whole measurement as JSON (`--out`).
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { spawn } from 'node:child_process';
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { PLACEMENTS, type Placement } from '../local/runtime/types';
import { LocalStack, PROVIDERS, type Providers } from '../local/stack';
import { CallerSession } from './caller/session';
import { profileMainThread, type ProfileSummary } from './cpu/main-profile';
import { childrenOf, deltaSum, threadTimes, treeTimes } from './cpu/procfs';

interface Options {
  calls: number[];
  seconds: number;
  warmup: number;
  frameMs: number;
  providers: Providers;
  placement?: Placement;
  profile: boolean;
  profileSeconds: number;
  provisionedMedia?: number;
  out: string;
  skipBuild: boolean;
  parallelGc: boolean;
}

/** One level's measurement: CPU (µs) by component over the window, and what the stack did meanwhile. */
export interface LevelResult {
  calls: number;
  windowMs: number;
  mediaInvocations: number;
  invocationsByFunction: Record<string, number>;
  messagesIn: number;
  /** Environments whose thread ran in the window, by function. */
  environmentsUsed: Record<string, number>;
  /** CPU µs of each media environment's thread in the window, largest first (how concentrated placement kept them). */
  mediaEnvironmentCpuUs: number[];
  environmentsAlive: Record<string, number>;
  /** CPU µs over the window. */
  cpuUs: {
    mainThread: number;
    environments: Record<string, number>;
    helperThreads: number;
    helperThreadCount: number;
    exitedThreads: number;
    processTotal: number;
    children: Record<string, number>;
    total: number;
  };
  /** DynamoDB requests in the window, by operation (dynalite's count). */
  dynamoRequests: Record<string, number>;
  /** Billed ms of the window's media invocations (each rounded up to 1 ms, as Lambda bills). */
  mediaBilledMs: number;
  /** Invocations of any function throttled, and cold starts, in the window (a saturated stack shows here). */
  throttles: number;
  coldStarts: number;
  /**
   * Whether the media invocation rate had settled at the callers' rate (±10 % for 2 s in a row) before the window.
   * Callers that fell behind (during the previous level's ramp) send their missed frames back to back: a window
   * over that catch-up measures a burst, not the level. False: the stack did not keep up within 20 s.
   */
  settled: boolean;
  /**
   * Main thread split from the profile (µs over the window): each category's share of the main thread's CPU in the
   * profiled window, applied to `cpuUs.mainThread`. What the sampler saw as idle while the thread was charged CPU
   * (the kernel side of sleeping and waking up, system calls) is `not sampled`.
   */
  mainSplit?: Record<string, number>;
  profile?: ProfileSummary & { mainThreadUs: number; mediaInvocations: number };
}

const list = (v: string) => {
  const xs = v.split(',').map(Number);
  if (xs.some((x) => !Number.isInteger(x) || x < 1 || x > 200)) throw new InvalidArgumentError('expected a comma-separated list of call counts (1-200)');
  return xs;
};
const positive = (name: string) => (v: string) => {
  const n = Number(v);
  if (!(n > 0)) throw new InvalidArgumentError(`${name} must be a positive number`);
  return n;
};

function parseOptions(): Options {
  const o = new Command('cpu-breakdown')
    .description('CPU per media invocation of the local stack, by process and thread, at several loads in one run')
    .option('--calls <list>', 'call counts, measured in this order (callers are added)', list, [1, 5, 20])
    .option('--seconds <s>', 'measurement window per level', positive('--seconds'), 10)
    .option('--warmup <s>', 'seconds between a level’s greetings ending and its window', positive('--warmup'), 2)
    .option('--frame-ms <ms>', 'caller audio per message (Twilio: 20)', positive('--frame-ms'), 20)
    .addOption(new Option('--providers <p>', 'speech providers of the local stack').choices(PROVIDERS.filter((p) => p !== 'cloud')).default('seed'))
    .addOption(new Option('--placement <p>', 'how the runtime picks an idle environment').choices(PLACEMENTS))
    .option('--no-profile', 'skip the V8 profile of the main thread')
    .option('--profile-seconds <s>', 'length of the main-thread profile per level', positive('--profile-seconds'), 5)
    .option('--provisioned-media <n>', 'provisioned media environments (default: largest --calls + 2)', (v) => Number(v))
    .option('--out <file>', 'JSON output', path.join('.cache', 'cpu-breakdown', 'latest.json'))
    .option('--skip-build', 'use the bundles already in dist/', false)
    .option('--parallel-gc', "V8's default parallel/concurrent GC instead of --single-threaded-gc (what npm start runs)", false)
    .parse()
    .opts<Options>();
  return o;
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

interface Snapshot {
  at: number;
  rusageUs: number;
  threads: Map<number, number>;
  children: Map<string, Map<number, number>>;
  invocations: Record<string, number>;
  billedMs: number;
  throttles: number;
  coldStarts: number;
  messagesIn: number;
  dynamo: Record<string, number>;
}

async function snapshot(stack: LocalStack, childPids: Map<string, number>): Promise<Snapshot> {
  const dynamo = Object.fromEntries(Object.entries(await stack.dynamoStats()).map(([op, s]) => [op, s.requests]));
  const ru = process.cpuUsage();
  const children = new Map<string, Map<number, number>>();
  for (const [name, pid] of childPids) children.set(name, treeTimes(pid));
  const stats = stack.runtime!.stats();
  return {
    at: performance.now(),
    rusageUs: ru.user + ru.system,
    threads: threadTimes(process.pid),
    children,
    invocations: Object.fromEntries(Object.entries(stats).map(([k, s]) => [k, s.invocations])),
    billedMs: stats.media?.billedMs ?? 0,
    throttles: Object.values(stats).reduce((n, f) => n + f.throttles, 0),
    coldStarts: Object.values(stats).reduce((n, f) => n + f.coldStarts, 0),
    messagesIn: stack.gateway!.stats().messagesIn,
    dynamo,
  };
}

/** Child processes of this process that are not the stack's own (esbuild's service), by name. */
function otherChildren(stack: LocalStack): Map<string, number> {
  const known = new Set(stack.childProcesses().map((c) => c.pid));
  const out = new Map<string, number>();
  for (const pid of childrenOf(process.pid)) if (!known.has(pid)) out.set(`other (pid ${pid})`, pid);
  return out;
}

/** Waits (at most `maxMs`) until media invocations run at `calls` callers' rate, ±10 %, two seconds in a row. */
async function settle(stack: LocalStack, calls: number, frameMs: number, maxMs = 20_000): Promise<boolean> {
  const expected = (calls * 1000) / frameMs;
  const count = () => stack.runtime!.stats().media?.invocations ?? 0;
  let last = count();
  let good = 0;
  for (const end = Date.now() + maxMs; Date.now() < end; ) {
    await sleep(1000);
    const now = count();
    good = Math.abs(now - last - expected) <= 0.1 * expected ? good + 1 : 0;
    last = now;
    if (good >= 2) return true;
  }
  return false;
}

async function measureLevel(stack: LocalStack, calls: number, o: Options, settled: boolean): Promise<LevelResult> {
  const childPids = new Map<string, number>([...stack.childProcesses().map((c) => [c.name, c.pid] as const), ...otherChildren(stack)]);
  const threadsBefore = stack.runtime!.threads();
  const a = await snapshot(stack, childPids);
  await sleep(o.seconds * 1000);
  const b = await snapshot(stack, childPids);
  const envThreads = new Map<number, { functionName: string }>();
  for (const t of [...threadsBefore, ...stack.runtime!.threads()]) envThreads.set(t.tid, t);

  const ns = (tid: number) => (b.threads.get(tid) ?? 0) - (a.threads.get(tid) ?? 0);
  const mainNs = ns(process.pid);
  const environments: Record<string, number> = {};
  const environmentsUsed: Record<string, number> = {};
  const mediaEnvironmentCpuUs: number[] = [];
  let envNs = 0;
  let helperNs = 0;
  let helperCount = 0;
  for (const tid of b.threads.keys()) {
    if (tid === process.pid) continue;
    const d = ns(tid);
    const env = envThreads.get(tid);
    if (env) {
      environments[env.functionName] = (environments[env.functionName] ?? 0) + d / 1000;
      if (d > 0) environmentsUsed[env.functionName] = (environmentsUsed[env.functionName] ?? 0) + 1;
      if (d > 0 && env.functionName === 'media') mediaEnvironmentCpuUs.push(Math.round(d / 1000));
      envNs += d;
    } else {
      helperNs += d;
      helperCount++;
    }
  }
  const liveNs = mainNs + envNs + helperNs;
  const processTotalUs = b.rusageUs - a.rusageUs;
  const children: Record<string, number> = {};
  for (const [name, after] of b.children) children[name] = deltaSum(a.children.get(name) ?? new Map(), after) / 1000;
  const invocationsByFunction: Record<string, number> = {};
  for (const [k, v] of Object.entries(b.invocations)) {
    const d = v - (a.invocations[k] ?? 0);
    if (d > 0) invocationsByFunction[k] = d;
  }
  const dynamoRequests: Record<string, number> = {};
  for (const [op, n] of Object.entries(b.dynamo)) {
    const d = n - (a.dynamo[op] ?? 0);
    if (d > 0) dynamoRequests[op] = d;
  }
  const environmentsAlive: Record<string, number> = {};
  for (const t of stack.runtime!.threads()) environmentsAlive[t.functionName] = (environmentsAlive[t.functionName] ?? 0) + 1;
  const result: LevelResult = {
    calls,
    windowMs: b.at - a.at,
    mediaInvocations: invocationsByFunction.media ?? 0,
    invocationsByFunction,
    messagesIn: b.messagesIn - a.messagesIn,
    environmentsUsed,
    mediaEnvironmentCpuUs: mediaEnvironmentCpuUs.sort((x, y) => y - x),
    environmentsAlive,
    dynamoRequests,
    mediaBilledMs: b.billedMs - a.billedMs,
    throttles: b.throttles - a.throttles,
    coldStarts: b.coldStarts - a.coldStarts,
    settled,
    cpuUs: {
      mainThread: mainNs / 1000,
      environments,
      helperThreads: helperNs / 1000,
      helperThreadCount: helperCount,
      exitedThreads: Math.max(0, processTotalUs - liveNs / 1000),
      processTotal: processTotalUs,
      children,
      total: Math.max(processTotalUs, liveNs / 1000) + Object.values(children).reduce((s, v) => s + v, 0),
    },
  };
  if (o.profile) {
    const before = threadTimes(process.pid).get(process.pid) ?? 0;
    const mediaBefore = stack.runtime!.stats().media?.invocations ?? 0;
    const profile = await profileMainThread(o.profileSeconds * 1000);
    const mainThreadUs = ((threadTimes(process.pid).get(process.pid) ?? 0) - before) / 1000;
    result.profile = { ...profile, mainThreadUs, mediaInvocations: (stack.runtime!.stats().media?.invocations ?? 0) - mediaBefore };
    result.mainSplit = splitMain(profile, mainThreadUs, result.cpuUs.mainThread);
  }
  return result;
}

/** Main-thread groups shown in the table, from the profile's owner view. */
const MAIN_GROUPS: [string, (category: string) => boolean][] = [
  ['gateway (local/gateway)', (c) => c === 'local/gateway'],
  ['runtime (local/runtime)', (c) => c === 'local/runtime'],
  ['callers (tools/caller)', (c) => c === 'tools/caller'],
  ['log sink (local/observability)', (c) => c === 'local/observability'],
  ['ws (both ends, before emit)', (c) => c === 'node_modules/ws'],
  ['node internals (streams, net, timers, MessagePort…)', (c) => c.startsWith('node:')],
  ['GC (main isolate)', (c) => c === '(gc)'],
  ['native, unattributed', (c) => c.startsWith('(program')],
];
const NOT_SAMPLED = 'not sampled (kernel: sleeping, waking up, system calls)';

/**
 * Shares of the main thread's CPU in the profiled window (`profiledMainUs`, from /proc), applied to the measured
 * window's `mainUs`. The sampler's busy time is below the thread's CPU: what it took for idle is `not sampled`.
 */
function splitMain(profile: ProfileSummary, profiledMainUs: number, mainUs: number): Record<string, number> {
  const out: Record<string, number> = {};
  for (const [name] of MAIN_GROUPS) out[name] = 0;
  out.other = 0;
  const sampledShare = profiledMainUs > 0 ? Math.min(1, (profile.busyMs * 1000) / profiledMainUs) : 0;
  for (const [category, share] of Object.entries(profile.owner)) {
    const group = MAIN_GROUPS.find(([, match]) => match(category))?.[0] ?? 'other';
    out[group]! += share * sampledShare * mainUs;
  }
  out[NOT_SAMPLED] = (1 - sampledShare) * mainUs;
  return out;
}

function table(levels: LevelResult[]): string {
  const per = (l: LevelResult, us: number | undefined) => (l.mediaInvocations > 0 && us !== undefined ? us / l.mediaInvocations : undefined);
  const rows: { name: string; values: (number | undefined)[]; indent?: boolean }[] = [];
  const add = (name: string, pick: (l: LevelResult) => number | undefined, indent = false) => rows.push({ name, values: levels.map((l) => per(l, pick(l))), indent });
  add('**main thread** (gateway, runtime, callers)', (l) => l.cpuUs.mainThread);
  if (levels.some((l) => l.mainSplit)) {
    const names = [...MAIN_GROUPS.map(([n]) => n), 'other', NOT_SAMPLED];
    for (const n of names) add(n, (l) => l.mainSplit?.[n], true);
  }
  const fns = [...new Set(levels.flatMap((l) => Object.keys(l.cpuUs.environments)))].sort((x, y) => (x === 'media' ? -1 : y === 'media' ? 1 : x.localeCompare(y)));
  // Functions whose environments did not run in any window (authorizer, connect… between calls) are left out.
  for (const f of fns) {
    if (f === 'media' || levels.some((l) => (l.cpuUs.environments[f] ?? 0) > 0)) add(`**environments: ${f}**`, (l) => l.cpuUs.environments[f] ?? 0);
  }
  add('**helper threads** (V8 platform: GC, compilation; libuv pool)', (l) => l.cpuUs.helperThreads);
  add('threads ended in the window', (l) => l.cpuUs.exitedThreads);
  const kids = [...new Set(levels.flatMap((l) => Object.keys(l.cpuUs.children)))];
  for (const k of kids) add(`**process: ${k}**`, (l) => l.cpuUs.children[k] ?? 0);
  add('**total**', (l) => l.cpuUs.total);

  const first = levels[0]!;
  const last = levels[levels.length - 1]!;
  const head = `| µs CPU per media invocation | ${levels.map((l) => `${l.calls} call${l.calls > 1 ? 's' : ''}`).join(' | ')} | ${last.calls}/${first.calls} |`;
  const sep = `|---|${levels.map(() => '---:').join('|')}|---:|`;
  const fmt = (v: number | undefined) => (v === undefined ? '–' : v.toFixed(0));
  const lines = rows.map((r) => {
    const a = r.values[0];
    const z = r.values[r.values.length - 1];
    const ratio = a !== undefined && z !== undefined && a >= 5 ? (z / a).toFixed(2) : '–';
    return `| ${r.indent ? '&nbsp;&nbsp;' : ''}${r.name} | ${r.values.map(fmt).join(' | ')} | ${ratio} |`;
  });
  const info = [
    `| media invocations / s | ${levels.map((l) => ((l.mediaInvocations / l.windowMs) * 1000).toFixed(0)).join(' | ')} | |`,
    `| media environments used (alive) | ${levels.map((l) => `${l.environmentsUsed.media ?? 0} (${l.environmentsAlive.media ?? 0})`).join(' | ')} | |`,
    `| share of media environments' CPU in the busiest 3 | ${levels.map((l) => {
      const all = l.mediaEnvironmentCpuUs.reduce((x, y) => x + y, 0);
      return all > 0 ? `${Math.round((100 * l.mediaEnvironmentCpuUs.slice(0, 3).reduce((x, y) => x + y, 0)) / all)} %` : '–';
    }).join(' | ')} | |`,
    `| CPU, % of one core (all processes) | ${levels.map((l) => ((l.cpuUs.total / 1000 / l.windowMs) * 100).toFixed(0)).join(' | ')} | |`,
    `| DynamoDB requests per media invocation | ${levels.map((l) => (Object.values(l.dynamoRequests).reduce((x, y) => x + y, 0) / Math.max(1, l.mediaInvocations)).toFixed(2)).join(' | ')} | |`,
    `| billed ms per media invocation | ${levels.map((l) => (l.mediaBilledMs / Math.max(1, l.mediaInvocations)).toFixed(2)).join(' | ')} | |`,
    `| rate settled before the window | ${levels.map((l) => (l.settled ? 'yes' : 'no')).join(' | ')} | |`,
    `| throttled invocations / cold starts in the window | ${levels.map((l) => `${l.throttles} / ${l.coldStarts}`).join(' | ')} | |`,
    `| helper threads in this process | ${levels.map((l) => l.cpuUs.helperThreadCount).join(' | ')} | |`,
  ];
  return [head, sep, ...lines, ...info].join('\n');
}

/**
 * A caller, connected; a refused or stalled connect (the stack busy with the calls already running) is tried again.
 * Undefined after 5 failed attempts.
 */
async function connectCaller(stack: LocalStack, frameMs: number): Promise<CallerSession | undefined> {
  for (let attempt = 1; attempt <= 5; attempt++) {
    const c = new CallerSession({ url: stack.callerUrl(), events: true, frameMs });
    let timer: NodeJS.Timeout | undefined;
    try {
      await Promise.race([c.connect(), new Promise((_, reject) => (timer = setTimeout(() => reject(new Error('no answer in 30 s')), 30_000)))]);
      return c;
    } catch (err) {
      void c.hangUp().catch(() => undefined);
      process.stderr.write(`connect failed (${(err as Error).message}), attempt ${attempt}\n`);
      await sleep(1000);
    } finally {
      clearTimeout(timer);
    }
  }
  return undefined;
}

/**
 * Adds callers one at a time, each after the previous one's greeting: a burst of connects melts the local stack down
 * (every call's frames before its `start` lands wait and poll for it in a media environment, `start` has two warm
 * environments, and the queue reaches the account's concurrency: measured with 4 connects at a time, 20 calls).
 */
async function addCallers(stack: LocalStack, callers: CallerSession[], calls: number, frameMs: number): Promise<void> {
  let ungreeted = 0;
  while (callers.length < calls) {
    const c = await connectCaller(stack, frameMs);
    if (!c) break;
    callers.push(c);
    if ((await c.waitForTurn(1, 30_000)) === undefined) ungreeted++;
  }
  await Promise.all(callers.map((c) => c.waitForAgentSilence(500)));
  if (ungreeted > 0) process.stderr.write(`warning: ${ungreeted} new caller(s) not greeted within 30 s\n`);
}

const SINGLE_THREADED_GC = '--single-threaded-gc';

/**
 * The stack as `npm start` runs it has one GC thread per isolate (scripts/start.sh): a V8 flag, which only the
 * command line can set. Without it (and without --parallel-gc), this tool runs itself again with it.
 */
function rerunWithSingleThreadedGc(o: Options): boolean {
  if (o.parallelGc || process.execArgv.includes(SINGLE_THREADED_GC)) return false;
  const child = spawn(process.execPath, [SINGLE_THREADED_GC, ...process.execArgv, ...process.argv.slice(1)], { stdio: 'inherit' });
  child.on('exit', (code, signal) => process.exit(code ?? (signal ? 1 : 0)));
  for (const s of ['SIGINT', 'SIGTERM'] as const) process.on(s, () => child.kill(s));
  return true;
}

async function main() {
  const o = parseOptions();
  if (rerunWithSingleThreadedGc(o)) return;
  const maxCalls = Math.max(...o.calls);
  const provisionedMedia = o.provisionedMedia ?? maxCalls + 2;
  const stack = new LocalStack({
    port: 0,
    providers: o.providers,
    vendorAudio: 'synthetic',
    provisionedByFunction: { media: provisionedMedia },
    ...(o.placement ? { placement: o.placement } : {}),
    skipBuild: o.skipBuild,
    logsDir: path.join('.cache', 'cpu-breakdown', 'logs'),
  });
  const started = Date.now();
  await stack.start();
  process.stderr.write(`stack up in ${Date.now() - started} ms (${provisionedMedia} provisioned media environments)\n`);
  const callers: CallerSession[] = [];
  const levels: LevelResult[] = [];
  try {
    for (const calls of o.calls) {
      await addCallers(stack, callers, calls, o.frameMs);
      const dropped = callers.filter((c) => c.closed).length;
      if (dropped > 0) process.stderr.write(`warning: ${dropped} caller(s) closed before the window\n`);
      await sleep(o.warmup * 1000);
      const streaming = callers.filter((c) => !c.closed).length;
      const settled = await settle(stack, streaming, o.frameMs);
      process.stderr.write(`measuring ${streaming} call(s) for ${o.seconds} s${o.profile ? ` + ${o.profileSeconds} s profiled` : ''}${settled ? '' : ' (rate not settled)'}\n`);
      levels.push(await measureLevel(stack, streaming, o, settled));
    }
  } finally {
    await Promise.all(callers.map((c) => c.hangUp().catch(() => undefined)));
    await stack.stop();
  }
  const md = table(levels);
  const report = {
    command: `npx tsx tools/cpu-breakdown.ts ${process.argv.slice(2).join(' ')}`.trim(),
    at: new Date().toISOString(),
    frameMs: o.frameMs,
    providers: o.providers,
    placement: o.placement ?? 'mru',
    gc: process.execArgv.includes(SINGLE_THREADED_GC) ? 'single-threaded' : 'parallel (V8 default)',
    provisionedMedia,
    levels,
  };
  mkdirSync(path.dirname(o.out), { recursive: true });
  writeFileSync(o.out, JSON.stringify(report, null, 2));
  console.log(`${report.command} (${report.at}, frames of ${o.frameMs} ms, placement ${report.placement}, GC ${report.gc})\n`);
  console.log(md);
  if (o.profile) {
    for (const l of levels) {
      const top = Object.entries(l.profile?.self ?? {})
        .slice(0, 8)
        .map(([k, v]) => `${k} ${(v * 100).toFixed(0)} %`)
        .join(', ');
      const p = l.profile!;
      console.log(
        `\nmain thread at ${l.calls} call(s), profiled: ${(p.mainThreadUs / Math.max(1, p.mediaInvocations)).toFixed(0)} µs per media invocation ` +
          `(unprofiled window: ${(l.cpuUs.mainThread / Math.max(1, l.mediaInvocations)).toFixed(0)}), ${((p.busyMs * 1000 * 100) / Math.max(1, p.mainThreadUs)).toFixed(0)} % of it sampled as busy; ` +
          `self time by category: ${top}`,
      );
    }
  }
  console.log(`\nJSON: ${o.out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
