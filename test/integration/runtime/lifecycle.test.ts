import { readdirSync } from 'node:fs';
import type { InvokeResult } from '../../../local/runtime/types';
import { fail, fn, ok, runtime, sleep, stopAll } from './helpers';

const UUID = /^[0-9a-f]{8}-[0-9a-f]{4}-4[0-9a-f]{3}-[89ab][0-9a-f]{3}-[0-9a-f]{12}$/;

afterEach(stopAll);

describe('LambdaRuntime lifecycle', () => {
  test('cold start then warm reuse of the same environment', async () => {
    const rt = runtime({ functions: [fn('echo', 'echo', { memoryMb: 256, timeoutSeconds: 3 })] });
    await rt.start();
    expect(rt.stats().echo!.environments).toBe(0);

    const first = ok(await rt.invoke('echo', { n: 1 }));
    expect(first.initDurationMs).toBeGreaterThan(0);
    expect(first.durationMs).toBeGreaterThanOrEqual(0);
    const p1 = first.payload as { event: unknown; invocations: number; context: Record<string, unknown> };
    expect(p1.event).toEqual({ n: 1 });
    expect(p1.invocations).toBe(1);

    const second = ok(await rt.invoke('echo', { n: 2 }));
    expect(second.initDurationMs).toBeUndefined();
    expect(second.environmentId).toBe(first.environmentId);
    const p2 = second.payload as typeof p1;
    expect(p2.invocations).toBe(2); // module state survived: same warm environment

    const c = p2.context;
    expect(c.functionName).toBe('echo');
    expect(c.functionVersion).toBe('$LATEST');
    expect(c.invokedFunctionArn).toBe('arn:aws:lambda:us-east-1:000000000000:function:echo');
    expect(c.memoryLimitInMB).toBe('256');
    expect(c.awsRequestId).toMatch(UUID);
    expect(c.awsRequestId).not.toBe(p1.context.awsRequestId);
    expect(c.logGroupName).toBe('/aws/lambda/echo');
    expect(c.logStreamName).toMatch(/^\d{4}\/\d{2}\/\d{2}\/\[\$LATEST\][0-9a-f]{32}$/);
    expect(c.logStreamName).toBe(p1.context.logStreamName);
    expect(c.remainingMs).toBeGreaterThan(2500);
    expect(c.remainingMs).toBeLessThanOrEqual(3000);
    expect(c.callbackWaitsForEmptyEventLoop).toBe(true);

    const s = rt.stats().echo!;
    expect(s.invocations).toBe(2);
    expect(s.coldStarts).toBe(1);
    expect(s.initDurationsMs).toEqual([first.initDurationMs]);
    expect(s.environments).toBe(1);
    expect(s.busy).toBe(0);
  });

  test('concurrent invocations run in parallel in separate environments', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep')] });
    await rt.start();
    const t0 = performance.now();
    const results = await Promise.all([1, 2, 3].map(() => rt.invoke('sleep', { ms: 300 })));
    const elapsed = performance.now() - t0;
    const ids = results.map((r) => ok(r).environmentId);
    expect(new Set(ids).size).toBe(3);
    expect(results.every((r) => ok(r).initDurationMs !== undefined)).toBe(true);
    expect(elapsed).toBeLessThan(900); // serial would take >= 900 ms plus 3 inits
    const s = rt.stats().sleep!;
    expect(s.coldStarts).toBe(3);
    expect(s.environments).toBe(3);
  });

  test('busy count reflects invocations in flight', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep')] });
    const pending = [rt.invoke('sleep', { ms: 200 }), rt.invoke('sleep', { ms: 200 })];
    expect(rt.stats().sleep!.busy).toBe(2);
    await Promise.all(pending);
    expect(rt.stats().sleep!.busy).toBe(0);
  });

  test('an idle environment is picked most-recently-used', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep')] });
    const [a, b] = await Promise.all([rt.invoke('sleep', { ms: 50 }), rt.invoke('sleep', { ms: 250 })]);
    const longer = ok(b!).environmentId; // released last
    expect(ok(a!).environmentId).not.toBe(longer);
    for (let i = 0; i < 5; i++) {
      const r = ok(await rt.invoke('sleep', { ms: 0 }));
      expect(r.environmentId).toBe(longer);
    }
  });

  test('an environment is free once its response is posted, even before the busy host thread handles the response', async () => {
    const rt = runtime({ functions: [fn('echo', 'echo')] });
    const warm = ok(await rt.invoke('echo', { n: 0 }));
    const a = rt.invoke('echo', { n: 1 });
    const until = Date.now() + 300;
    while (Date.now() < until); // this thread stays busy while the environment answers
    const b = rt.invoke('echo', { n: 2 });
    const [ra, rb] = [ok(await a), ok(await b)];
    expect((ra.payload as { event: unknown }).event).toEqual({ n: 1 });
    expect((rb.payload as { event: unknown }).event).toEqual({ n: 2 });
    expect(ra.environmentId).toBe(warm.environmentId);
    expect(rb.environmentId).toBe(warm.environmentId); // not a cold start next to a finished environment
    expect(rt.stats().echo!.coldStarts).toBe(1);
    expect(rt.stats().echo!.busy).toBe(0);
  });

  test('responses taken early never place an invocation twice: bursts over a busy host thread, init slots queued', async () => {
    const rt = runtime({ functions: [fn('echo', 'echo'), fn('sleep', 'sleep')], maxConcurrentInits: 1 });
    const results: Promise<{ i: number; r: InvokeResult }>[] = [];
    let minBusy = 0;
    for (let burst = 0; burst < 20; burst++) {
      for (let k = 0; k < 10; k++) {
        const i = burst * 10 + k;
        results.push(rt.invoke(i % 3 === 0 ? 'sleep' : 'echo', i % 3 === 0 ? { ms: 5, i } : { i }).then((r) => ({ i, r })));
        minBusy = Math.min(minBusy, rt.stats().echo!.busy, rt.stats().sleep!.busy);
      }
      const until = Date.now() + 15;
      while (Date.now() < until); // responses pile up unhandled; the next burst takes them early
      await new Promise((resolve) => setImmediate(resolve));
    }
    for (const { i, r } of await Promise.all(results)) {
      const payload = ok(r).payload as { event?: { i: number }; slept?: number };
      if (i % 3 === 0) expect(payload.slept).toBe(5);
      else expect(payload.event).toEqual({ i });
    }
    expect(minBusy).toBeGreaterThanOrEqual(0);
    const s = rt.stats();
    expect(s.echo!.busy + s.sleep!.busy).toBe(0);
    expect(s.echo!.invocations + s.sleep!.invocations).toBe(200);
  });

  test('two environments answered while an invocation waits for an init slot: it runs once, on one of them', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep', { provisionedConcurrency: 2 })], maxConcurrentInits: 1 });
    await rt.start();
    const x1 = rt.invoke('sleep', { ms: 50, n: 1 }); // provisioned A, answers during the busy wait below
    const x2 = rt.invoke('sleep', { ms: 50, n: 2 }); // provisioned B, likewise
    const x3 = rt.invoke('sleep', { ms: 0, n: 3 }); // a cold start takes the only init slot
    const x4 = rt.invoke('sleep', { ms: 0, n: 4 }); // waits
    const until = Date.now() + 600;
    while (Date.now() < until); // A and B answer, unhandled, while this thread is busy
    const all = await Promise.all([x1, x2, x3, x4]);
    all.forEach(ok);
    expect(ok(all[3]!).environmentId).not.toBe(ok(all[2]!).environmentId); // an answered one, not the cold start
    await sleep(100);
    const st = rt.stats().sleep!;
    expect(st.busy).toBe(0);
    expect(st.invocations).toBe(4);
    // x4 ran exactly once: the environments' module state counted one invocation each after the first three.
    const counts = all.map((r) => (ok(r).payload as { invocations: number }).invocations);
    expect(counts.reduce((a, b) => a + b, 0)).toBeLessThanOrEqual(5);
  });

  test('random placement spreads sequential invocations over warm environments', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep')], placement: 'random' });
    // Long enough that the third and fourth inits (two at a time, maxConcurrentInits) finish before the first two
    // environments free up: with 100 ms a loaded machine gave three environments, not four.
    await Promise.all([1, 2, 3, 4].map(() => rt.invoke('sleep', { ms: 1500 })));
    const seen = new Set<string>();
    for (let i = 0; i < 60; i++) seen.add(ok(await rt.invoke('sleep', { ms: 0 })).environmentId);
    expect(seen.size).toBeGreaterThan(1);
    expect(rt.stats().sleep!.coldStarts).toBe(4);
  });

  test('round-robin placement cycles through every idle environment: consecutive invocations never share one', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep')], placement: 'round-robin' });
    await Promise.all([1, 2, 3, 4].map(() => rt.invoke('sleep', { ms: 1500 }))); // four warm environments (see above)
    const ids: string[] = [];
    for (let i = 0; i < 12; i++) ids.push(ok(await rt.invoke('sleep', { ms: 0 })).environmentId);
    for (let i = 0; i + 4 <= ids.length; i++) expect(new Set(ids.slice(i, i + 4)).size).toBe(4);
    expect(ids.slice(4, 8)).toEqual(ids.slice(0, 4)); // the same cycle, over and over
    expect(ids.slice(8, 12)).toEqual(ids.slice(0, 4));
    expect(rt.stats().sleep!.coldStarts).toBe(4);
  });

  test('round-robin placement still takes provisioned environments before on-demand ones', async () => {
    const rt = runtime({ functions: [fn('env', 'env-echo', { provisionedConcurrency: 2 })], placement: 'round-robin' });
    await rt.start();
    await Promise.all([1, 2, 3].map(() => rt.invoke('env', {}))); // two provisioned and one on-demand environment
    const types: string[] = [];
    const ids = new Set<string>();
    for (let i = 0; i < 6; i++) {
      const r = ok(await rt.invoke('env', {}));
      ids.add(r.environmentId);
      types.push((r.payload as Record<string, string>).AWS_LAMBDA_INITIALIZATION_TYPE!);
    }
    expect(new Set(types)).toEqual(new Set(['provisioned-concurrency']));
    expect(ids.size).toBe(2);
  });

  test('an unknown placement is refused', () => {
    expect(() => runtime({ functions: [], placement: 'sticky' as never })).toThrow(/Unknown placement: sticky/);
  });

  test('reserved concurrency: over the limit is throttled immediately, not queued', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep', { reservedConcurrency: 2 })] });
    const a = rt.invoke('sleep', { ms: 300 });
    const b = rt.invoke('sleep', { ms: 300 });
    const t0 = performance.now();
    const c = fail(await rt.invoke('sleep', { ms: 0 }));
    expect(performance.now() - t0).toBeLessThan(50);
    expect(c.errorType).toBe('Throttled');
    expect(c.errorMessage).toContain('ReservedFunctionConcurrentInvocationLimitExceeded');
    ok(await a);
    ok(await b);
    // capacity is back once the invocations finish
    expect(ok(await rt.invoke('sleep', { ms: 0 })).initDurationMs).toBeUndefined();
    const s = rt.stats().sleep!;
    expect(s.throttles).toBe(1);
    expect(s.invocations).toBe(3);
  });

  test('account concurrency is shared across functions; idle environments do not count', async () => {
    const rt = runtime({ functions: [fn('a', 'sleep'), fn('b', 'sleep')], accountConcurrency: 2 });
    ok(await rt.invoke('b', { ms: 0 })); // leaves an idle environment behind
    const a1 = rt.invoke('a', { ms: 300 });
    const a2 = rt.invoke('a', { ms: 300 });
    const b = fail(await rt.invoke('b', { ms: 0 }));
    expect(b.errorType).toBe('Throttled');
    expect(b.errorMessage).toContain('ConcurrentInvocationLimitExceeded');
    await Promise.all([a1, a2]);
    ok(await rt.invoke('b', { ms: 0 }));
    expect(rt.stats().b!.throttles).toBe(1);
    expect(rt.stats().a!.throttles).toBe(0);
  });

  test('reserved concurrency is carved out of the account pool', async () => {
    const rt = runtime({
      functions: [fn('reserved', 'sleep', { reservedConcurrency: 2 }), fn('other', 'sleep')],
      accountConcurrency: 3,
    });
    const o1 = rt.invoke('other', { ms: 200 });
    expect(fail(await rt.invoke('other', { ms: 0 })).errorType).toBe('Throttled'); // unreserved pool is 1
    const r = await Promise.all([rt.invoke('reserved', { ms: 0 }), rt.invoke('reserved', { ms: 0 })]);
    r.forEach(ok);
    ok(await o1);
    expect(() => runtime({ functions: [fn('x', 'sleep', { reservedConcurrency: 5 })], accountConcurrency: 4 })).toThrow(/exceeds/);
  });

  test('provisioned environments are initialized by start() and report no init duration', async () => {
    const rt = runtime({ functions: [fn('env', 'env-echo', { provisionedConcurrency: 2 })] });
    await rt.start();
    expect(rt.stats().env!.environments).toBe(2);
    expect(rt.stats().env!.coldStarts).toBe(0);

    const [a, b, c] = await Promise.all([rt.invoke('env', {}), rt.invoke('env', {}), rt.invoke('env', {})]);
    const provisioned = [ok(a!), ok(b!)];
    for (const r of provisioned) {
      expect(r.initDurationMs).toBeUndefined();
      expect((r.payload as Record<string, string>).AWS_LAMBDA_INITIALIZATION_TYPE).toBe('provisioned-concurrency');
    }
    // spillover beyond the provisioned environments is an on-demand cold start
    const spill = ok(c!);
    expect(spill.initDurationMs).toBeGreaterThan(0);
    expect((spill.payload as Record<string, string>).AWS_LAMBDA_INITIALIZATION_TYPE).toBe('on-demand');
    const s = rt.stats().env!;
    expect(s.coldStarts).toBe(1);
    expect(s.initDurationsMs).toHaveLength(1);
    expect(s.environments).toBe(3);

    // provisioned environments are preferred over the warm on-demand one
    const next = ok(await rt.invoke('env', {}));
    expect((next.payload as Record<string, string>).AWS_LAMBDA_INITIALIZATION_TYPE).toBe('provisioned-concurrency');
  });

  test('environment variables and handler export', async () => {
    process.env.RUNTIME_TEST_PARENT_VAR = 'from-parent';
    const rt = runtime({
      region: 'eu-west-1',
      functions: [
        fn('env', 'env-echo', { memoryMb: 512, environment: { TABLE_NAME: 'sessions', AWS_REGION: 'ignored' } }),
        fn('other', 'env-echo', { handlerExport: 'other' }),
      ],
    });
    const e = ok(await rt.invoke('env', { set: 'leak?' })).payload as Record<string, string>;
    delete process.env.RUNTIME_TEST_PARENT_VAR;
    expect(e.TABLE_NAME).toBe('sessions');
    expect(e.AWS_LAMBDA_FUNCTION_NAME).toBe('env');
    expect(e.AWS_LAMBDA_FUNCTION_MEMORY_SIZE).toBe('512');
    expect(e.AWS_LAMBDA_FUNCTION_VERSION).toBe('$LATEST');
    expect(e.AWS_REGION).toBe('eu-west-1');
    expect(e.AWS_DEFAULT_REGION).toBe('eu-west-1');
    expect(e.AWS_EXECUTION_ENV).toBe('AWS_Lambda_nodejs22.x');
    expect(e._HANDLER).toBe('index.handler');
    expect(e.AWS_LAMBDA_LOG_GROUP_NAME).toBe('/aws/lambda/env');
    expect(e.AWS_LAMBDA_INITIALIZATION_TYPE).toBe('on-demand');
    expect(e.PATH).toBe(process.env.PATH);
    // The host's other variables stay out, as on Lambda (keys in a developer's shell never reach a function).
    expect(e.RUNTIME_TEST_PARENT_VAR).toBeUndefined();
    // the environment has its own copy of process.env
    expect(process.env.SET_BY_HANDLER).toBeUndefined();

    const o = ok(await rt.invoke('other', {}));
    expect(o.payload).toBe('other export');
  });

  test('callback-style handlers', async () => {
    const rt = runtime({ functions: [fn('cb', 'callback')] });
    expect(ok(await rt.invoke('cb', { n: 21 })).payload).toEqual({ doubled: 42 });
    const r = fail(await rt.invoke('cb', { fail: true }));
    expect(r.errorType).toBe('HandlerError');
    expect(r.errorMessage).toBe('Error: callback failure');
  });

  test('an event that cannot be cloned is rejected without running the handler', async () => {
    const rt = runtime({ functions: [fn('echo', 'echo')] });
    ok(await rt.invoke('echo', {}));
    const r = fail(await rt.invoke('echo', { f: () => 1 }));
    expect(r.errorMessage).toMatch(/^Could not serialize event/);
    const after = ok(await rt.invoke('echo', {}));
    expect((after.payload as { invocations: number }).invocations).toBe(2);
    expect(rt.stats().echo!.busy).toBe(0);
  });

  test('each environment reports its OS thread, a thread of this process (per-thread CPU attribution)', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep'), fn('echo', 'echo')] });
    await Promise.all([rt.invoke('sleep', { ms: 50 }), rt.invoke('sleep', { ms: 50 }), rt.invoke('echo', {})]);
    const threads = rt.threads();
    expect(threads.map((t) => t.functionName).sort()).toEqual(['echo', 'sleep', 'sleep']);
    expect(new Set(threads.map((t) => t.environmentId)).size).toBe(3);
    if (process.platform === 'linux') {
      const mine = new Set(readdirSync('/proc/self/task').map(Number));
      for (const t of threads) expect(mine.has(t.tid)).toBe(true);
      expect(new Set(threads.map((t) => t.tid)).size).toBe(3);
      expect(threads.some((t) => t.tid === process.pid)).toBe(false);
    }
    await rt.stop();
    expect(rt.threads()).toEqual([]);
  });

  test('unknown function', async () => {
    const rt = runtime({ functions: [] });
    const r = fail(await rt.invoke('nope', {}));
    expect(r.errorType).toBe('UnknownFunction');
  });

  test('idle on-demand environments are reclaimed, provisioned ones are kept', async () => {
    const rt = runtime({ functions: [fn('p', 'sleep', { provisionedConcurrency: 1 }), fn('d', 'sleep')], idleReclaimMs: 150 });
    await rt.start();
    const first = ok(await rt.invoke('d', { ms: 0 }));
    expect(rt.stats().d!.environments).toBe(1);
    await sleep(500);
    expect(rt.stats().d!.environments).toBe(0);
    expect(rt.stats().p!.environments).toBe(1);
    const again = ok(await rt.invoke('d', { ms: 0 }));
    expect(again.initDurationMs).toBeGreaterThan(0);
    expect(again.environmentId).not.toBe(first.environmentId);
    expect(ok(await rt.invoke('p', { ms: 0 })).initDurationMs).toBeUndefined();
  });

  test('stop() terminates environments and fails invocations in flight', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep')] });
    ok(await rt.invoke('sleep', { ms: 0 }));
    const inflight = rt.invoke('sleep', { ms: 5000 });
    await sleep(50);
    await rt.stop();
    const r = fail(await inflight);
    expect(r.errorType).toBe('EnvironmentCrash');
    expect(rt.stats().sleep!.environments).toBe(0);
  });

  test('sustains a few thousand invocations per second', async () => {
    const rt = runtime({ functions: [fn('echo', 'echo')] });
    const n = 5000;
    const t0 = performance.now();
    let batch: Promise<unknown>[] = [];
    for (let i = 0; i < n; i++) {
      batch.push(rt.invoke('echo', { i }));
      if (batch.length === 16) {
        await Promise.all(batch);
        batch = [];
      }
    }
    await Promise.all(batch);
    const perSecond = n / ((performance.now() - t0) / 1000);
    expect(rt.stats().echo!.invocations).toBe(n);
    expect(perSecond).toBeGreaterThan(1000);
  });
});
