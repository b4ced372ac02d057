/**
 * Local stand-in for the Lambda service: execution environments are worker threads that are frozen
 * between invocations, created on demand (cold starts), reused warm, throttled at the concurrency
 * limits, destroyed on timeout or crash, and reclaimed when idle. See README.md.
 */
import { availableParallelism } from 'node:os';
import { randomBytes } from 'node:crypto';
import { dirname } from 'node:path';
import { performance } from 'node:perf_hooks';
import { MessageChannel, receiveMessageOnPort, Worker, type MessagePort } from 'node:worker_threads';
import {
  ENVIRONMENT_WORKER_SOURCE,
  MSG_ERROR,
  MSG_FATAL,
  MSG_INIT_ERROR,
  MSG_READY,
  MSG_RESULT,
  MSG_THREAD,
} from './environment-worker';
import {
  PLACEMENTS,
  type DelayHandle,
  type FunctionConfig,
  type FunctionStats,
  type InvocationDelay,
  type InvocationThrottle,
  type InvokeResult,
  type Invoker,
  type Placement,
  type RuntimeOptions,
  type ThrottleHandle,
} from './types';

const DEFAULT_ACCOUNT_CONCURRENCY = 1000;
const DEFAULT_IDLE_RECLAIM_MS = 10 * 60 * 1000;
/** Host variables an environment sees, as Lambda's own environment has them (path, locale, time zone, temp dir). */
const HOST_VARIABLES = ['PATH', 'LANG', 'TZ', 'TMPDIR', 'HOME'] as const;

/** Lambda limits the init phase of an on-demand environment to 10 s. */
const INIT_TIMEOUT_MS = 10_000;
const MAX_INIT_SAMPLES = 1000;
const ACCOUNT_ID = '000000000000';

type EnvState = 'init' | 'idle' | 'busy' | 'dead';

interface Pending {
  readonly resolve: (r: InvokeResult) => void;
  readonly event: unknown;
  start: number;
  initDurationMs: number | undefined;
  /** performance.now() past which the invocation times out (set when it reaches its environment). */
  deadline: number;
  /** Resolved (result, error, timeout, crash): its entry in the function's timeout queue is stale. */
  settled: boolean;
}

interface Environment {
  readonly id: string;
  readonly fn: FunctionState;
  readonly worker: Worker;
  readonly port: MessagePort;
  readonly signal: Int32Array;
  /** Set by the environment once it posted its response (environment-worker.ts): see takeResponded(). */
  readonly responded: Int32Array;
  readonly deadline: Float64Array;
  readonly provisioned: boolean;
  readonly createdAt: number;
  state: EnvState;
  idleSince: number;
  /** An on-demand init holding one of the runtime's init slots. */
  holdsInitSlot?: boolean;
  pending: Pending | undefined;
  /** Set for provisioned environments being initialized by start(). */
  onInit: ((err: Error | undefined) => void) | undefined;
  initTimer: NodeJS.Timeout | undefined;
  /** First fatal report (runtime message or worker 'error'), used when the worker exits. */
  fatal: { type: string; message: string } | undefined;
  initError: { type: string; message: string } | undefined;
  outBuf: string;
  errBuf: string;
  /** OS thread id the environment reported at start (Linux), for per-thread CPU attribution. */
  tid: number | undefined;
}

interface DelayRule {
  readonly match: ((event: unknown) => boolean) | undefined;
  readonly delayMs: number;
  /** Holds left (Infinity without a count). */
  left: number;
  stopped: boolean;
  delayed: number;
  waiting: number;
  readonly settledWaiters: (() => void)[];
}

interface ThrottleRule {
  readonly match: ((event: unknown) => boolean) | undefined;
  /** Refusals left (Infinity without a count). */
  left: number;
  throttled: number;
}

interface FunctionState {
  readonly config: FunctionConfig;
  readonly handlerExport: string;
  readonly timeoutMs: number;
  readonly timeoutMessage: string;
  readonly reserved: number | undefined;
  readonly baseEnv: Record<string, string>;
  readonly arn: string;
  readonly logGroupName: string;
  readonly stats: FunctionStats;
  readonly idleProvisioned: Environment[];
  readonly idleOnDemand: Environment[];
  readonly all: Set<Environment>;
  busy: number;
  envSeq: number;
  readonly throttled: InvokeResult;
  /** Active delay rules (fault injection: delayInvocations). */
  delays: DelayRule[];
  /** Active throttle rules (fault injection: throttleInvocations). */
  throttles: ThrottleRule[];
  /**
   * Invocations in their environments, in dispatch order — deadline order too, every invocation of a function having
   * the same timeout — watched by one timer (`timeoutTimer`, armed for the oldest) instead of a timer per invocation.
   * Settled entries are dropped from the front as they come up.
   */
  readonly running: { env: Environment; pending: Pending }[];
  timeoutTimer: NodeJS.Timeout | undefined;
}

