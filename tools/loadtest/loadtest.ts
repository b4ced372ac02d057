/**
 * `npm run loadtest -- --calls 100 --duration 600 [--ramp 10] [--profile seed|zero|offline] [--url ws://…|wss://…]
 *  [--out DIR] [--frame-ms 20|100] [--reply-cache on|off] [--provisioned on|off] [--placement mru|random|round-robin]`
 *
 * Simulated phone callers (Twilio Media Streams framing, real-time pace, multi-turn scripts of known utterances,
 * some barge-in) against a deployed stage (--url) or a local stack started here with the chosen provider profile.
 * Writes DIR/report.json (the seed study's shape plus stages, platform overhead, cold starts, throttles, the
 * machine and, locally, the counts the cost model needs) and DIR/report.html. See docs/LATENCY.md.
 */
import { Command, InvalidArgumentError, Option } from 'commander';
import { SingleBar } from 'cli-progress';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { preemptionDefault, DEFAULT_ENDPOINTING } from '../../functions/contracts/turn-policy';
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { AUTHORIZER, ROUTES } from '../../functions/contracts/routes';
import { LocalStack, type Providers } from '../../local/stack';
import { PLACEMENTS, type FunctionStats, type Placement } from '../../local/runtime/types';
import { distribution, platformOverhead, stagesOf, type Policy } from './aggregate';
import { fork } from 'node:child_process';
import { runSlot, type Recorder, type TurnSample } from './call-runner';
import { replay, type CallerEvent, type CallerRun } from './caller-process';
import { seeded } from './random';
import { renderHtmlReport } from './html-report';
import { MachineSampler } from './machine';
import { STAGES, type LoadReport, type MeasuredCounts, type Stage, type TurnTakingCounts } from './report-types';
import type { MetricName } from '../../functions/contracts/metrics';
import { loadUtterances } from './utterances';
import type { VendorFaultRates } from '../../local/vendors/behaviour';

const LIMITS = { calls: 200, durationS: 3600 };

export interface LoadtestOptions {
  calls: number;
  duration: number;
  ramp: number;
  profile: Exclude<Providers, 'cloud'>;
  url?: string;
  out: string;
  frameMs: number;
  replyCache: boolean;
  provisioned: boolean;
  /** Local stack: how the runtime picks an idle environment (default mru). */
  placement?: Placement;
  /** Who answers on the local stack (default rules). */
  responder?: 'rules' | 'bedrock';
  bargeIn: number;
  turnsPerCall: [number, number];
  seed: number;
  answerTimeoutMs: number;
  progress: boolean;
  /** Local stack: media environments kept warm (default grows with --calls). */
  provisionedMedia?: number;
  /** Local stack: function settings (e.g. PREEMPT_SILENCE_MS). */
  functionEnv?: Record<string, string>;
  /** The callers run in a process of their own (default), not in the stack's. */
  callerProcess?: boolean;
  /** Local stack: the function bundles are already built (a series of runs builds once). */
  skipBuild?: boolean;
  /** Local stack, vendor profiles: fail this share of the vendor stand-ins' requests (the soak: 1 %). */
  vendorFaults?: VendorFaultRates;
}

const int = (name: string, min: number, max: number) => (v: string) => {
  const n = Number(v);
  if (!Number.isInteger(n) || n < min || n > max) throw new InvalidArgumentError(`${name} must be an integer from ${min} to ${max}`);
  return n;
};
const onOff = (v: string) => {
  if (v !== 'on' && v !== 'off') throw new InvalidArgumentError('expected on or off');
  return v === 'on';
};

const functionSetting = (v: string, prev: Record<string, string> | undefined) => {
  const m = /^([A-Z][A-Z0-9_]*)=(.*)$/.exec(v);
  if (!m) throw new InvalidArgumentError('--function-env takes KEY=VALUE (an upper-case setting name)');
  return { ...prev, [m[1]!]: m[2]! };
};

