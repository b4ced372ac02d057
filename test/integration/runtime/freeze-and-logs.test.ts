import { fn, ok, runtime, sleep, stopAll } from './helpers';

afterEach(stopAll);

interface Check {
  firedBefore: number;
  firedAfter: number;
  firedAt: number | null;
}

describe('LambdaRuntime freeze semantics', () => {
  test('a timer left by a handler does not fire while the environment is idle, only during its next invocation', async () => {
    const logs: { at: number; line: string }[] = [];
    const rt = runtime({
      functions: [fn('timer', 'timer')],
      onLog: (_f, _e, line) => logs.push({ at: Date.now(), line }),
    });
    const scheduled = ok(await rt.invoke('timer', { action: 'schedule', delayMs: 50 }));

    await sleep(500); // ten times the delay: on a live event loop the timer would have fired long ago
    expect(logs.filter((l) => l.line.endsWith('\ttimer fired'))).toHaveLength(0);

    const checkStart = Date.now();
    const check = ok(await rt.invoke('timer', { action: 'check', waitMs: 20 }));
    expect(check.environmentId).toBe(scheduled.environmentId);
    const p = check.payload as Check;
    expect(p.firedBefore).toBe(0);
    expect(p.firedAfter).toBe(1);
    expect(p.firedAt).not.toBeNull();
    expect(p.firedAt!).toBeGreaterThanOrEqual(checkStart);

    await sleep(50); // let the log line travel
    const fired = logs.filter((l) => l.line.endsWith('\ttimer fired'));
    expect(fired).toHaveLength(1);
    expect(fired[0]!.at).toBeGreaterThanOrEqual(checkStart);
  });

  test('the frozen timer only runs in its own environment, not in a sibling', async () => {
    const rt = runtime({ functions: [fn('timer', 'timer')] });
    // two environments: A schedules (released first), B runs a longer check (released last = MRU)
    const [a, b] = await Promise.all([
      rt.invoke('timer', { action: 'schedule', delayMs: 10 }),
      rt.invoke('timer', { action: 'check', waitMs: 200 }),
    ]);
    expect(ok(a!).environmentId).not.toBe(ok(b!).environmentId);
    await sleep(100);
    const onB = ok(await rt.invoke('timer', { action: 'check', waitMs: 20 }));
    expect(onB.environmentId).toBe(ok(b!).environmentId);
    expect((onB.payload as Check).firedAfter).toBe(0);
  });

  test('timers run normally while the invocation is in progress', async () => {
    const sleepRt = runtime({ functions: [fn('sleep', 'sleep')] });
    const s = ok(await sleepRt.invoke('sleep', { ms: 30 }));
    expect(s.payload).toEqual({ slept: 30, invocations: 1 });
    expect(s.durationMs).toBeGreaterThanOrEqual(29);
  });
});

describe('LambdaRuntime logs', () => {
  test('stdout and stderr lines reach onLog with the function and environment, in Lambda text format', async () => {
    const logs: [string, string, string][] = [];
    const rt = runtime({ functions: [fn('echo', 'echo')], onLog: (f, e, line) => logs.push([f, e, line]) });
    const r = ok(await rt.invoke('echo', { log: 'abc' }));
    await sleep(50);
    const requestId = (r.payload as { context: { awsRequestId: string } }).context.awsRequestId;
    const lines = logs.map(([, , l]) => l);
    expect(logs.every(([f, e]) => f === 'echo' && e === r.environmentId)).toBe(true);
    expect(lines).toHaveLength(3);
    expect(lines).toContainEqual(expect.stringMatching(new RegExp(`^\\d{4}-\\d{2}-\\d{2}T[\\d:.]+Z\\t${requestId}\\tINFO\\thello abc$`)));
    expect(lines.filter((l) => l.endsWith(`\t${requestId}\tERROR\tmulti\rline`))).toHaveLength(1);
    expect(lines).toContain('raw stderr abc');
  });

  test('without onLog, output is dropped and invocations still complete', async () => {
    const rt = runtime({ functions: [fn('echo', 'echo')] });
    for (let i = 0; i < 50; i++) ok(await rt.invoke('echo', { log: i }));
    expect(rt.stats().echo!.invocations).toBe(50);
  });
});
