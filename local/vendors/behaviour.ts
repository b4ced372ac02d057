/**
 * How the local vendor servers (Deepgram, ElevenLabs) behave beyond their protocol: a latency model and fault
 * injection. Test and benchmark tooling, never product code. Shared by both servers so a benchmark profile means the
 * same thing for each.
 */

/** A delay in milliseconds, drawn per request. */
export type Delay =
  | { readonly kind: 'fixed'; readonly ms: number }
  | { readonly kind: 'uniform'; readonly minMs: number; readonly maxMs: number }
  | { readonly kind: 'normal'; readonly meanMs: number; readonly sdMs: number; readonly minMs?: number };

export function drawDelay(d: Delay, random: () => number = Math.random): number {
  switch (d.kind) {
    case 'fixed':
      return d.ms;
    case 'uniform':
      return d.minMs + (d.maxMs - d.minMs) * random();
    case 'normal': {
      // Box–Muller; clamped below so a tail never goes negative.
      const u = Math.max(random(), Number.EPSILON);
      const z = Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * random());
      return Math.max(d.minMs ?? 0, d.meanMs + d.sdMs * z);
    }
  }
}

export interface LatencyModel {
  /** Speech-to-text: from the end of the audio (request body / CloseStream / Finalize) to the final result. */
  readonly sttAfterAudio: Delay;
  /** Text-to-speech: from the request to the first audio byte. */
  readonly ttsFirstByte: Delay;
  /** Text-to-speech after the first byte: audio is produced this many times faster than real time. */
  readonly ttsRealtimeFactor: number;
}

/** The seed study's figures (../shared/seed): STT 150–250 ms after the audio, TTS first byte 100–200 ms. */
export const SEED_LATENCY: LatencyModel = {
  sttAfterAudio: { kind: 'uniform', minMs: 150, maxMs: 250 },
  ttsFirstByte: { kind: 'uniform', minMs: 100, maxMs: 200 },
  ttsRealtimeFactor: 4,
};

/** No added latency: what the adapters and the platform cost on their own. */
export const ZERO_LATENCY: LatencyModel = {
  sttAfterAudio: { kind: 'fixed', ms: 0 },
  ttsFirstByte: { kind: 'fixed', ms: 0 },
  ttsRealtimeFactor: Number.POSITIVE_INFINITY,
};

/**
 * What can go wrong with a vendor, as the adapters must survive it:
 * - `http-500` / `http-429`: an error status with the vendor's error body (429 with `retry-after`);
 * - `timeout`: the request is accepted and never answered;
 * - `stall`: the response (or stream) starts, then nothing more is sent;
 * - `malformed`: a success status with a body that is not what the API documents;
 * - `drop`: the connection is destroyed mid-response.
 */
export type Fault = 'http-500' | 'http-429' | 'timeout' | 'stall' | 'malformed' | 'drop';
export const FAULTS: readonly Fault[] = ['http-500', 'http-429', 'timeout', 'stall', 'malformed', 'drop'];

/**
 * Which requests fail: a queue of scripted faults (tests: "the next request gets a 429") taken first, then random
 * faults at the given rates (benchmarks: "1 % of requests time out"). A vendor with faults of its own (Bedrock's
 * error events mid-stream) passes its list of kinds.
 */
export class FaultPlan<F extends string = Fault> {
  private readonly scripted: F[] = [];

  constructor(
    private readonly rates: Partial<Record<F, number>> = {},
    private readonly random: () => number = Math.random,
    private readonly kinds: readonly F[] = FAULTS as readonly string[] as readonly F[],
  ) {}

  /** The next `count` requests get `fault`. */
  next(fault: F, count = 1): this {
    for (let i = 0; i < count; i++) this.scripted.push(fault);
    return this;
  }

  clear(): void {
    this.scripted.length = 0;
  }

  /** Called once per request: the fault it gets, if any. */
  take(): F | undefined {
    const scripted = this.scripted.shift();
    if (scripted) return scripted;
    let x = this.random();
    for (const fault of this.kinds) {
      const rate = this.rates[fault] ?? 0;
      if (x < rate) return fault;
      x -= rate;
    }
    return undefined;
  }
}

export type Vendor = 'deepgram' | 'elevenlabs';
export const VENDORS: readonly Vendor[] = ['deepgram', 'elevenlabs'];

/** Random faults: `rate` of each vendor's requests (0.01 = 1 %) fail, spread evenly over `kinds` (default all). */
export interface VendorFaultRates {
  readonly rate: number;
  readonly kinds?: readonly Fault[];
  /** Which vendors' requests (default both). */
  readonly vendors?: readonly Vendor[];
}

/** The FaultPlan rates of one vendor under `VendorFaultRates`. */
export function faultRates(config: VendorFaultRates | undefined, vendor: Vendor): Partial<Record<Fault, number>> {
  if (!config || config.rate <= 0 || !(config.vendors ?? VENDORS).includes(vendor)) return {};
  const kinds = config.kinds && config.kinds.length > 0 ? config.kinds : FAULTS;
  return Object.fromEntries(kinds.map((k) => [k, config.rate / kinds.length]));
}

export const sleep = (ms: number) => new Promise<void>((resolve) => setTimeout(resolve, ms));
