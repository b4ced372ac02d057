/** Contract between the local gateway and the local Lambda runtime (the Lambda Invoke API, in process). */

export type InvokeErrorType =
  /** No environment free and the concurrency limit reached (Lambda: TooManyRequestsException, 429). */
  | 'Throttled'
  /** The handler ran past the function timeout; the environment was destroyed. */
  | 'Timeout'
  /** The handler threw or rejected; the environment survives. */
  | 'HandlerError'
  /** The environment died (uncaught exception, unhandled rejection, exit, out of memory). */
  | 'EnvironmentCrash'
  /** Init (module load) failed. */
  | 'InitError'
  | 'UnknownFunction';

export type InvokeResult =
  | {
      readonly ok: true;
      readonly payload: unknown;
      readonly environmentId: string;
      readonly durationMs: number;
      /** Present when this invocation paid a cold start (init of an on-demand environment). */
      readonly initDurationMs?: number;
    }
  | {
      readonly ok: false;
      readonly errorType: InvokeErrorType;
      readonly errorMessage: string;
      readonly environmentId?: string;
      readonly durationMs?: number;
      readonly initDurationMs?: number;
    };

export interface Invoker {
  invoke(functionName: string, event: unknown): Promise<InvokeResult>;
}

export interface FunctionConfig {
  readonly name: string;
  /** Absolute path of the CommonJS bundle that exports the handler. */
  readonly bundlePath: string;
  /** Export name of the handler in the bundle (Lambda's `_HANDLER` is `index.<handlerExport>`). */
  readonly handlerExport?: string;
  readonly timeoutSeconds: number;
  readonly memoryMb: number;
  /** Environments initialized ahead of traffic (stand-in for provisioned concurrency). */
  readonly provisionedConcurrency?: number;
  /** Maximum concurrent environments for this function (reserved concurrency). */
  readonly reservedConcurrency?: number;
  readonly environment?: Readonly<Record<string, string>>;
}

/**
 * How an idle warm environment is picked for an invocation (never by connection or event content):
 *  - `mru` (default): the most recently used — a few environments take the traffic, the others stay idle;
 *  - `random`: any idle one;
 *  - `round-robin`: the one idle the longest, so consecutive invocations cycle through every idle environment — the
 *    widest spread, the worst case for per-environment caches.
 * Provisioned environments are always taken before on-demand ones.
 */
export type Placement = 'mru' | 'random' | 'round-robin';
export const PLACEMENTS: readonly Placement[] = ['mru', 'random', 'round-robin'];

export interface RuntimeOptions {
  readonly functions: readonly FunctionConfig[];
  /** Account-wide concurrency limit across all functions (AWS default 1000). */
  readonly accountConcurrency?: number;
  /** Environments idle longer than this are reclaimed (Lambda reclaims idle environments after minutes). */
  readonly idleReclaimMs?: number;
  /** How an idle warm environment is picked (see Placement); default `mru`. */
  readonly placement?: Placement;
  /**
   * Inits in flight at once (default: this machine's cores less one, so running environments keep a core; all cores
   * for the provisioned environments, which initialize before any traffic). A local deviation: see LambdaRuntime.
   * Invocations beyond it wait for a slot or for an environment of their function to free up.
   */
  readonly maxConcurrentInits?: number;
  /** Each line a function writes to stdout/stderr (its log group), with the function and environment. */
  readonly onLog?: (functionName: string, environmentId: string, line: string) => void;
  readonly region?: string;
}

/**
 * Fault injection (LambdaRuntime.delayInvocations): invocations of `functionName` whose event `match`es are held
 * `delayMs` before they reach an environment — a cold start on AWS, or a queue. A held invocation counts toward
 * concurrency (as an invocation paying a cold start does) and its event is delivered unchanged (the gateway's
 * `requestTimeEpoch` stays when the message arrived), after the invocations that came later and were not held.
 */
export interface InvocationDelay {
  readonly functionName: string;
  /** Which invocations to hold (default: every one). A match that throws holds nothing. */
  readonly match?: (event: unknown) => boolean;
  readonly delayMs: number;
  /** Hold at most this many invocations, then stop matching (default: until `stop()`). */
  readonly count?: number;
}

export interface DelayHandle {
  /** Invocations held so far. */
  readonly delayed: number;
  /** Of those, held right now (not yet handed to an environment). */
  readonly waiting: number;
  /** Whether new invocations can still be held (false after `stop()` or once `count` were). */
  readonly active: boolean;
  /** Holds no further invocations; those already held keep their delay. */
  stop(): void;
  /** Resolves when the rule holds nothing any more: stopped (or its `count` reached) and every held invocation handed on. */
  settled(): Promise<void>;
}

/**
 * Fault injection: matching invocations are refused as Lambda refuses one over its concurrency (`Throttled`, counted
 * in `throttles`): the function never sees the event, and the gateway answers the client as API Gateway does.
 */
export interface InvocationThrottle {
  readonly functionName: string;
  /** Which invocations to refuse (default: every one). A match that throws refuses nothing. */
  readonly match?: (event: unknown) => boolean;
  /** Refuse at most this many, then stop matching (default: until `stop()`). */
  readonly count?: number;
}

export interface ThrottleHandle {
  /** Invocations refused so far. */
  readonly throttled: number;
  /** Refuses no further invocations. */
  stop(): void;
}

export interface FunctionStats {
  invocations: number;
  /** Sum of invocation durations rounded up to 1 ms each, as Lambda bills them. */
  billedMs: number;
  coldStarts: number;
  initDurationsMs: number[];
  throttles: number;
  timeouts: number;
  handlerErrors: number;
  crashes: number;
  environments: number;
  busy: number;
  /** Environments whose init (module load) failed or timed out. */
  initErrors?: number;
}