/** Whether a fault-injection rule applies to an event: no match applies to all; a match that throws, to none. */
function ruleMatches(match: ((event: unknown) => boolean) | undefined, event: unknown): boolean {
  try {
    return match === undefined || match(event) === true;
  } catch {
    return false;
  }
}

function kill(worker: Worker): void {
  worker.terminate().catch(() => undefined);
}

const UNKNOWN_FUNCTION = (name: string): InvokeResult => ({
  ok: false,
  errorType: 'UnknownFunction',
  errorMessage: `Function not found: ${name}`,
});

export class LambdaRuntime implements Invoker {
  private readonly functions = new Map<string, FunctionState>();
  private readonly accountConcurrency: number;
  /** Account concurrency left for functions without reserved concurrency (AWS: unreserved pool). */
  private readonly unreservedLimit: number;
  private unreservedBusy = 0;
  private readonly idleReclaimMs: number;
  private readonly placement: Placement;
  private readonly onLog: RuntimeOptions['onLog'];
  private readonly region: string;
  private reclaimTimer: NodeJS.Timeout | undefined;
  private stopped = false;
  /**
   * Local deviation, on purpose: on AWS every environment initializes on its own CPU; here all share this machine's
   * cores, so N simultaneous inits each take N times longer, which makes more invocations find no free environment
   * and start yet more inits. Capping inits in flight keeps a cold start as long as on AWS; an invocation waiting
   * for a slot takes the first environment of its function that frees up. Cold starts are still counted. The cap
   * leaves one core to the environments already running (on AWS an init never takes CPU from them): with both of
   * this machine's cores initializing, every running invocation stalled for the second an init takes, more
   * invocations found no free environment, and ten calls spiralled into hundreds of invocations in flight.
   */
  private readonly maxConcurrentInits: number;
  /** Provisioned environments initialize before any traffic: all cores. */
  private readonly startupInits: number;
  private initsInFlight = 0;
  /** takeResponded() is handling responses: release() must not serve the waiting invocations meanwhile. */
  private draining = false;
  private readonly waiting: { fn: FunctionState; pending: Pending }[] = [];
  /** Invocations held by a delay rule, with the timer that hands them on. */
  private readonly held = new Map<Pending, { fn: FunctionState; timer: NodeJS.Timeout; rule: DelayRule }>();

  constructor(options: RuntimeOptions) {
    this.accountConcurrency = options.accountConcurrency ?? DEFAULT_ACCOUNT_CONCURRENCY;
    this.idleReclaimMs = options.idleReclaimMs ?? DEFAULT_IDLE_RECLAIM_MS;
    this.maxConcurrentInits = options.maxConcurrentInits ?? Math.max(1, availableParallelism() - 1);
    this.startupInits = options.maxConcurrentInits ?? availableParallelism();
    this.placement = options.placement ?? 'mru';
    if (!PLACEMENTS.includes(this.placement)) throw new Error(`Unknown placement: ${String(options.placement)} (expected ${PLACEMENTS.join(', ')})`);
    this.onLog = options.onLog;
    this.region = options.region ?? 'us-east-1';
    let reservedTotal = 0;
    for (const config of options.functions) {
      if (this.functions.has(config.name)) throw new Error(`Duplicate function name: ${config.name}`);
      const fn = this.makeFunctionState(config);
      if (fn.reserved !== undefined) reservedTotal += fn.reserved;
      this.functions.set(config.name, fn);
    }
    if (reservedTotal > this.accountConcurrency) {
      throw new Error(`Reserved concurrency (${reservedTotal}) exceeds account concurrency (${this.accountConcurrency})`);
    }
    this.unreservedLimit = this.accountConcurrency - reservedTotal;
  }

  /** Initializes the provisioned environments; rejects if any of them fails to initialize. */
  async start(): Promise<void> {
    if (this.reclaimTimer === undefined && !this.stopped) {
      const every = Math.max(10, Math.min(this.idleReclaimMs / 2, 30_000));
      this.reclaimTimer = setInterval(() => this.reclaimIdle(), every);
      this.reclaimTimer.unref();
    }
    // On AWS each provisioned environment initializes on its own CPU. Here they share this machine's cores, so they
    // initialize at most maxConcurrentInits at a time: all at once, each init's 10 s limit would measure the
    // contention (20 environments on 2 cores), not the function.
    const queue = [...this.functions.values()].flatMap((fn) => Array.from({ length: fn.config.provisionedConcurrency ?? 0 }, () => fn));
    const initOne = (fn: FunctionState) =>
      new Promise<void>((resolve, reject) => {
        const env = this.createEnvironment(fn, true);
        env.onInit = (err) => (err ? reject(err) : resolve());
      });
    const results: PromiseSettledResult<void>[] = [];
    const worker = async () => {
      // A runtime stopped while it was starting creates no more environments (one created after stop() would outlive it).
      for (let fn = queue.shift(); fn && !this.stopped; fn = queue.shift()) results.push(...(await Promise.allSettled([initOne(fn)])));
    };
    await Promise.all(Array.from({ length: Math.max(1, this.startupInits) }, worker));
    const failed = results.filter((r): r is PromiseRejectedResult => r.status === 'rejected');
    if (failed.length > 0) {
      throw new Error(`Provisioned environments failed to initialize: ${failed.map((f) => String(f.reason?.message ?? f.reason)).join('; ')}`);
    }
  }

