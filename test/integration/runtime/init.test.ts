import { join } from 'node:path';
import { fn, FIXTURES, ok, runtime, stopAll } from './helpers';

afterEach(stopAll);

describe('ES module bundles', () => {
  it('finish their top-level await during init, before the first invocation', async () => {
    const rt = runtime({ functions: [fn('primed', 'primed', { bundlePath: join(FIXTURES, 'primed.mjs') })] });
    await rt.start();
    const r = ok(await rt.invoke('primed', {}));
    const payload = r.payload as { primedAt: number; invokedAt: number };
    expect(payload.primedAt).toBeLessThanOrEqual(payload.invokedAt);
    expect(r.initDurationMs).toBeGreaterThanOrEqual(150);
    expect(r.durationMs).toBeLessThan(100); // the wait was paid in init, not in the invocation
  });

  it('are primed before a provisioned environment takes traffic', async () => {
    const rt = runtime({ functions: [fn('primed', 'primed', { bundlePath: join(FIXTURES, 'primed.mjs'), provisionedConcurrency: 1 })] });
    await rt.start();
    const r = ok(await rt.invoke('primed', {}));
    expect(r.initDurationMs).toBeUndefined();
    expect(r.durationMs).toBeLessThan(100);
  });
});

describe('init cap (local deviation: all environments share this machine)', () => {
  it('runs at most maxConcurrentInits inits at once; the other invocations wait and all succeed', async () => {
    const rt = runtime({ functions: [fn('slow', 'slow-init')], maxConcurrentInits: 1 });
    await rt.start();
    const results = await Promise.all(Array.from({ length: 4 }, () => rt.invoke('slow', { ms: 300 })).map(async (p) => ok(await p)));
    const inits = [...new Map(results.map((r) => [r.environmentId, r.payload as { initStart: number; initEnd: number }])).values()].sort(
      (a, b) => a.initStart - b.initStart,
    );
    expect(inits.length).toBeGreaterThanOrEqual(2);
    for (let i = 1; i < inits.length; i++) expect(inits[i]!.initStart).toBeGreaterThanOrEqual(inits[i - 1]!.initEnd);
    expect(rt.stats().slow!.throttles).toBe(0);
  });

  it('lets inits overlap when the cap allows it', async () => {
    const rt = runtime({ functions: [fn('slow', 'slow-init')], maxConcurrentInits: 4 });
    await rt.start();
    const results = await Promise.all(Array.from({ length: 4 }, () => rt.invoke('slow', { ms: 300 })).map(async (p) => ok(await p)));
    const inits = results.map((r) => r.payload as { initStart: number; initEnd: number }).sort((a, b) => a.initStart - b.initStart);
    expect(inits.some((x, i) => i > 0 && x.initStart < inits[i - 1]!.initEnd)).toBe(true);
  });

  it('still throttles at the concurrency limit', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep', { reservedConcurrency: 1 })], maxConcurrentInits: 1 });
    await rt.start();
    const [a, b] = await Promise.all([rt.invoke('sleep', { ms: 100 }), rt.invoke('sleep', { ms: 100 })]);
    expect([a.ok, b.ok].sort()).toEqual([false, true]);
  });
});