export function parseOptions(argv: string[]): LoadtestOptions {
  const o = new Command('loadtest')
    .option('--calls <n>', `concurrent calls (at most ${LIMITS.calls})`, int('--calls', 1, LIMITS.calls), 10)
    .option('--duration <s>', `seconds of load after the ramp (at most ${LIMITS.durationS})`, int('--duration', 5, LIMITS.durationS), 60)
    .option('--ramp <s>', 'seconds over which the calls start', int('--ramp', 0, 600), 10)
    .addOption(new Option('--profile <p>', 'speech providers of the local stack').choices(['seed', 'zero', 'offline']).default('seed'))
    .option('--url <url>', 'a deployed stage (wss://…/stage?token=…); without it a local stack is started')
    .option('--out <dir>', 'where report.json and report.html go', path.join('.cache', 'loadtest', 'latest'))
    .option('--frame-ms <ms>', 'caller audio per message (Twilio: 20)', int('--frame-ms', 10, 200), 20)
    .option('--reply-cache <on|off>', 'keep static prompts in memory (off: every reply synthesized)', onOff, true)
    .option('--provisioned <on|off>', 'provisioned concurrency on the hot path (local stack)', onOff, true)
    .addOption(new Option('--responder <r>', 'who answers (local stack): the rules, or the model path on the Bedrock stand-in (Haiku-class latency)').choices(['rules', 'bedrock']).default('rules'))
    .option('--provisioned-media <n>', 'media environments kept warm (local stack)', int('--provisioned-media', 0, 64))
    .addOption(new Option('--placement <p>', 'how the local runtime picks an idle environment').choices(PLACEMENTS).default('mru'))
    .option('--barge-in <rate>', 'share of answers the caller talks over', (v) => Number(v), 0.1)
    .option('--turns-per-call <a-b>', 'turns in each call', (v) => v.split('-').map(Number) as [number, number], [3, 6])
    .option('--seed <n>', 'random seed of the scripts', int('--seed', 0, 2 ** 31), 1)
    .option('--answer-timeout <ms>', 'a turn not answered within this counts as an error', int('--answer-timeout', 1000, 60_000), 10_000)
    .option('--caller-process <on|off>', 'run the callers in a process of their own (off: in the stack\'s process)', onOff, true)
    .option('--no-progress', 'no progress bar')
    .option('--function-env <KEY=VALUE>', 'local stack: a setting for every function (repeatable; an A/B of END_OF_TURN, TICK_MS, …)', functionSetting, undefined)
    .parse(argv, { from: 'user' })
    .opts();
  if (o.url && !/^wss?:\/\//.test(o.url)) throw new InvalidArgumentError('--url must be ws:// or wss://');
  return { ...o, answerTimeoutMs: o.answerTimeout } as LoadtestOptions;
}

interface Snapshot {
  functions: Record<string, FunctionStats>;
  gateway: { messagesIn: number; messagesOut: number; bytesOut: number; rejected: Record<number, number> };
  dynamodb: Record<string, { requests: number; requestBytes: number; responseBytes: number }>;
  /** The Bedrock stand-in's counts (responder bedrock), and the discarded speculations' calls the functions published. */
  model?: { calls: number; inputTokens: number; outputTokens: number; speculationCalls: number };
  /** Speech-to-text as the Deepgram stand-in counted it, and the turn-taking metrics the functions published. */
  turnTaking?: TurnTakingCounts;
}

/**
 * Provisioned concurrency sized for the load this run makes, as an operator sizes it for the calls they expect (the
 * deployed stacks raise it by schedule and utilization, lib/config.ts). On this machine a cold start costs about a
 * second of CPU (a 5.5 MB bundle compiled in a fresh isolate): during a ramp of 10 calls a second, every call past
 * the warm pool would pay one in `start` and steal that second from the calls already talking.
 *  - media: a watching invocation holds its environment through the endpoint silence, the turn's invocation holds
 *    one while it streams the answer, and frames keep arriving meanwhile: 5 media environments in use at the peak
 *    for one call. But more is worse here: every environment is an isolate of its own on the same two cores, and
 *    idle ones are not free. 10 calls at 100 ms chunks, 30 s, seed (`npm run loadtest -- --calls 10 --frame-ms 100
 *    --duration 30 --ramp 10 --reply-cache off --provisioned-media N`, 2026-12-02): N = 42 (the old 4 × calls + 2):
 *    53 % of turns answered, media invocation p50 128 ms; N = 20: 97 %, p50 8 ms, 2 cold starts; N = 8: 100 %,
 *    p50 13 ms, 6 cold starts. Hence 2 × calls + 4, at most 24.
 *  - start: speaks the greeting inline, holding its environment about 1 s (one call) to 3 s (ten), at the ramp's
 *    arrival rate.
 *  - connect, the authorizer, the first `connected` message (fallback), stop, disconnect and mark: tens of ms each,
 *    at the same rate.
 */
export function provisionedFor(o: Pick<LoadtestOptions, 'calls' | 'ramp' | 'provisionedMedia'>): Record<string, number> {
  const arrivalsPerS = o.calls / Math.max(1, o.ramp);
  const short = Math.ceil(arrivalsPerS * 0.2) + 1;
  return {
    media: o.provisionedMedia ?? Math.min(24, 2 * o.calls + 4),
    start: Math.min(24, Math.ceil(arrivalsPerS * 2) + 1),
    connect: short,
    authorizer: short,
    fallback: short,
    mark: short,
    stop: short,
    disconnect: short,
  };
}

async function snapshot(stack: LocalStack): Promise<Snapshot> {
  const g = stack.gateway!.stats();
  return {
    functions: stack.runtime!.stats(),
    gateway: { messagesIn: g.messagesIn, messagesOut: g.messagesOut, bytesOut: g.bytesOut, rejected: { ...g.connectionsRejected } },
    dynamodb: await stack.dynamoStats(),
    model: stack.bedrock
      ? { ...pick(stack.bedrock.stats), speculationCalls: stack.logs.metric('SpeculationModelCalls').sum }
      : undefined,
    turnTaking: await turnTaking(stack),
  };
}

async function turnTaking(stack: LocalStack): Promise<TurnTakingCounts | undefined> {
  const vendors = await stack.vendorFaultStats().catch(() => undefined); // the offline profile has no vendor stand-ins
  if (!vendors) return undefined;
  const sum = (metric: MetricName) => stack.logs.metric(metric).sum;
  return {
    sttRequests: vendors.deepgram.requests,
    sttAudioSeconds: vendors.deepgram.audioSeconds,
    turnsPreempted: sum('TurnsPreempted'),
    speculationsDiscarded: sum('SpeculationsDiscarded'),
    endpointsShortened: sum('EndpointsShortened'),
    endpointsExtended: sum('EndpointsExtended'),
  };
}

const pick = ({ calls, inputTokens, outputTokens }: { calls: number; inputTokens: number; outputTokens: number }) => ({ calls, inputTokens, outputTokens });

export async function runLoadtest(o: LoadtestOptions, command = ''): Promise<LoadReport> {
  const format: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };
  const utterances = await loadUtterances(format);
  const policy: Policy = {
    endpointSilenceMs: Number(o.functionEnv?.ENDPOINT_SILENCE_MS ?? DEFAULT_ENDPOINTING.endpointSilenceMs),
    preemptSilenceMs: Number(o.functionEnv?.PREEMPT_SILENCE_MS ?? preemptionDefault(!o.url && o.profile === 'offline' ? 'offline' : 'vendors')),
    frameMs: o.frameMs,
  };

  let stack: LocalStack | undefined;
  if (!o.url) {
    // The offline engine keeps its own cache (offline profile); the speech child inherits this process's env.
    if (o.replyCache) delete process.env.TTS_CACHE;
    else process.env.TTS_CACHE = '0';
    stack = new LocalStack({
      port: 0, // loopback only (the gateway binds 127.0.0.1)
      providers: o.profile,
      vendorAudio: 'synthetic', // the latency model alone: Flite's synthesis time would add to the modelled first byte
      provisioned: o.provisioned ? 2 : 0,
      provisionedByFunction: o.provisioned ? provisionedFor(o) : undefined,
      functionEnv: { ...(o.replyCache ? {} : { PROMPT_CACHE: 'off' }), POWERTOOLS_LOG_LEVEL: 'WARN', ...o.functionEnv },
      logsDir: path.join(o.out, 'logs'),
      skipBuild: o.skipBuild,
      vendorFaults: o.vendorFaults,
      placement: o.placement,
      responder: o.responder,
    });
    // A stack that failed halfway through its start has parts running: they must not outlive the run.
    await stack.start().catch(async (err: unknown) => {
      await stack!.stop();
      throw err;
    });
  }
  try {
    return await measure(o, command, { policy, format, utterances }, stack);
  } catch (err) {
    await stack?.stop(); // idempotent: a run that failed after stopping it stops nothing more
    throw err;
  }
}