  invoke(functionName: string, event: unknown): Promise<InvokeResult> {
    const fn = this.functions.get(functionName);
    if (fn === undefined) return Promise.resolve(UNKNOWN_FUNCTION(functionName));
    if (this.stopped) return Promise.resolve({ ok: false, errorType: 'EnvironmentCrash', errorMessage: 'Runtime stopped' });
    // Concurrency = invocations in flight (including ones paying a cold start); idle environments do not count.
    if (fn.reserved !== undefined ? fn.busy >= fn.reserved : this.unreservedBusy >= this.unreservedLimit) {
      fn.stats.throttles++;
      return Promise.resolve(fn.throttled);
    }
    if (fn.throttles.length > 0 && this.throttleRuleFor(fn, event)) {
      fn.stats.throttles++;
      return Promise.resolve(fn.throttled);
    }
    fn.busy++;
    if (fn.reserved === undefined) this.unreservedBusy++;
    fn.stats.invocations++;
    return new Promise<InvokeResult>((resolve) => {
      const pending: Pending = { resolve, event, start: 0, initDurationMs: undefined, deadline: 0, settled: false };
      const rule = fn.delays.length > 0 ? this.delayRuleFor(fn, event) : undefined;
      if (rule === undefined) this.place(fn, pending);
      else this.hold(fn, pending, rule);
    });
  }

  /** An idle environment, else a cold start, else the queue for an init slot. */
  private place(fn: FunctionState, pending: Pending): void {
    this.takeResponded(fn);
    if (this.waiting.length > 0) {
      // Environments just freed go to the invocations already waiting first (oldest first), as release() does.
      this.waiting.push({ fn, pending });
      this.serveWaiting();
      return;
    }
    const env = this.takeIdle(fn);
    if (env !== undefined) this.dispatch(env, pending);
    else if (this.initsInFlight < this.maxConcurrentInits) this.coldStart(fn, pending);
    else this.waiting.push({ fn, pending });
  }

  /**
   * Fault injection: holds the invocations of `functionName` whose event matches for `delayMs` before they reach an
   * environment (a cold start on AWS, a queue here), so later ones overtake them. Held invocations count toward
   * concurrency; their events are delivered unchanged. See InvocationDelay.
   */
  delayInvocations(delay: InvocationDelay): DelayHandle {
    const fn = this.functions.get(delay.functionName);
    if (!fn) throw new Error(`no function ${delay.functionName}`);
    if (!(delay.delayMs >= 0) || !Number.isFinite(delay.delayMs)) throw new RangeError(`delayMs must be a finite number >= 0, got ${delay.delayMs}`);
    if (delay.count !== undefined && !(Number.isInteger(delay.count) && delay.count > 0)) throw new RangeError(`count must be a positive integer, got ${delay.count}`);
    const rule: DelayRule = {
      match: delay.match,
      delayMs: delay.delayMs,
      left: delay.count ?? Number.POSITIVE_INFINITY,
      stopped: false,
      delayed: 0,
      waiting: 0,
      settledWaiters: [],
    };
    fn.delays.push(rule);
    const retire = () => {
      rule.stopped = true;
      const i = fn.delays.indexOf(rule);
      if (i !== -1) fn.delays.splice(i, 1);
      this.settleIfDone(rule);
    };
    return {
      get delayed() {
        return rule.delayed;
      },
      get waiting() {
        return rule.waiting;
      },
      get active() {
        return !rule.stopped && rule.left > 0;
      },
      stop: retire,
      settled: () =>
        new Promise<void>((resolve) => {
          rule.settledWaiters.push(resolve);
          this.settleIfDone(rule);
        }),
    };
  }

