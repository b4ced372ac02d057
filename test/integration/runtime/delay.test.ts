/**
 * Invocation delay injection (LambdaRuntime.delayInvocations): a held invocation reaches its environment late (a cold
 * start on AWS, a queue here), is overtaken by later ones, counts toward concurrency meanwhile, and keeps its event.
 */
import WebSocket from 'ws';
import { WebSocketGateway } from '../../../local/gateway/gateway';
import type { InvokeResult } from '../../../local/runtime/types';
import { fail, fn, ok, runtime, sleep, stopAll } from './helpers';

afterEach(stopAll);

const isSlow = (e: unknown) => (e as { slow?: boolean }).slow === true;

describe('LambdaRuntime.delayInvocations', () => {
  test('a held invocation is overtaken by later ones and reaches the handler unchanged, after the delay', async () => {
    const rt = runtime({ functions: [fn('clock', 'clock')] });
    ok(await rt.invoke('clock', {})); // warm: the delay is all there is
    const handle = rt.delayInvocations({ functionName: 'clock', match: isSlow, delayMs: 300 });
    const sent = Date.now();
    const event = { slow: true, requestContext: { requestTimeEpoch: sent }, when: new Date(0).toISOString() };
    const order: string[] = [];
    const slow = rt.invoke('clock', event).then((r) => (order.push('slow'), r));
    expect(handle.waiting).toBe(1);
    const fast = rt.invoke('clock', { n: 1 }).then((r) => (order.push('fast'), r));
    const f = ok(await fast);
    expect(Date.now() - sent).toBeLessThan(250);
    const s = ok(await slow);
    expect(order).toEqual(['fast', 'slow']);
    const payload = s.payload as { event: unknown; startedAt: number };
    expect(payload.event).toEqual(event);
    expect(payload.startedAt - sent).toBeGreaterThanOrEqual(290);
    // The delay is spent before the environment: it is not the invocation's duration.
    expect(s.durationMs).toBeLessThan(250);
    expect(f.environmentId).toBe(s.environmentId); // the same warm environment, one after the other
    expect(handle.delayed).toBe(1);
    expect(handle.waiting).toBe(0);
    expect(handle.active).toBe(true);
  });

  test('a held invocation counts toward concurrency: the function is throttled at its limit meanwhile', async () => {
    const rt = runtime({ functions: [fn('clock', 'clock', { reservedConcurrency: 1 })] });
    rt.delayInvocations({ functionName: 'clock', match: isSlow, delayMs: 300 });
    const held = rt.invoke('clock', { slow: true });
    expect(rt.stats().clock!.busy).toBe(1);
    const over = fail(await rt.invoke('clock', {}));
    expect(over.errorType).toBe('Throttled');
    ok(await held);
    expect(rt.stats().clock!.busy).toBe(0);
    ok(await rt.invoke('clock', {}));
    expect(rt.stats().clock!.throttles).toBe(1);
  });

  test('count holds that many, stop() holds no more, settled() waits for the held ones', async () => {
    const rt = runtime({ functions: [fn('clock', 'clock')] });
    ok(await rt.invoke('clock', {}));
    const two = rt.delayInvocations({ functionName: 'clock', delayMs: 200, count: 2 });
    const t0 = Date.now();
    const results = [rt.invoke('clock', { i: 1 }), rt.invoke('clock', { i: 2 }), rt.invoke('clock', { i: 3 })];
    expect(two.delayed).toBe(2);
    expect(two.active).toBe(false);
    const third = ok(await results[2]!);
    expect((third.payload as { startedAt: number }).startedAt - t0).toBeLessThan(150);
    await two.settled();
    expect(Date.now() - t0).toBeGreaterThanOrEqual(190);
    for (const r of await Promise.all(results)) ok(r);

    const open = rt.delayInvocations({ functionName: 'clock', delayMs: 10_000 });
    open.stop();
    await open.settled();
    const t1 = Date.now();
    ok(await rt.invoke('clock', {}));
    expect(Date.now() - t1).toBeLessThan(1000);
    expect(open.delayed).toBe(0);
  });

  test('a match that throws holds nothing; an unknown function or a bad delay is refused', async () => {
    const rt = runtime({ functions: [fn('clock', 'clock')] });
    const h = rt.delayInvocations({ functionName: 'clock', delayMs: 5000, match: () => { throw new Error('bad matcher'); } });
    const t0 = Date.now();
    ok(await rt.invoke('clock', {}));
    expect(Date.now() - t0).toBeLessThan(3000);
    expect(h.delayed).toBe(0);
    expect(() => rt.delayInvocations({ functionName: 'nope', delayMs: 1 })).toThrow(/no function nope/);
    expect(() => rt.delayInvocations({ functionName: 'clock', delayMs: -1 })).toThrow(RangeError);
    expect(() => rt.delayInvocations({ functionName: 'clock', delayMs: 1, count: 0 })).toThrow(RangeError);
  });

  test('stopping the runtime fails held invocations as EnvironmentCrash', async () => {
    const rt = runtime({ functions: [fn('clock', 'clock')] });
    const h = rt.delayInvocations({ functionName: 'clock', delayMs: 10_000 });
    const held = rt.invoke('clock', {});
    await sleep(20);
    await rt.stop();
    const r = fail(await held);
    expect(r.errorType).toBe('EnvironmentCrash');
    expect(rt.stats().clock!.busy).toBe(0);
    expect(h.waiting).toBe(0);
  });

  test('through the gateway: a held message keeps the requestTimeEpoch of its arrival, and the next one overtakes it', async () => {
    const rt = runtime({ functions: [fn('media', 'clock'), fn('fallback', 'clock')] });
    const results: InvokeResult[] = [];
    const gateway = new WebSocketGateway({
      invoker: { invoke: async (name, event) => { const r = await rt.invoke(name, event); results.push(r); return r; } },
      routes: [{ routeKey: '$default', functionName: 'fallback' }, { routeKey: 'media', functionName: 'media' }],
    });
    const { url } = await gateway.start();
    try {
      ok(await rt.invoke('media', {}));
      results.length = 0;
      const handle = rt.delayInvocations({
        functionName: 'media',
        match: (e) => JSON.parse((e as { body: string }).body).n === 1,
        delayMs: 400,
        count: 1,
      });
      const ws = new WebSocket(url);
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      const sentAt = Date.now();
      ws.send(JSON.stringify({ event: 'media', n: 1 }));
      ws.send(JSON.stringify({ event: 'media', n: 2 }));
      await handle.settled();
      while (results.length < 2) await sleep(10);
      ws.close();
      const seen = results.map((r) => ok(r).payload as { event: { body: string; requestContext: { requestTimeEpoch: number } }; startedAt: number });
      expect(seen.map((p) => JSON.parse(p.event.body).n)).toEqual([2, 1]);
      const held = seen[1]!;
      expect(held.event.requestContext.requestTimeEpoch).toBeGreaterThanOrEqual(sentAt - 5);
      expect(held.event.requestContext.requestTimeEpoch).toBeLessThan(sentAt + 200);
      expect(held.startedAt - held.event.requestContext.requestTimeEpoch).toBeGreaterThanOrEqual(390);
    } finally {
      await gateway.stop();
    }
  });
});

