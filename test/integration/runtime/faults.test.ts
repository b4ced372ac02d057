import { fail, fn, ok, runtime, stopAll } from './helpers';

afterEach(stopAll);

describe('LambdaRuntime failures', () => {
  test('timeout fails the invocation with Lambda\'s message and destroys the environment', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep', { timeoutSeconds: 0.3 })] });
    const warm = ok(await rt.invoke('sleep', { ms: 0 }));
    const t0 = performance.now();
    const r = fail(await rt.invoke('sleep', { ms: 5000 }));
    const elapsed = performance.now() - t0;
    expect(r.errorType).toBe('Timeout');
    expect(r.errorMessage).toBe('Task timed out after 0.30 seconds');
    expect(r.environmentId).toBe(warm.environmentId);
    expect(elapsed).toBeGreaterThanOrEqual(295);
    expect(elapsed).toBeLessThan(1500);
    expect(rt.stats().sleep!.timeouts).toBe(1);
    expect(rt.stats().sleep!.environments).toBe(0);
    const next = ok(await rt.invoke('sleep', { ms: 0 }));
    expect(next.environmentId).not.toBe(warm.environmentId);
    expect(next.initDurationMs).toBeGreaterThan(0);
    expect((next.payload as { invocations: number }).invocations).toBe(1);
  });

  test('overlapping invocations each time out at their own deadline; quick ones in between are untouched', async () => {
    const rt = runtime({ functions: [fn('sleep', 'sleep', { timeoutSeconds: 1 })] });
    (await Promise.all([1, 2, 3].map(() => rt.invoke('sleep', { ms: 800 })))).forEach(ok); // three warm environments
    const t0 = performance.now();
    const first = rt.invoke('sleep', { ms: 5000 }).then((r) => ({ r, at: performance.now() - t0 }));
    await new Promise((resolve) => setTimeout(resolve, 300));
    const second = rt.invoke('sleep', { ms: 5000 }).then((r) => ({ r, at: performance.now() - t0 }));
    const quick = ok(await rt.invoke('sleep', { ms: 50 }));
    expect(quick.payload).toMatchObject({ slept: 50 });
    const a = await first;
    const b = await second;
    expect(fail(a.r).errorType).toBe('Timeout');
    expect(fail(b.r).errorType).toBe('Timeout');
    expect(a.r.environmentId).toBeDefined();
    expect(a.at).toBeGreaterThanOrEqual(995);
    expect(a.at).toBeLessThan(1250); // not held back by the later invocation's deadline
    expect(b.at).toBeGreaterThanOrEqual(1295); // not cut short at the earlier one's
    expect(b.at).toBeLessThan(1700);
    expect(rt.stats().sleep!.timeouts).toBe(2);
    expect(rt.stats().sleep!.coldStarts).toBe(3);
  });

  test('a busy loop is stopped by the timeout and does not block the host', async () => {
    const rt = runtime({ functions: [fn('crash', 'crash', { timeoutSeconds: 0.2 })] });
    const r = fail(await rt.invoke('crash', { kind: 'loop' }));
    expect(r.errorType).toBe('Timeout');
    expect(r.errorMessage).toBe('Task timed out after 0.20 seconds');
    expect(ok(await rt.invoke('crash', { kind: 'none' })).payload).toBe('ok');
  });

  test.each([
    ['sync', 'TypeError: bad input'],
    ['reject', 'ValidationError: custom failure'],
    ['string', 'string: plain string'],
  ])('handler error (%s) fails the invocation, the environment survives', async (mode, message) => {
    const logs: string[] = [];
    const rt = runtime({ functions: [fn('throw', 'throw')], onLog: (_f, _e, line) => logs.push(line) });
    const first = fail(await rt.invoke('throw', { mode }));
    expect(first.errorType).toBe('HandlerError');
    expect(first.errorMessage).toBe(message);
    expect(first.initDurationMs).toBeGreaterThan(0);
    const second = ok(await rt.invoke('throw', { mode: 'none' }));
    expect(second.environmentId).toBe(first.environmentId);
    expect(second.initDurationMs).toBeUndefined();
    expect(second.payload).toEqual({ invocations: 2 });
    const s = rt.stats().throw!;
    expect(s.handlerErrors).toBe(1);
    expect(s.crashes).toBe(0);
    expect(s.coldStarts).toBe(1);
    expect(logs.some((l) => l.includes('\tERROR\tInvoke Error \t'))).toBe(true);
  });

  test.each([
    ['uncaught', 'Runtime.UncaughtException: thrown from a timer', 128],
    ['unhandled', 'Runtime.UnhandledPromiseRejection: Error: nobody catches me', 128],
    ['exit', 'Runtime.ExitError: Runtime exited with error: exit status 3', 128],
    ['oom', 'Runtime.OutOfMemory: Runtime exited with error: out of memory (48 MB)', 48],
  ])('%s crashes the environment; the next invocation gets a new one', async (kind, message, memoryMb) => {
    const rt = runtime({ functions: [fn('crash', 'crash', { memoryMb })] });
    const warm = ok(await rt.invoke('crash', { kind: 'none' }));
    const r = fail(await rt.invoke('crash', { kind }));
    expect(r.errorType).toBe('EnvironmentCrash');
    expect(r.errorMessage).toBe(message);
    expect(r.environmentId).toBe(warm.environmentId);
    let s = rt.stats().crash!;
    expect(s.crashes).toBe(1);
    expect(s.environments).toBe(0);
    expect(s.busy).toBe(0);
    const next = ok(await rt.invoke('crash', { kind: 'none' }));
    expect(next.payload).toBe('ok');
    expect(next.environmentId).not.toBe(warm.environmentId);
    expect(next.initDurationMs).toBeGreaterThan(0);
    s = rt.stats().crash!;
    expect(s.coldStarts).toBe(2);
    expect(s.environments).toBe(1);
  });

  test('module load that throws is an InitError, retried with a new environment each time', async () => {
    const rt = runtime({ functions: [fn('bad', 'init-throws')] });
    for (let i = 0; i < 2; i++) {
      const r = fail(await rt.invoke('bad', {}));
      expect(r.errorType).toBe('InitError');
      expect(r.errorMessage).toBe('Error: cannot load config');
      expect(r.initDurationMs).toBeGreaterThan(0);
    }
    const s = rt.stats().bad!;
    expect(s.coldStarts).toBe(2);
    expect(s.initErrors).toBe(2);
    expect(s.environments).toBe(0);
    expect(s.busy).toBe(0);
  });

  test('missing handler export and missing bundle are InitErrors', async () => {
    const rt = runtime({
      functions: [fn('noexport', 'echo', { handlerExport: 'nope' }), fn('nofile', 'does-not-exist')],
    });
    const a = fail(await rt.invoke('noexport', {}));
    expect(a.errorType).toBe('InitError');
    expect(a.errorMessage).toBe('Runtime.HandlerNotFound: index.nope is undefined or not exported');
    const b = fail(await rt.invoke('nofile', {}));
    expect(b.errorType).toBe('InitError');
    expect(b.errorMessage).toMatch(/^Runtime\.ImportModuleError: Cannot find module/);
  });

  test('a provisioned environment that fails init makes start() reject', async () => {
    const rt = runtime({ functions: [fn('bad', 'init-throws', { provisionedConcurrency: 1 })] });
    await expect(rt.start()).rejects.toThrow(/cannot load config/);
    expect(rt.stats().bad!.initErrors).toBe(1);
  });
});