  /**
   * Fault injection: refuses the invocations of `functionName` whose event matches, as Lambda refuses one over its
   * concurrency (`Throttled`, counted in the function's throttles); the event never reaches an environment.
   */
  throttleInvocations(throttle: InvocationThrottle): ThrottleHandle {
    const fn = this.functions.get(throttle.functionName);
    if (!fn) throw new Error(`no function ${throttle.functionName}`);
    if (throttle.count !== undefined && !(Number.isInteger(throttle.count) && throttle.count > 0)) throw new RangeError(`count must be a positive integer, got ${throttle.count}`);
    const rule: ThrottleRule = { match: throttle.match, left: throttle.count ?? Number.POSITIVE_INFINITY, throttled: 0 };
    fn.throttles.push(rule);
    return {
      get throttled() {
        return rule.throttled;
      },
      stop: () => {
        const i = fn.throttles.indexOf(rule);
        if (i !== -1) fn.throttles.splice(i, 1);
      },
    };
  }

  private throttleRuleFor(fn: FunctionState, event: unknown): ThrottleRule | undefined {
    for (const rule of fn.throttles) {
      if (!ruleMatches(rule.match, event)) continue;
      rule.throttled++;
      if (--rule.left <= 0) fn.throttles.splice(fn.throttles.indexOf(rule), 1);
      return rule;
    }
    return undefined;
  }

  private delayRuleFor(fn: FunctionState, event: unknown): DelayRule | undefined {
    for (const rule of fn.delays) {
      if (rule.stopped || rule.left <= 0) continue;
      if (!ruleMatches(rule.match, event)) continue;
      rule.left--;
      if (rule.left <= 0) {
        rule.stopped = true;
        fn.delays.splice(fn.delays.indexOf(rule), 1);
      }
      return rule;
    }
    return undefined;
  }

  private hold(fn: FunctionState, pending: Pending, rule: DelayRule): void {
    rule.delayed++;
    rule.waiting++;
    const timer = setTimeout(() => {
      this.held.delete(pending);
      rule.waiting--;
      this.place(fn, pending);
      this.settleIfDone(rule);
    }, rule.delayMs);
    this.held.set(pending, { fn, timer, rule });
  }

  private settleIfDone(rule: DelayRule): void {
    if (!(rule.stopped || rule.left <= 0) || rule.waiting > 0) return;
    for (const resolve of rule.settledWaiters.splice(0)) resolve();
  }

  private coldStart(fn: FunctionState, pending: Pending): void {
    fn.stats.coldStarts++;
    this.initsInFlight++;
    const cold = this.createEnvironment(fn, false);
    cold.holdsInitSlot = true;
    cold.pending = pending;
  }

  private releaseInitSlot(env: Environment): void {
    if (!env.holdsInitSlot) return;
    env.holdsInitSlot = false;
    this.initsInFlight--;
    this.serveWaiting();
  }

  /** Gives waiting invocations, oldest first, an idle environment or a free init slot. */
  private serveWaiting(): void {
    for (let i = 0; i < this.waiting.length; ) {
      const { fn, pending } = this.waiting[i]!;
      this.takeResponded(fn);
      const env = this.takeIdle(fn);
      if (env !== undefined) this.dispatch(env, pending);
      else if (this.initsInFlight < this.maxConcurrentInits) this.coldStart(fn, pending);
      else {
        i++;
        continue;
      }
      this.waiting.splice(i, 1);
    }
  }

  stats(): Record<string, FunctionStats> {
    const out: Record<string, FunctionStats> = {};
    for (const [name, fn] of this.functions) {
      out[name] = { ...fn.stats, initDurationsMs: fn.stats.initDurationsMs.slice(), environments: fn.all.size, busy: fn.busy };
    }
    return out;
  }

  /**
   * The OS thread of every live environment (Linux thread ids, reported by each environment as it starts; absent
   * elsewhere): what tools/cpu-breakdown.ts attributes per-thread CPU (/proc/<pid>/task/<tid>) with.
   */
  threads(): { functionName: string; environmentId: string; tid: number }[] {
    const out: { functionName: string; environmentId: string; tid: number }[] = [];
    for (const [name, fn] of this.functions) {
      for (const env of fn.all) if (env.tid !== undefined) out.push({ functionName: name, environmentId: env.id, tid: env.tid });
    }
    return out;
  }

  /**
   * Fault injection: the host of every environment of `functionName` that is running an invocation dies now (its
   * worker is terminated mid-invocation, nothing of it runs on). Each counts as a crash; its invocation fails as
   * `EnvironmentCrash`. Returns how many died.
   */
  killBusy(functionName: string): number {
    const fn = this.functions.get(functionName);
    if (!fn) throw new Error(`no function ${functionName}`);
    let killed = 0;
    for (const env of fn.all) {
      if (env.state !== 'busy') continue;
      env.fatal ??= { type: 'Runtime.ExitError', message: 'the execution environment was killed (fault injection)' };
      kill(env.worker);
      killed++;
    }
    return killed;
  }