describe('LambdaRuntime.throttleInvocations', () => {
  test('refuses matching invocations as Throttled without running them, up to count; stop() refuses no more', async () => {
    const rt = runtime({ functions: [fn('clock', 'clock')] });
    ok(await rt.invoke('clock', {}));
    const handle = rt.throttleInvocations({ functionName: 'clock', match: isSlow, count: 2 });
    const refused = fail(await rt.invoke('clock', { slow: true }));
    expect(refused).toMatchObject({ errorType: 'Throttled', errorMessage: expect.stringMatching(/^Rate Exceeded\./) });
    ok(await rt.invoke('clock', { slow: false })); // not matched: runs
    fail(await rt.invoke('clock', { slow: true }));
    ok(await rt.invoke('clock', { slow: true })); // count reached
    expect(handle.throttled).toBe(2);
    expect(rt.stats().clock).toMatchObject({ throttles: 2, invocations: 3, busy: 0 });

    const open = rt.throttleInvocations({ functionName: 'clock' });
    fail(await rt.invoke('clock', {}));
    open.stop();
    ok(await rt.invoke('clock', {}));
    expect(open.throttled).toBe(1);
    const throwing = rt.throttleInvocations({ functionName: 'clock', match: () => { throw new Error('bad matcher'); } });
    ok(await rt.invoke('clock', {}));
    expect(throwing.throttled).toBe(0);
    expect(() => rt.throttleInvocations({ functionName: 'nope' })).toThrow(/no function nope/);
    expect(() => rt.throttleInvocations({ functionName: 'clock', count: 0 })).toThrow(RangeError);
  });

  test('through the gateway: the client hears API Gateway\'s error message for the refused one, and the connection stays open', async () => {
    const rt = runtime({ functions: [fn('media', 'clock'), fn('fallback', 'clock')] });
    const gateway = new WebSocketGateway({
      invoker: rt,
      routes: [{ routeKey: '$default', functionName: 'fallback' }, { routeKey: 'media', functionName: 'media' }],
    });
    const { url } = await gateway.start();
    try {
      ok(await rt.invoke('media', {}));
      rt.throttleInvocations({ functionName: 'media', match: (e) => JSON.parse((e as { body: string }).body).n === 1 });
      const ws = new WebSocket(url);
      const heard: { text: string; binary: boolean }[] = [];
      ws.on('message', (data, binary) => heard.push({ text: data.toString(), binary }));
      await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
      ws.send(JSON.stringify({ event: 'media', n: 1 }));
      ws.send(JSON.stringify({ event: 'media', n: 2 }));
      while (heard.length < 1 || rt.stats().media!.invocations < 2) await sleep(10); // the refused one is not an invocation
      await sleep(100);
      expect(heard).toHaveLength(1);
      expect(heard[0]!.binary).toBe(false);
      expect(JSON.parse(heard[0]!.text)).toEqual({ message: 'Internal server error', connectionId: expect.any(String), requestId: expect.any(String) });
      expect(ws.readyState).toBe(WebSocket.OPEN);
      ws.close();
    } finally {
      await gateway.stop();
    }
  });
});