/** The run itself, against a started stack (or `o.url`); stops the stack before it writes the report. */
async function measure(
  o: LoadtestOptions,
  command: string,
  { policy, format, utterances }: { policy: Policy; format: AudioFormat; utterances: Awaited<ReturnType<typeof loadUtterances>> },
  stack: LocalStack | undefined,
): Promise<LoadReport> {
  const url = o.url ?? stack!.callerUrl();
  const sampler = new MachineSampler().start();
  const before = stack ? await snapshot(stack) : undefined;

  const samples: TurnSample[] = [];
  const errors: Record<string, number> = {};
  const calls = { started: 0, completed: 0, failed: 0 };
  let attempted = 0;
  let callMs = 0;
  const bargeIns = { attempted: 0, honoured: 0 };
  let active = 0;
  const recorder: Recorder = {
    turn: (s) => samples.push(s),
    error: (kind) => (errors[kind] = (errors[kind] ?? 0) + 1),
    callStarted: () => (calls.started++, active++),
    callEnded: (ok, ms) => {
      active--;
      callMs += ms;
      if (ok) calls.completed++;
      else calls.failed++;
    },
    attempt: () => attempted++,
    bargeIn: (honoured) => {
      bargeIns.attempted++;
      if (honoured) bargeIns.honoured++;
    },
  };

  const started = Date.now();
  const deadline = started + (o.ramp + o.duration) * 1000;
  // The runtime's counts when the ramp ends: cold starts after it are the ones provisioned concurrency should have
  // prevented (every call is connected by then).
  let afterRamp: Snapshot | undefined;
  const rampTimer = stack ? setTimeout(() => void snapshot(stack!).then((s) => (afterRamp = s)), o.ramp * 1000 + 1000) : undefined;
  const random = seeded(o.seed);
  let stopping = false;
  const onSignal = () => (stopping = true);
  process.once('SIGINT', onSignal);
  const bar = o.progress
    ? new SingleBar({
        format: 'load {bar} {value}/{total} s | calls {active} | turns {turns}/{attempted} | errors {errors} | p95 {p95} ms',
        noTTYOutput: true,
        notTTYSchedule: 10_000,
        stream: process.stderr,
      })
    : undefined;
  bar?.start(o.ramp + o.duration, 0, { active: 0, turns: 0, attempted: 0, errors: 0, p95: '-' });
  const progress = setInterval(() => {
    const latencies = samples.flatMap((s) => (s.report.serverLatencyMs !== undefined ? [s.report.serverLatencyMs] : []));
    bar?.update(Math.min(o.ramp + o.duration, Math.round((Date.now() - started) / 1000)), {
      active,
      turns: samples.length,
      attempted,
      errors: Object.values(errors).reduce((a, b) => a + b, 0),
      p95: latencies.length > 0 ? Math.round(distribution(latencies).p95) : '-',
    });
  }, 1000);

  const slotStartsMs = Array.from({ length: o.calls }, (_, i) => (o.calls > 1 ? (i * o.ramp * 1000) / o.calls : 0));
  // Bounded in time whatever the stack does: a call still stuck well after the deadline is counted, not waited for.
  const hardStop = deadline + o.answerTimeoutMs + 15_000 - Date.now();
  let stuck = 0;
  if (o.callerProcess !== false) {
    const done = await runCallersApart({ o, url, format, slotStartsMs, deadline, recorder, hardStopMs: hardStop, stopping: () => stopping });
    stuck = o.calls - done;
  } else {
    const slots = slotStartsMs.map(async (startMs) => {
      await new Promise((r) => setTimeout(r, startMs));
      await runSlot({
        url,
        format,
        frameMs: o.frameMs,
        utterances,
        deadline,
        turnsPerCall: o.turnsPerCall,
        bargeInRate: o.bargeIn,
        answerTimeoutMs: o.answerTimeoutMs,
        random,
        recorder,
        stopped: () => stopping,
      });
    });
    const settled = slots.map((s) => s.then(() => true));
    await Promise.race([Promise.all(settled), new Promise((r) => setTimeout(r, hardStop).unref())]);
    stopping = true;
    for (const s of settled) if (!(await Promise.race([s, Promise.resolve(false)]))) stuck++;
  }
  stopping = true;
  if (stuck > 0) recorder.error('stuck_call');
  clearInterval(progress);
  bar?.update(o.ramp + o.duration);
  bar?.stop();
  process.removeListener('SIGINT', onSignal);

  clearTimeout(rampTimer);
  const after = stack ? await snapshot(stack) : undefined;
  const machineSamples = sampler.stop();
  const vendorFaults = stack && o.vendorFaults && o.profile !== 'offline' ? await stack.vendorFaultStats() : undefined;
  if (stack) await stack.stop();

  const report = { ...buildReport({ o, command, samples, errors, calls, attempted, bargeIns, callMs, policy, before, afterRamp, after, machineSamples, started }), vendorFaults };
  mkdirSync(o.out, { recursive: true });
  writeFileSync(path.join(o.out, 'report.json'), JSON.stringify(report, null, 2));
  writeFileSync(path.join(o.out, 'report.html'), renderHtmlReport(report));
  return report;
}