  /** Terminates every environment; invocations in flight resolve as EnvironmentCrash. */
  async stop(): Promise<void> {
    this.stopped = true;
    for (const [pending, { fn, timer, rule }] of this.held) {
      clearTimeout(timer);
      rule.waiting--;
      this.settleIfDone(rule);
      this.waiting.push({ fn, pending });
    }
    this.held.clear();
    for (const { fn, pending } of this.waiting.splice(0)) {
      fn.busy--;
      if (fn.reserved === undefined) this.unreservedBusy--;
      pending.resolve({ ok: false, errorType: 'EnvironmentCrash', errorMessage: 'Runtime stopped' });
    }
    if (this.reclaimTimer !== undefined) clearInterval(this.reclaimTimer);
    this.reclaimTimer = undefined;
    for (const fn of this.functions.values()) {
      clearTimeout(fn.timeoutTimer);
      fn.timeoutTimer = undefined;
    }
    const terminations: Promise<number>[] = [];
    for (const fn of this.functions.values()) {
      for (const env of [...fn.all]) {
        terminations.push(env.worker.terminate().catch(() => 0));
        this.destroy(env, { ok: false, errorType: 'EnvironmentCrash', errorMessage: 'Runtime stopped', environmentId: env.id }, true);
      }
    }
    await Promise.allSettled(terminations);
  }

  // --- internals -------------------------------------------------------------------------------

  private makeFunctionState(config: FunctionConfig): FunctionState {
    const handlerExport = config.handlerExport ?? 'handler';
    const logGroupName = `/aws/lambda/${config.name}`;
    // Lambda gives a function its configured variables and its own, not the deployer's shell: nothing else passes
    // through (a function that read a host variable would work here and fail on AWS; vendor keys must not leak).
    const baseEnv: Record<string, string> = {};
    for (const k of HOST_VARIABLES) if (process.env[k] !== undefined) baseEnv[k] = process.env[k]!;
    Object.assign(baseEnv, config.environment ?? {}, {
      AWS_LAMBDA_FUNCTION_NAME: config.name,
      AWS_LAMBDA_FUNCTION_MEMORY_SIZE: String(config.memoryMb),
      AWS_LAMBDA_FUNCTION_VERSION: '$LATEST',
      AWS_REGION: this.region,
      AWS_DEFAULT_REGION: this.region,
      AWS_EXECUTION_ENV: 'AWS_Lambda_nodejs22.x',
      _HANDLER: `index.${handlerExport}`,
      AWS_LAMBDA_LOG_GROUP_NAME: logGroupName,
      LAMBDA_TASK_ROOT: dirname(config.bundlePath),
      // The functions deploy on nodejs22.x (AWS_EXECUTION_ENV above); the AWS SDK's warning that Node 20 loses
      // support in 2027 is about this host, not the function, and would be an ERROR line in every environment's log.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
    });
    const reserved = config.reservedConcurrency;
    const reason = reserved !== undefined ? 'ReservedFunctionConcurrentInvocationLimitExceeded' : 'ConcurrentInvocationLimitExceeded';
    return {
      config,
      handlerExport,
      timeoutMs: config.timeoutSeconds * 1000,
      timeoutMessage: `Task timed out after ${config.timeoutSeconds.toFixed(2)} seconds`,
      reserved,
      baseEnv,
      arn: `arn:aws:lambda:${this.region}:${ACCOUNT_ID}:function:${config.name}`,
      logGroupName,
      stats: {
        invocations: 0,
        billedMs: 0,
        coldStarts: 0,
        initDurationsMs: [],
        throttles: 0,
        timeouts: 0,
        handlerErrors: 0,
        crashes: 0,
        environments: 0,
        busy: 0,
        initErrors: 0,
      },
      idleProvisioned: [],
      idleOnDemand: [],
      all: new Set(),
      busy: 0,
      envSeq: 0,
      delays: [],
      throttles: [],
      running: [],
      timeoutTimer: undefined,
      throttled: Object.freeze({ ok: false, errorType: 'Throttled', errorMessage: `Rate Exceeded. (Reason: ${reason})` }),
    };
  }

  /**
   * Takes the responses environments of `fn` have posted but this thread has not handled yet (their port's event
   * comes later, behind whatever else this thread is doing), so those environments are idle again before an idle one
   * is chosen: on Lambda an environment is free once its response is sent. Without it, a busy host thread left
   * finished environments "busy" and placed invocations on other ones (measured: 16–20 media environments in use for
   * five calls at 250 frames/s), spreading every call's frames over more cold environments.
   */
  private takeResponded(fn: FunctionState): void {
    if (fn.busy === 0 || this.draining) return;
    // While draining, release() leaves the waiting invocations to the caller (place or serveWaiting), which serves
    // them in order: serving them from inside this loop would re-enter serveWaiting and place one invocation twice.
    this.draining = true;
    try {
      for (const env of fn.all) {
        if (env.state !== 'busy' || Atomics.load(env.responded, 0) === 0) continue;
        for (let m = receiveMessageOnPort(env.port); m !== undefined; m = receiveMessageOnPort(env.port)) {
          this.onMessage(env, m.message as unknown[]);
          if (env.state !== 'busy') break;
        }
      }
    } finally {
      this.draining = false;
    }
  }

