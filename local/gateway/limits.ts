/** API Gateway WebSocket service quotas, all configurable for tests (defaults are the AWS defaults). */
export interface GatewayLimits {
  /** Largest WebSocket frame accepted from a client (AWS: 32 KiB). Bigger → close 1009. */
  readonly maxFrameBytes: number;
  /** Largest message (all frames of one message) from a client or through @connections (AWS: 128 KiB). */
  readonly maxMessageBytes: number;
  /** No message in either direction for this long → close 1001 (AWS: 10 minutes). */
  readonly idleTimeoutMs: number;
  /** Hard cap on a connection's life → close 1001 (AWS: 2 hours). */
  readonly maxConnectionMs: number;
  /** New connections per second, token bucket with a one-second burst (AWS: 500/s per account and region). */
  readonly newConnectionsPerSecond: number;
  /** Integration (Lambda) timeout for every route (AWS: 29 s). */
  readonly integrationTimeoutMs: number;
}

export const DEFAULT_LIMITS: GatewayLimits = {
  maxFrameBytes: 32 * 1024,
  maxMessageBytes: 128 * 1024,
  idleTimeoutMs: 10 * 60 * 1000,
  maxConnectionMs: 2 * 60 * 60 * 1000,
  newConnectionsPerSecond: 500,
  integrationTimeoutMs: 29_000,
};

export function resolveLimits(partial: Partial<GatewayLimits> | undefined): GatewayLimits {
  const limits = { ...DEFAULT_LIMITS, ...partial };
  for (const [key, value] of Object.entries(limits)) {
    if (typeof value !== 'number' || !Number.isFinite(value) || value <= 0) {
      throw new RangeError(`gateway limit ${key} must be a positive finite number, got ${String(value)}`);
    }
  }
  return limits;
}

/** Token bucket: `ratePerSecond` tokens per second, bursting up to `capacity` (defaults to one second's worth). */
export class TokenBucket {
  private tokens: number;
  private last: number;

  constructor(
    private readonly ratePerSecond: number,
    private readonly capacity: number = ratePerSecond,
    private readonly now: () => number = Date.now,
  ) {
    this.tokens = capacity;
    this.last = now();
  }

  tryTake(): boolean {
    const t = this.now();
    const elapsed = t - this.last;
    if (elapsed > 0) {
      this.tokens = Math.min(this.capacity, this.tokens + (elapsed * this.ratePerSecond) / 1000);
      this.last = t;
    }
    if (this.tokens >= 1) {
      this.tokens -= 1;
      return true;
    }
    return false;
  }
}
