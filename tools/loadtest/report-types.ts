/**
 * The load test's report: the seed study's JSON shape (success_rate, avg/p95/p99 latency, errors by kind) plus what
 * it leaves out — stages, platform overhead, cold starts, throttles, the machine — and the counts the cost model
 * needs. Written to report.json; report.html renders the same object.
 */

/** Percentiles from an HDR histogram (hdr-histogram-js), in milliseconds. */
export interface Distribution {
  readonly count: number;
  readonly mean: number;
  readonly p50: number;
  readonly p90: number;
  readonly p95: number;
  readonly p99: number;
  readonly max: number;
  /** For the charts: [upper bound ms, count] buckets of the histogram, and [ms, cumulative fraction] points. */
  readonly buckets: readonly (readonly [number, number])[];
  readonly cdf: readonly (readonly [number, number])[];
}

/**
 * Stages of a turn, in the order they happen (see docs/LATENCY.md). `modelFirstToken` is part of `responder` (a
 * language model's time to its first text; the responder stage runs to the first complete sentence).
 */
export const STAGES = ['endpoint', 'dispatch', 'stt', 'modelFirstToken', 'responder', 'ttsFirstByte', 'send'] as const;
export type Stage = (typeof STAGES)[number];

export const STAGE_LABELS: Record<Stage, string> = {
  endpoint: 'endpoint (silence policy + detection)',
  dispatch: 'gateway and dispatch',
  stt: 'speech-to-text',
  modelFirstToken: 'model first token (within the responder)',
  responder: 'responder (to the first sentence)',
  ttsFirstByte: 'text-to-speech first byte',
  send: 'send',
};

export interface MachineSample {
  /** Seconds since the run started. */
  readonly t: number;
  /** Whole machine, percent of all cores (100 = every core busy). */
  readonly cpuPercent: number;
  readonly memUsedMb: number;
  /** Resident memory of the load generator + local stack processes. */
  readonly stackRssMb: number;
}

export interface MeasuredCounts {
  readonly callMinutes: number;
  /** Messages the gateway received from callers / sent to them (API Gateway bills both, per 32 KB). */
  readonly messagesIn: number;
  readonly messagesOut: number;
  readonly connectionMinutes: number;
  /** Per function: invocations and the sum of billed durations (ms, rounded up per invocation) and its memory. */
  readonly lambda: Readonly<Record<string, { readonly invocations: number; readonly billedMs: number; readonly memoryMb: number }>>;
  /** DynamoDB requests by operation, with request and response bytes. */
  readonly dynamodb: Readonly<Record<string, { readonly requests: number; readonly requestBytes: number; readonly responseBytes: number }>>;
  /** Bytes of audio and events sent to callers (data transfer out). */
  readonly bytesOut: number;
  /** The language model (responder bedrock, local stand-in): calls and tokens as the service bills them. */
  readonly model?: ModelCounts;
  /** Turn-taking's own costs (vendor profiles): what speech-to-text was asked, and the speculations thrown away. */
  readonly turnTaking?: TurnTakingCounts;
}

export interface TurnTakingCounts {
  /** Speech-to-text requests and the audio they carried (Deepgram bills pre-recorded audio by its duration). */
  readonly sttRequests: number;
  readonly sttAudioSeconds: number;
  readonly turnsPreempted: number;
  /** Early answers discarded: the caller went on, or a frame came late (each cost a transcription). */
  readonly speculationsDiscarded: number;
  readonly endpointsShortened: number;
  readonly endpointsExtended: number;
}

export interface ModelCounts {
  /** Requests a model ran on. */
  readonly calls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Calls of speculations that were discarded (their tokens are in the totals: they are billed too). */
  readonly speculationCalls: number;
}

export interface LoadReport {
  // The seed study's shape.
  readonly success_rate: number;
  readonly avg_latency_ms: number;
  readonly p95_latency_ms: number;
  readonly p99_latency_ms: number;
  readonly errors: Readonly<Record<string, number>>;

  readonly run: {
    readonly date: string;
    readonly command: string;
    readonly target: string;
    readonly profile: string;
    readonly calls: number;
    readonly durationS: number;
    readonly rampS: number;
    readonly frameMs: number;
    readonly replyCache: boolean;
    readonly provisioned: boolean;
    /** Local stack: the runtime's placement policy. */
    readonly placement?: string;
    readonly preemptSilenceMs?: number;
    /** Local stack: settings given to every function (`--function-env`). */
    readonly functionEnv?: Readonly<Record<string, string>>;
    /** Who answered: the rules, or the model path (local: the Bedrock stand-in). */
    readonly responder?: string;
  };
  readonly turns: { readonly attempted: number; readonly answered: number; readonly failed: number; readonly bargeIns: number };
  readonly calls: { readonly started: number; readonly completed: number; readonly failed: number };
  /** Turn latency as the server measured it (the definition), and as the client saw it, and client − server. */
  readonly latency: {
    readonly server: Distribution;
    readonly client: Distribution;
    readonly clientMinusServer: Distribution;
    /**
     * Endpoint decided → first agent audio: the turn without the endpoint silence. Not our definition of latency
     * (docs/LATENCY.md), but what the seed study's breakdown adds up (dispatch, STT, response, TTS, return).
     */
    readonly afterEndpoint: Distribution;
  };
  readonly stages: Readonly<Record<Stage, Distribution>>;
  /**
   * How the answered speech turns' ends were decided (END_OF_TURN, docs/LATENCY.md "End of turn"): how many by words
   * that sounded finished / stopped mid-phrase / neither, and how many without a transcript in time (`none`); with
   * the turn latency of each.
   */
  readonly endOfTurn?: Readonly<Record<'complete' | 'incomplete' | 'unsure' | 'none', { readonly turns: number; readonly latency: Distribution }>>;
  /** Turn latency minus the time the turn waited on the endpoint silence and the providers (see docs/LATENCY.md). */
  readonly platformOverhead: Distribution;
  /** Environments started during the run; hotPath counts only the functions a call's turns run on (start, media, dtmf, mark). */
  readonly coldStarts: {
    readonly total: number;
    readonly duringRun: number;
    readonly hotPath: number;
    /** Hot-path cold starts after the ramp (every call connected): what provisioned concurrency should have prevented. */
    readonly hotPathAfterRamp?: number;
    readonly byFunction: Readonly<Record<string, number>>;
  };
  readonly throttles: number;
  readonly machine: {
    readonly cpus: number;
    readonly cpuModel: string;
    readonly totalMemMb: number;
    readonly node: string;
    readonly cpuPercent: { readonly mean: number; readonly max: number };
    readonly stackRssMb: { readonly start: number; readonly end: number; readonly max: number };
    readonly samples: readonly MachineSample[];
  };
  readonly counts?: MeasuredCounts;
  /** Faults the vendor stand-ins injected (runs with --vendor-fault-rate, e.g. the soak). */
  readonly vendorFaults?: {
    readonly deepgram: { requests: number; faults: Record<string, number | undefined> };
    readonly elevenlabs: { requests: number; faults: Record<string, number | undefined> };
  };
}