  private takeIdle(fn: FunctionState): Environment | undefined {
    // Provisioned concurrency is used first, on-demand environments after (spillover).
    const list = fn.idleProvisioned.length > 0 ? fn.idleProvisioned : fn.idleOnDemand;
    // Idle lists are in release order: the last is the most recently used, the first the one idle the longest.
    const n = list.length;
    if (n === 0) return undefined;
    if (this.placement === 'mru') return list.pop();
    if (this.placement === 'round-robin') return list.shift();
    const i = Math.floor(Math.random() * n);
    const env = list[i]!;
    list[i] = list[n - 1]!;
    list.pop();
    return env;
  }

  private createEnvironment(fn: FunctionState, provisioned: boolean): Environment {
    const seq = ++fn.envSeq;
    const id = `${fn.config.name}#${seq}`;
    const now = new Date();
    const day = `${now.getUTCFullYear()}/${String(now.getUTCMonth() + 1).padStart(2, '0')}/${String(now.getUTCDate()).padStart(2, '0')}`;
    const logStreamName = `${day}/[$LATEST]${randomBytes(16).toString('hex')}`;
    const { port1, port2 } = new MessageChannel();
    const ctrl = new SharedArrayBuffer(16);
    const worker = new Worker(ENVIRONMENT_WORKER_SOURCE, {
      eval: true,
      name: id,
      stdout: true,
      stderr: true,
      execArgv: [],
      env: {
        ...fn.baseEnv,
        AWS_LAMBDA_LOG_STREAM_NAME: logStreamName,
        AWS_LAMBDA_INITIALIZATION_TYPE: provisioned ? 'provisioned-concurrency' : 'on-demand',
      },
      resourceLimits: { maxOldGenerationSizeMb: fn.config.memoryMb },
      workerData: {
        port: port2,
        ctrl,
        bundlePath: fn.config.bundlePath,
        handlerExport: fn.handlerExport,
        functionName: fn.config.name,
        functionVersion: '$LATEST',
        memoryMb: fn.config.memoryMb,
        invokedFunctionArn: fn.arn,
        logGroupName: fn.logGroupName,
        logStreamName,
      },
      transferList: [port2],
    });
    const env: Environment = {
      id,
      fn,
      worker,
      port: port1,
      signal: new Int32Array(ctrl, 0, 1),
      responded: new Int32Array(ctrl, 4, 1),
      deadline: new Float64Array(ctrl, 8, 1),
      provisioned,
      createdAt: performance.now(),
      state: 'init',
      idleSince: 0,
      pending: undefined,
      onInit: undefined,
      initTimer: undefined,
      fatal: undefined,
      initError: undefined,
      outBuf: '',
      errBuf: '',
      tid: undefined,
    };
    fn.all.add(env);
    this.attachLogs(env);
    port1.on('message', (msg: unknown[]) => this.onMessage(env, msg));
    worker.on('error', (err: Error & { code?: string }) => {
      if (env.fatal !== undefined) return;
      env.fatal =
        err.code === 'ERR_WORKER_OUT_OF_MEMORY'
          ? { type: 'Runtime.OutOfMemory', message: `Runtime exited with error: out of memory (${fn.config.memoryMb} MB)` }
          : { type: 'Runtime.UncaughtException', message: `${err.name}: ${err.message}` };
    });
    worker.on('exit', (code) => this.onExit(env, code));
    env.initTimer = setTimeout(() => {
      env.initTimer = undefined;
      if (env.state !== 'init') return;
      kill(worker);
      this.failInit(env, 'Runtime.InitTimeout', `Init timed out after ${(INIT_TIMEOUT_MS / 1000).toFixed(2)} seconds`);
    }, INIT_TIMEOUT_MS);
    return env;
  }

  private attachLogs(env: Environment): void {
    const { worker } = env;
    const onLog = this.onLog;
    if (onLog === undefined) {
      // Drop the output but keep the streams flowing (the environment waits for them before freezing).
      worker.stdout.resume();
      worker.stderr.resume();
      return;
    }
    const name = env.fn.config.name;
    const emit = (line: string): void => {
      try {
        onLog(name, env.id, line);
      } catch {
        /* a broken log sink must not break the runtime */
      }
    };
    const split = (chunk: string, buf: string): string => {
      let text = buf + chunk;
      let nl = text.indexOf('\n');
      while (nl !== -1) {
        emit(text.charCodeAt(nl - 1) === 13 ? text.slice(0, nl - 1) : text.slice(0, nl));
        text = text.slice(nl + 1);
        nl = text.indexOf('\n');
      }
      return text;
    };
    worker.stdout.setEncoding('utf8');
    worker.stderr.setEncoding('utf8');
    worker.stdout.on('data', (chunk: string) => (env.outBuf = split(chunk, env.outBuf)));
    worker.stderr.on('data', (chunk: string) => (env.errBuf = split(chunk, env.errBuf)));
    worker.stdout.on('end', () => {
      if (env.outBuf !== '') emit(env.outBuf);
      env.outBuf = '';
    });
    worker.stderr.on('end', () => {
      if (env.errBuf !== '') emit(env.errBuf);
      env.errBuf = '';
    });
  }

