/**
 * Per-connection message rate limit, enforced in each execution environment.
 *
 * API Gateway WebSocket throttles a whole stage (all connections together), not one connection, and it has no API
 * keys to throttle by. So a single caller flooding its socket would eat the stage's budget and every other call's.
 * The handlers refuse a connection's messages beyond `ratePerSecond` (burst `burst`), and close a connection that
 * keeps flooding (`closeAfterRefused` refusals).
 *
 * The buckets live in the environment's memory: nothing is written per message (a shared counter would be a
 * DynamoDB write per frame). Environments are not sticky, so a flood spread over k environments is refused only
 * above k × the rate; Lambda packs one connection's back-to-back messages into the few warm environments, and the
 * stage throttle and the function's concurrency bound the rest. A real caller sends 50 frames a second (Twilio)
 * or fewer (larger chunks), far under the default of 100.
 *
 * Refusals are reported in aggregate (one metric and one log line per `reportEveryMs` per connection and
 * environment): a flood must not become a flood of log lines.
 */
import { z } from 'zod';

export interface RateLimitConfig {
  /** Steady messages per second per connection (per environment). */
  readonly ratePerSecond: number;
  /** Messages a connection may send at once above the steady rate (network bunching, a backlog after a stall). */
  readonly burst: number;
  /** A connection refused this many times (in one environment) is closed. 0: never close. */
  readonly closeAfterRefused: number;
  /** Refusals are reported at most this often per connection. */
  readonly reportEveryMs: number;
}

export const DEFAULT_RATE_LIMIT: RateLimitConfig = {
  // Twice Twilio's 50 frames a second, plus marks and DTMF.
  ratePerSecond: 100,
  // Two seconds of Twilio frames: what a caller's network may deliver at once after a hiccup.
  burst: 100,
  // Five seconds of refusals at the default rate: not a phone call any more.
  closeAfterRefused: 500,
  reportEveryMs: 1000,
};

const positive = (fallback: number) => z.coerce.number().finite().positive().default(fallback);
const RateLimitEnv = z.object({
  MESSAGE_RATE_LIMIT: positive(DEFAULT_RATE_LIMIT.ratePerSecond),
  MESSAGE_BURST: positive(DEFAULT_RATE_LIMIT.burst),
  CLOSE_AFTER_REFUSED: z.coerce.number().int().nonnegative().default(DEFAULT_RATE_LIMIT.closeAfterRefused),
});

export function rateLimitFromEnv(env: NodeJS.ProcessEnv = process.env): RateLimitConfig {
  const e = RateLimitEnv.parse(env);
  return { ratePerSecond: e.MESSAGE_RATE_LIMIT, burst: e.MESSAGE_BURST, closeAfterRefused: e.CLOSE_AFTER_REFUSED, reportEveryMs: DEFAULT_RATE_LIMIT.reportEveryMs };
}

export interface Admission {
  readonly admitted: boolean;
  /** Refusals not yet reported, when it is time to report them (else 0); an admitted message reports a flood's tail. */
  readonly report: number;
  /** True exactly once per connection: the refusal that crosses closeAfterRefused. */
  readonly close: boolean;
}

const ADMITTED: Admission = { admitted: true, report: 0, close: false };

interface Bucket {
  tokens: number;
  last: number;
  refused: number;
  unreported: number;
  reportedAt: number;
}

/** Connections idle this long are forgotten; the map never grows past MAX_TRACKED. */
const FORGET_AFTER_MS = 60_000;
const MAX_TRACKED = 10_000;

export class ConnectionRateLimiter {
  private readonly buckets = new Map<string, Bucket>();

  constructor(
    private readonly config: RateLimitConfig,
    private readonly now: () => number = Date.now,
  ) {}

  /**
   * One message of `connectionId`, which reached the gateway at `arrivedAt` (API Gateway's requestTimeEpoch). The
   * bucket runs on arrival times, not on when the handler got to the message: a backlog that waited for an environment
   * (a cold start) is a caller's steady 50 frames a second all the same, and must not be refused as a flood.
   */
  admit(connectionId: string, arrivedAt: number = this.now()): Admission {
    const t = arrivedAt;
    let b = this.buckets.get(connectionId);
    if (!b) {
      if (this.buckets.size >= MAX_TRACKED) this.forgetIdle(t);
      b = { tokens: this.config.burst, last: t, refused: 0, unreported: 0, reportedAt: t };
      this.buckets.set(connectionId, b);
    } else if (t > b.last) {
      b.tokens = Math.min(this.config.burst, b.tokens + ((t - b.last) * this.config.ratePerSecond) / 1000);
      b.last = t;
    }
    if (b.tokens >= 1) {
      b.tokens -= 1;
      if (b.unreported === 0 || t - b.reportedAt < this.config.reportEveryMs) return ADMITTED;
      const report = b.unreported;
      b.unreported = 0;
      b.reportedAt = t;
      return { admitted: true, report, close: false };
    }
    b.refused++;
    b.unreported++;
    const close = this.config.closeAfterRefused > 0 && b.refused === this.config.closeAfterRefused;
    let report = 0;
    if (close || b.refused === 1 || t - b.reportedAt >= this.config.reportEveryMs) {
      report = b.unreported;
      b.unreported = 0;
      b.reportedAt = t;
    }
    return { admitted: false, report, close };
  }

  /** How many connections this environment is tracking (tests). */
  get tracked(): number {
    return this.buckets.size;
  }

  private forgetIdle(t: number): void {
    for (const [id, b] of this.buckets) if (t - b.last > FORGET_AFTER_MS) this.buckets.delete(id);
    // Still full: drop the oldest entries (Map keeps insertion order), a fresh bucket is full anyway.
    for (const id of this.buckets.keys()) {
      if (this.buckets.size < MAX_TRACKED) break;
      this.buckets.delete(id);
    }
  }
}
