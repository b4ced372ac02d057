import fc from 'fast-check';
import { ConnectionRateLimiter, DEFAULT_RATE_LIMIT, rateLimitFromEnv } from '../../functions/access/rate-limit';
import { LOCAL_STAGE_THROTTLE } from '../../local/stack';
import { ENVIRONMENT_CONFIG } from '../../lib/config';

const config = { ratePerSecond: 100, burst: 100, closeAfterRefused: 50, reportEveryMs: 1000 };

function clock(start = 0) {
  let t = start;
  return { now: () => t, advance: (ms: number) => (t += ms) };
}

describe('ConnectionRateLimiter', () => {
  it('never refuses a Twilio caller: 50 frames a second for ten minutes, with 1 s network bunches', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(DEFAULT_RATE_LIMIT, c.now);
    let refused = 0;
    for (let second = 0; second < 600; second++) {
      if (second % 60 === 30) {
        // A one-second stall, then its 50 frames at once.
        c.advance(1000);
        for (let i = 0; i < 50; i++) if (!limiter.admit('caller').admitted) refused++;
      }
      for (let i = 0; i < 50; i++) {
        if (!limiter.admit('caller').admitted) refused++;
        c.advance(20);
      }
    }
    expect(refused).toBe(0);
  });

  it("counts by arrival at the gateway: a caller's backlog that waited 4 s for a cold start is not a flood", () => {
    const c = clock(1_000_000);
    const limiter = new ConnectionRateLimiter(DEFAULT_RATE_LIMIT, c.now);
    // 200 Twilio frames (4 s) queued behind a cold start, then handled back to back, all at one instant.
    const arrivals = Array.from({ length: 200 }, (_, i) => c.now() + i * 20);
    c.advance(4000);
    expect(arrivals.filter((at) => !limiter.admit('caller', at).admitted)).toEqual([]);
    // Handled as they came off the queue, the same 200 were refused past the burst: what the old clock did.
    const byHandlingTime = new ConnectionRateLimiter(DEFAULT_RATE_LIMIT, c.now);
    expect(arrivals.filter(() => !byHandlingTime.admit('caller').admitted)).toHaveLength(100);
    // A real flood arrives that fast: 200 messages in the same millisecond are refused past the burst either way.
    const flood = new ConnectionRateLimiter(DEFAULT_RATE_LIMIT, c.now);
    expect(arrivals.filter(() => !flood.admit('flood', c.now()).admitted)).toHaveLength(100);
  });

  it('admits at most burst + rate × time from one connection, whatever the arrival pattern', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: 0, max: 50 }), { minLength: 1, maxLength: 2000 }), (gaps) => {
        const c = clock();
        const limiter = new ConnectionRateLimiter(config, c.now);
        let admitted = 0;
        for (const gap of gaps) {
          c.advance(gap);
          if (limiter.admit('flood').admitted) admitted++;
        }
        const elapsed = c.now();
        expect(admitted).toBeLessThanOrEqual(config.burst + Math.floor((elapsed * config.ratePerSecond) / 1000) + 1);
      }),
      { numRuns: 200, seed: 7 },
    );
  });

  it('keeps connections apart: one flooding does not cost another anything', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(config, c.now);
    for (let i = 0; i < 10_000; i++) limiter.admit('flood');
    expect(limiter.admit('quiet').admitted).toBe(true);
  });

  it('reports refusals in aggregate (the first at once, then at most once a second) and closes exactly once', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(config, c.now);
    const reports: number[] = [];
    let closes = 0;
    let refused = 0;
    for (let i = 0; i < 1000; i++) {
      const a = limiter.admit('flood');
      if (!a.admitted) refused++;
      if (a.report) reports.push(a.report);
      if (a.close) closes++;
      c.advance(1); // 1,000 messages a second
    }
    expect(closes).toBe(1);
    expect(reports[0]).toBe(1);
    expect(reports.length).toBeLessThanOrEqual(4); // first, the close, and at most once a second
    // After the flood stops, the next admitted message reports the tail, so nothing refused goes uncounted.
    c.advance(2000);
    const after = limiter.admit('flood');
    expect(after.admitted).toBe(true);
    expect(reports.reduce((a, b) => a + b, 0) + after.report).toBe(refused);
  });

  it('forgets idle connections instead of growing without bound', () => {
    const c = clock();
    const limiter = new ConnectionRateLimiter(config, c.now);
    for (let i = 0; i < 10_000; i++) limiter.admit(`c${i}`);
    c.advance(120_000);
    limiter.admit('new');
    expect(limiter.tracked).toBeLessThanOrEqual(10_000);
    expect(limiter.tracked).toBe(1);
  });

  it('reads its limits from the environment and refuses nonsense', () => {
    expect(rateLimitFromEnv({ MESSAGE_RATE_LIMIT: '20', MESSAGE_BURST: '5', CLOSE_AFTER_REFUSED: '0' })).toMatchObject({ ratePerSecond: 20, burst: 5, closeAfterRefused: 0 });
    expect(rateLimitFromEnv({})).toMatchObject({ ratePerSecond: DEFAULT_RATE_LIMIT.ratePerSecond });
    expect(() => rateLimitFromEnv({ MESSAGE_RATE_LIMIT: '-1' })).toThrow();
  });
});

describe('stage throttle', () => {
  it("the local stack's default is prod's, so local load meets the limit prod would", () => {
    expect(LOCAL_STAGE_THROTTLE).toEqual(ENVIRONMENT_CONFIG.prod.stageThrottle);
  });
});