  private dispatch(env: Environment, pending: Pending): void {
    const fn = env.fn;
    env.state = 'busy';
    env.pending = pending;
    env.deadline[0] = Date.now() + fn.timeoutMs;
    try {
      env.port.postMessage(pending.event);
    } catch (err) {
      // Not structured-cloneable: Lambda would reject the payload before running anything.
      env.pending = undefined;
      this.release(env);
      pending.resolve({
        ok: false,
        errorType: 'HandlerError',
        errorMessage: `Could not serialize event: ${(err as Error).message}`,
        environmentId: env.id,
      });
      return;
    }
    pending.start = performance.now();
    pending.deadline = pending.start + fn.timeoutMs;
    fn.running.push({ env, pending });
    if (fn.timeoutTimer === undefined) this.armTimeouts(fn, fn.timeoutMs);
    Atomics.store(env.signal, 0, 1);
    Atomics.notify(env.signal, 0);
  }

  /**
   * One timer per function for its invocations' timeouts: it fires at the oldest running invocation's deadline,
   * times out what is due and re-arms for the next. A settled invocation leaves its entry behind (dropped when it
   * reaches the front), so a warm invocation costs no timer of its own. Unref'd: the workers keep the process alive.
   */
  private armTimeouts(fn: FunctionState, inMs: number): void {
    fn.timeoutTimer = setTimeout(() => this.checkTimeouts(fn), Math.max(0, inMs));
    fn.timeoutTimer.unref();
  }

  private checkTimeouts(fn: FunctionState): void {
    fn.timeoutTimer = undefined;
    const now = performance.now();
    const running = fn.running;
    while (running.length > 0) {
      const head = running[0]!;
      if (head.pending.settled || head.env.pending !== head.pending) {
        running.shift();
        continue;
      }
      if (head.pending.deadline > now) break;
      running.shift();
      this.onTimeout(head.env);
    }
    if (running.length > 0) this.armTimeouts(fn, running[0]!.pending.deadline - now);
  }

  /** Marks an invocation resolved; drops settled entries at the front of its function's timeout queue. */
  private settle(fn: FunctionState, pending: Pending): void {
    pending.settled = true;
    const running = fn.running;
    while (running.length > 0 && running[0]!.pending.settled) running.shift();
  }

  private onMessage(env: Environment, msg: unknown[]): void {
    const kind = msg[0];
    if (kind === MSG_RESULT || kind === MSG_ERROR) {
      const pending = env.pending;
      if (pending === undefined || env.state !== 'busy') return;
      Atomics.store(env.responded, 0, 0);
      this.settle(env.fn, pending);
      env.pending = undefined;
      const durationMs = performance.now() - pending.start;
      env.fn.stats.billedMs += Math.ceil(durationMs);
      this.release(env);
      if (kind === MSG_RESULT) {
        pending.resolve(
          pending.initDurationMs === undefined
            ? { ok: true, payload: msg[1], environmentId: env.id, durationMs }
            : { ok: true, payload: msg[1], environmentId: env.id, durationMs, initDurationMs: pending.initDurationMs },
        );
      } else {
        env.fn.stats.handlerErrors++;
        pending.resolve({
          ok: false,
          errorType: 'HandlerError',
          errorMessage: `${msg[1] as string}: ${msg[2] as string}`,
          environmentId: env.id,
          durationMs,
          ...(pending.initDurationMs === undefined ? {} : { initDurationMs: pending.initDurationMs }),
        });
      }
    } else if (kind === MSG_READY) {
      if (env.state !== 'init') return;
      clearTimeout(env.initTimer);
      env.initTimer = undefined;
      const initDurationMs = performance.now() - env.createdAt;
      const fn = env.fn;
      if (!env.provisioned) {
        const samples = fn.stats.initDurationsMs;
        samples.push(initDurationMs);
        if (samples.length > MAX_INIT_SAMPLES) samples.shift();
      }
      const pending = env.pending;
      if (pending !== undefined) {
        pending.initDurationMs = initDurationMs;
        this.dispatch(env, pending);
        this.releaseInitSlot(env);
      } else {
        const onInit = env.onInit;
        env.onInit = undefined;
        this.release(env, false);
        onInit?.(undefined);
      }
    } else if (kind === MSG_FATAL) {
      if (env.fatal === undefined) env.fatal = { type: msg[1] as string, message: msg[2] as string };
    } else if (kind === MSG_INIT_ERROR) {
      env.initError = { type: msg[1] as string, message: msg[2] as string };
    } else if (kind === MSG_THREAD) {
      env.tid = typeof msg[1] === 'number' && Number.isInteger(msg[1]) ? msg[1] : undefined;
    }
  }