/**
 * The callers in a process of their own (caller-process.ts): the slots' events come back over IPC into the same
 * Recorder. Resolves with how many slots finished by the hard stop; the process is ended either way.
 */
async function runCallersApart(x: {
  o: LoadtestOptions;
  url: string;
  format: AudioFormat;
  slotStartsMs: number[];
  deadline: number;
  recorder: Recorder;
  hardStopMs: number;
  stopping: () => boolean;
}): Promise<number> {
  const child = fork(path.join(__dirname, 'caller-process.ts'), [], { execArgv: ['--import', 'tsx'], stdio: ['ignore', 'inherit', 'inherit', 'ipc'] });
  let finished = 0;
  const exited = new Promise<void>((resolve) => child.once('exit', () => resolve()));
  await new Promise<void>((resolve, reject) => {
    child.once('error', reject);
    child.once('exit', (code) => reject(new Error(`the callers' process exited before it was ready (code ${code})`)));
    child.on('message', (event: CallerEvent) => {
      if (event.type === 'ready') resolve();
      else if (event.type === 'slotDone') finished++;
      else replay(event, x.recorder);
    });
  });
  child.removeAllListeners('exit');
  const run: CallerRun = {
    type: 'run',
    url: x.url,
    format: x.format,
    frameMs: x.o.frameMs,
    slotStartsMs: x.slotStartsMs,
    deadline: x.deadline,
    turnsPerCall: x.o.turnsPerCall,
    bargeInRate: x.o.bargeIn,
    answerTimeoutMs: x.o.answerTimeoutMs,
    seed: x.o.seed,
  };
  child.send(run);
  const stopWatch = setInterval(() => {
    if (x.stopping() && child.connected) child.send({ type: 'stop' });
  }, 500);
  const allDone = new Promise<void>((resolve) => {
    const check = setInterval(() => {
      if (finished >= x.slotStartsMs.length) {
        clearInterval(check);
        resolve();
      }
    }, 100);
    exited.then(() => {
      clearInterval(check);
      resolve();
    });
  });
  await Promise.race([allDone, new Promise((r) => setTimeout(r, x.hardStopMs).unref())]);
  clearInterval(stopWatch);
  if (child.connected) child.send({ type: 'stop' });
  child.kill('SIGTERM');
  await Promise.race([exited, new Promise((r) => setTimeout(r, 3000).unref())]);
  if (child.exitCode === null && child.signalCode === null) child.kill('SIGKILL');
  return finished;
}