  /** Marks the environment idle (after an invocation, or after init of a provisioned one). */
  private release(env: Environment, wasBusy = true): void {
    const fn = env.fn;
    if (wasBusy) {
      fn.busy--;
      if (fn.reserved === undefined) this.unreservedBusy--;
    }
    env.state = 'idle';
    env.idleSince = performance.now();
    (env.provisioned ? fn.idleProvisioned : fn.idleOnDemand).push(env);
    if (this.waiting.length > 0 && !this.draining) this.serveWaiting();
  }

  private onTimeout(env: Environment): void {
    const pending = env.pending;
    if (pending === undefined || env.state !== 'busy') return;
    env.fn.stats.timeouts++;
    kill(env.worker);
    this.destroy(env, {
      ok: false,
      errorType: 'Timeout',
      errorMessage: env.fn.timeoutMessage,
      environmentId: env.id,
      durationMs: performance.now() - pending.start,
      ...(pending.initDurationMs === undefined ? {} : { initDurationMs: pending.initDurationMs }),
    });
  }

  private failInit(env: Environment, type: string, message: string): void {
    const fn = env.fn;
    fn.stats.initErrors = (fn.stats.initErrors ?? 0) + 1;
    const initDurationMs = performance.now() - env.createdAt;
    const onInit = env.onInit;
    env.onInit = undefined;
    this.destroy(env, {
      ok: false,
      errorType: 'InitError',
      errorMessage: `${type}: ${message}`,
      environmentId: env.id,
      initDurationMs,
    });
    onInit?.(new Error(`${env.id}: ${type}: ${message}`));
  }

  private onExit(env: Environment, code: number): void {
    // Messages posted just before the exit may still be queued: handle them first, in order.
    for (let m = receiveMessageOnPort(env.port); m !== undefined; m = receiveMessageOnPort(env.port)) {
      this.onMessage(env, m.message as unknown[]);
    }
    env.port.close();
    if (env.state === 'dead') return;
    if (env.state === 'init') {
      const err = env.initError ?? env.fatal ?? { type: 'Runtime.ExitError', message: `Runtime exited with error: exit status ${code}` };
      this.failInit(env, err.type, err.message);
      return;
    }
    env.fn.stats.crashes++;
    const err = env.fatal ?? { type: 'Runtime.ExitError', message: `Runtime exited with error: exit status ${code}` };
    const pending = env.pending;
    this.destroy(env, {
      ok: false,
      errorType: 'EnvironmentCrash',
      errorMessage: `${err.type}: ${err.message}`,
      environmentId: env.id,
      ...(pending === undefined ? {} : { durationMs: performance.now() - pending.start }),
      ...(pending?.initDurationMs === undefined ? {} : { initDurationMs: pending.initDurationMs }),
    });
  }

  /** Removes the environment from every pool; resolves its invocation in flight (if any) with `result`. */
  private destroy(env: Environment, result: InvokeResult | undefined, stopping = false): void {
    const fn = env.fn;
    const prev = env.state;
    if (prev === 'dead') return;
    env.state = 'dead';
    fn.all.delete(env);
    clearTimeout(env.initTimer);
    env.initTimer = undefined;
    if (prev === 'idle') {
      const list = env.provisioned ? fn.idleProvisioned : fn.idleOnDemand;
      const i = list.indexOf(env);
      if (i !== -1) list.splice(i, 1);
    }
    const pending = env.pending;
    env.pending = undefined;
    if (pending !== undefined) {
      this.settle(fn, pending);
      fn.busy--;
      if (fn.reserved === undefined) this.unreservedBusy--;
      pending.resolve(result ?? { ok: false, errorType: 'EnvironmentCrash', errorMessage: 'Environment destroyed', environmentId: env.id });
    }
    if (!stopping) this.releaseInitSlot(env);
    if (stopping) {
      const onInit = env.onInit;
      env.onInit = undefined;
      onInit?.(new Error(`${env.id}: runtime stopped during init`));
    }
  }

  private reclaimIdle(): void {
    const cutoff = performance.now() - this.idleReclaimMs;
    for (const fn of this.functions.values()) {
      const list = fn.idleOnDemand;
      for (let i = list.length - 1; i >= 0; i--) {
        const env = list[i]!;
        if (env.idleSince <= cutoff) {
          kill(env.worker);
          this.destroy(env, undefined);
        }
      }
    }
  }
}