function buildReport(x: {
  o: LoadtestOptions;
  command: string;
  samples: TurnSample[];
  errors: Record<string, number>;
  calls: LoadReport['calls'];
  attempted: number;
  bargeIns: { attempted: number; honoured: number };
  callMs: number;
  policy: Policy;
  before?: Snapshot;
  afterRamp?: Snapshot;
  after?: Snapshot;
  machineSamples: LoadReport['machine']['samples'];
  started: number;
}): LoadReport {
  const { o, samples, policy } = x;
  const errors = { ...x.errors };
  const answered = samples.filter((s) => s.report.serverLatencyMs !== undefined && s.report.status !== 'failed');
  for (const s of samples) {
    if (s.report.status === 'failed') errors.turn_failed = (errors.turn_failed ?? 0) + 1;
    else if (s.report.serverLatencyMs === undefined) errors.no_audio = (errors.no_audio ?? 0) + 1;
    if (s.report.intent === 'fallback') errors.fallback_answer = (errors.fallback_answer ?? 0) + 1;
    if (s.report.transcript !== undefined && s.report.transcript !== s.said) errors.misheard = (errors.misheard ?? 0) + 1;
    if (s.report.transcript === undefined && s.report.serverLatencyMs !== undefined && s.report.intent !== 'fallback') errors.transcript_missing = (errors.transcript_missing ?? 0) + 1;
  }
  if (x.bargeIns.attempted > x.bargeIns.honoured) errors.barge_in_ignored = x.bargeIns.attempted - x.bargeIns.honoured;
  // Success: an attempted turn answered with the agent's own reply (not a fallback) within the timeout.
  const succeeded = answered.filter((s) => s.report.intent !== 'fallback').length;
  const server = answered.map((s) => s.report.serverLatencyMs!);
  const client = answered.flatMap((s) => (s.report.clientLatencyMs !== undefined ? [s.report.clientLatencyMs] : []));
  const diff = answered.flatMap((s) => (s.report.clientLatencyMs !== undefined ? [s.report.clientLatencyMs - s.report.serverLatencyMs!] : []));
  const byStage = Object.fromEntries(STAGES.map((st) => [st, [] as number[]])) as Record<Stage, number[]>;
  for (const s of answered) for (const [st, v] of Object.entries(stagesOf(s.report))) byStage[st as Stage].push(v);
  const overhead = answered.flatMap((s) => {
    const v = platformOverhead(s.report, policy);
    return v === undefined ? [] : [v];
  });
  const serverDist = distribution(server);

  const fnDiff = (name: string, key: 'coldStarts' | 'throttles' | 'invocations' | 'billedMs') =>
    (x.after?.functions[name]?.[key] ?? 0) - (x.before?.functions[name]?.[key] ?? 0);
  const names = [...ROUTES, AUTHORIZER].map((r) => r.name);
  const coldByFunction = Object.fromEntries(names.map((n) => [n, fnDiff(n, 'coldStarts')]).filter(([, v]) => (v as number) > 0));
  const cpu = x.machineSamples.map((m) => m.cpuPercent);
  const rss = x.machineSamples.map((m) => m.stackRssMb);
  const callMinutes = x.callMs / 60_000;

  let counts: MeasuredCounts | undefined;
  if (x.before && x.after) {
    const b = x.before;
    const a = x.after;
    const dynamodb = Object.fromEntries(
      Object.entries(a.dynamodb).map(([op, c]) => {
        const p = b.dynamodb[op] ?? { requests: 0, requestBytes: 0, responseBytes: 0 };
        return [op, { requests: c.requests - p.requests, requestBytes: c.requestBytes - p.requestBytes, responseBytes: c.responseBytes - p.responseBytes }];
      }),
    );
    counts = {
      callMinutes,
      messagesIn: a.gateway.messagesIn - b.gateway.messagesIn,
      messagesOut: a.gateway.messagesOut - b.gateway.messagesOut,
      connectionMinutes: callMinutes,
      lambda: Object.fromEntries(
        [...ROUTES, AUTHORIZER].map((r) => [r.name, { invocations: fnDiff(r.name, 'invocations'), billedMs: fnDiff(r.name, 'billedMs'), memoryMb: r.memoryMb }]),
      ),
      dynamodb,
      bytesOut: a.gateway.bytesOut - b.gateway.bytesOut,
      ...(a.model && b.model
        ? {
            model: {
              calls: a.model.calls - b.model.calls,
              inputTokens: a.model.inputTokens - b.model.inputTokens,
              outputTokens: a.model.outputTokens - b.model.outputTokens,
              speculationCalls: a.model.speculationCalls - b.model.speculationCalls,
            },
          }
        : {}),
      ...(a.turnTaking && b.turnTaking
        ? { turnTaking: Object.fromEntries(Object.entries(a.turnTaking).map(([k, v]) => [k, v - b.turnTaking![k as keyof TurnTakingCounts]])) as unknown as TurnTakingCounts }
        : {}),
    };
  }
  const throttled = x.after ? names.reduce((n, name) => n + fnDiff(name, 'throttles'), 0) + ((x.after.gateway.rejected[429] ?? 0) - (x.before!.gateway.rejected[429] ?? 0)) : 0;
  const mean = (v: number[]) => (v.length ? Math.round((v.reduce((p, c) => p + c, 0) / v.length) * 10) / 10 : 0);

  return {
    success_rate: x.attempted > 0 ? Math.round((10000 * succeeded) / x.attempted) / 100 : 0,
    avg_latency_ms: serverDist.mean,
    p95_latency_ms: serverDist.p95,
    p99_latency_ms: serverDist.p99,
    errors,
    run: {
      date: new Date(x.started).toISOString(),
      command: x.command,
      target: o.url ? o.url.replace(/token=[^&]+/, 'token=…') : 'local stack',
      profile: o.url ? 'remote' : o.profile,
      calls: o.calls,
      durationS: o.duration,
      rampS: o.ramp,
      frameMs: o.frameMs,
      replyCache: o.replyCache,
      provisioned: o.provisioned,
      ...(o.url ? {} : { placement: o.placement ?? 'mru', responder: o.responder ?? 'rules' }),
      preemptSilenceMs: policy.preemptSilenceMs,
      ...(o.functionEnv ? { functionEnv: o.functionEnv } : {}),
    },
    turns: { attempted: x.attempted, answered: answered.length, failed: x.attempted - succeeded, bargeIns: x.bargeIns.attempted },
    calls: x.calls,
    latency: {
      server: serverDist,
      client: distribution(client),
      clientMinusServer: distribution(diff),
      afterEndpoint: distribution(
        answered.flatMap((s) => {
          const t = s.report.timings ?? {};
          return t.firstAudioAt !== undefined && t.endpointAt !== undefined ? [t.firstAudioAt - t.endpointAt] : [];
        }),
      ),
    },
    stages: Object.fromEntries(STAGES.map((st) => [st, distribution(byStage[st])])) as Record<Stage, LoadReport['latency']['server']>,
    endOfTurn: Object.fromEntries(
      (['complete', 'incomplete', 'unsure', 'none'] as const).map((heard) => {
        const turns = answered.filter((s) => s.report.timings?.speechEndAt !== undefined && (s.report.endOfTurn?.heard ?? 'none') === heard);
        return [heard, { turns: turns.length, latency: distribution(turns.flatMap((s) => (s.report.serverLatencyMs === undefined ? [] : [s.report.serverLatencyMs]))) }];
      }),
    ) as LoadReport['endOfTurn'],
    platformOverhead: distribution(overhead),
    coldStarts: {
      total: names.reduce((n, name) => n + (x.after?.functions[name]?.coldStarts ?? 0), 0),
      duringRun: names.reduce((n, name) => n + fnDiff(name, 'coldStarts'), 0),
      hotPath: ROUTES.filter((r) => r.hotPath).reduce((n, r) => n + fnDiff(r.name, 'coldStarts'), 0),
      ...(x.afterRamp
        ? { hotPathAfterRamp: ROUTES.filter((r) => r.hotPath).reduce((n, r) => n + (x.after?.functions[r.name]?.coldStarts ?? 0) - (x.afterRamp!.functions[r.name]?.coldStarts ?? 0), 0) }
        : {}),
      byFunction: coldByFunction as Record<string, number>,
    },
    throttles: throttled,
    machine: {
      cpus: os.cpus().length,
      cpuModel: os.cpus()[0]?.model ?? 'unknown',
      totalMemMb: Math.round(os.totalmem() / 1024 / 1024),
      node: process.version,
      cpuPercent: { mean: mean(cpu), max: Math.max(0, ...cpu) },
      stackRssMb: { start: rss[0] ?? 0, end: rss.at(-1) ?? 0, max: Math.max(0, ...rss) },
      samples: x.machineSamples,
    },
    counts,
  };
}

async function main() {
  const o = parseOptions(process.argv.slice(2));
  const report = await runLoadtest(o, `npm run loadtest -- ${process.argv.slice(2).join(' ')}`);
  const { server, client } = report.latency;
  console.log(
    `${report.run.calls} calls × ${report.run.durationS} s (${report.run.profile}): success ${report.success_rate} % of ${report.turns.attempted} turns; ` +
      `turn latency p50 ${server.p50} / p95 ${server.p95} / p99 ${server.p99} ms (client p95 ${client.p95} ms); ` +
      `platform overhead p95 ${report.platformOverhead.p95} ms; cold starts during run ${report.coldStarts.duringRun} (hot path ${report.coldStarts.hotPath}); errors ${JSON.stringify(report.errors)}`,
  );
  console.log(`report: ${path.join(o.out, 'report.json')} and report.html`);
}

if (require.main === module) {
  main().catch((err) => {
    console.error(`loadtest failed: ${err instanceof Error ? err.message : String(err)}`);
    process.exit(1);
  });
}
