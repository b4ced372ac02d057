import WebSocket from 'ws';
import { closed, collect, connect, nextMessage, sleep, startGateway, stopAll } from './helpers';

afterEach(stopAll);

const ok = (): unknown => ({ statusCode: 200 });

describe('MESSAGE events and route selection', () => {
  it('delivers the MESSAGE event shape API Gateway sends', async () => {
    const { url, invoker, port } = await startGateway({ connect: ok, media: () => ({ statusCode: 200, body: 'ignored' }) });
    const ws = await connect(url, { headers: { 'User-Agent': 'ua/2' } });
    const received = collect(ws);
    const body = JSON.stringify({ event: 'media', media: { payload: 'AAAA' } });
    ws.send(body);
    await invoker.waitFor((c) => c.some((x) => x.functionName === 'media'));
    const ev = invoker.callsTo('media')[0]!.event;
    const connectRc = invoker.callsTo('connect')[0]!.event.requestContext;
    expect(Object.keys(ev).sort()).toEqual(['body', 'isBase64Encoded', 'requestContext']);
    expect(ev.body).toBe(body);
    expect(ev.isBase64Encoded).toBe(false);
    const rc = ev.requestContext;
    expect(Object.keys(rc).sort()).toEqual(
      [
        'routeKey', 'messageId', 'eventType', 'extendedRequestId', 'requestTime', 'messageDirection', 'stage',
        'connectedAt', 'requestTimeEpoch', 'identity', 'requestId', 'domainName', 'connectionId', 'apiId',
      ].sort(),
    );
    expect(rc).toMatchObject({
      routeKey: 'media',
      eventType: 'MESSAGE',
      messageDirection: 'IN',
      stage: 'local',
      domainName: `127.0.0.1:${port}`,
      identity: { sourceIp: '127.0.0.1' },
      connectionId: connectRc.connectionId,
      connectedAt: connectRc.connectedAt,
      apiId: connectRc.apiId,
    });
    expect(rc.messageId).toMatch(/^[A-Za-z0-9_-]{15}=$/);
    expect(rc.requestId).not.toBe(connectRc.requestId);
    expect(rc.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    // No route responses: the integration's return value never reaches the client.
    await sleep(100);
    expect(received).toHaveLength(0);
  });

  it('routes by $request.body.event and falls back to $default', async () => {
    const { url, invoker, gateway } = await startGateway({ connect: ok, media: () => 1, start: () => 1, fallback: () => 1 });
    const ws = await connect(url);
    ws.send(JSON.stringify({ event: 'start' }));
    ws.send(JSON.stringify({ event: 'unknown' }));
    ws.send('not json {');
    ws.send(JSON.stringify({ other: 'media' }));
    ws.send(JSON.stringify({ event: '$connect' }));
    ws.send(Buffer.from([0, 1, 2, 255]), { binary: true });
    await invoker.waitFor((c) => c.length === 7);
    expect(invoker.callsTo('start')).toHaveLength(1);
    expect(invoker.callsTo('connect')).toHaveLength(1);
    const defaults = invoker.callsTo('fallback').map((c) => c.event);
    expect(defaults.map((e) => e.requestContext.routeKey)).toEqual(['$default', '$default', '$default', '$default', '$default']);
    expect(defaults.map((e) => e.isBase64Encoded)).toEqual([false, false, false, false, true]);
    expect(defaults[1].body).toBe('not json {');
    expect(defaults[4].body).toBe(Buffer.from([0, 1, 2, 255]).toString('base64'));
    expect(gateway.stats()).toMatchObject({ messagesIn: 6, messagesOut: 0, connectionsOpen: 1, connectionsAccepted: 1, integrationErrors: 0 });
  });

  it('generalizes the selection expression to nested paths', async () => {
    const { url, invoker } = await startGateway(
      { fallback: () => 1, go: () => 1 },
      { routes: [{ routeKey: 'go', functionName: 'go' }, { routeKey: '$default', functionName: 'fallback' }], routeSelectionExpression: '$request.body.meta.action' },
    );
    const ws = await connect(url);
    ws.send(JSON.stringify({ meta: { action: 'go' } }));
    ws.send(JSON.stringify({ event: 'go' }));
    await invoker.waitFor((c) => c.length === 2);
    expect(invoker.callsTo('go')).toHaveLength(1);
    expect(invoker.callsTo('fallback')).toHaveLength(1);
  });

  it('answers Forbidden when nothing matches and there is no $default', async () => {
    const { url, invoker, gateway } = await startGateway(
      { media: () => 1 },
      { routes: [{ routeKey: 'media', functionName: 'media' }] },
    );
    const ws = await connect(url);
    ws.send(JSON.stringify({ event: 'nope' }));
    const msg = JSON.parse((await nextMessage(ws)).data as string);
    expect(msg.message).toBe('Forbidden');
    expect(msg.connectionId).toMatch(/^[A-Za-z0-9_-]{15}=$/);
    expect(msg.requestId).toMatch(/^[A-Za-z0-9_-]{15}=$/);
    expect(invoker.calls).toHaveLength(0);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(gateway.stats().unroutedMessages).toBe(1);
  });
});

describe('dispatch', () => {
  it('does not serialize a connection\'s messages: a slow first message does not delay the second', async () => {
    const log: string[] = [];
    const { url, invoker } = await startGateway({
      connect: ok,
      media: async (e: any) => {
        const n = JSON.parse(e.body).n;
        log.push(`start ${n}`);
        if (n === 1) await sleep(400);
        log.push(`end ${n}`);
      },
    });
    const ws = await connect(url);
    const t0 = Date.now();
    ws.send(JSON.stringify({ event: 'media', n: 1 }));
    ws.send(JSON.stringify({ event: 'media', n: 2 }));
    await invoker.waitFor(() => log.includes('end 2'));
    expect(Date.now() - t0).toBeLessThan(300);
    expect(log).toEqual(['start 1', 'start 2', 'end 2']);
    await invoker.waitFor(() => log.includes('end 1'));
  });

  it('sends Internal server error when the integration fails or is throttled; the connection stays open', async () => {
    const { url, gateway, invoker } = await startGateway({
      connect: ok,
      media: () => {
        throw new Error('kaput');
      },
    });
    // Throttling is an invoke result too.
    invoker.invoke = async function (this: typeof invoker, fn: string, ev: unknown) {
      this.calls.push({ functionName: fn, event: ev });
      if (fn === 'start') return { ok: false, errorType: 'Throttled', errorMessage: 'Rate Exceeded.' };
      if (fn === 'connect') return { ok: true, payload: { statusCode: 200 }, environmentId: 'e', durationMs: 1 };
      return { ok: false, errorType: 'HandlerError', errorMessage: 'kaput' };
    };
    const ws = await connect(url);
    ws.send(JSON.stringify({ event: 'media' }));
    const m1 = await nextMessage(ws);
    const parsed = JSON.parse(m1.data as string);
    expect(parsed.message).toBe('Internal server error');
    const mediaEvent = invoker.callsTo('media')[0]!.event;
    expect(parsed.connectionId).toBe(mediaEvent.requestContext.connectionId);
    expect(parsed.requestId).toBe(mediaEvent.requestContext.requestId);
    // Exact bytes as API Gateway writes them.
    expect(m1.data).toBe(
      `{"message": "Internal server error", "connectionId":"${parsed.connectionId}", "requestId":"${parsed.requestId}"}`,
    );
    ws.send(JSON.stringify({ event: 'start' }));
    expect(JSON.parse((await nextMessage(ws)).data as string).message).toBe('Internal server error');
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect(gateway.stats().integrationErrors).toBe(2);
  });

  it('times out a slow integration after integrationTimeoutMs with API Gateway\'s timeout message', async () => {
    const { url, gateway } = await startGateway(
      { connect: ok, media: () => sleep(1000) },
      { limits: { integrationTimeoutMs: 150 } },
    );
    const ws = await connect(url);
    const t0 = Date.now();
    ws.send(JSON.stringify({ event: 'media' }));
    const msg = JSON.parse((await nextMessage(ws)).data as string);
    expect(msg.message).toBe('Endpoint request timed out');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(140);
    expect(Date.now() - t0).toBeLessThan(900);
    expect(gateway.stats().integrationTimeouts).toBe(1);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });
});

describe('limits', () => {
  it('closes with 1009 on a message over maxMessageBytes (fragmented, each frame under the frame limit)', async () => {
    const { url, invoker, gateway } = await startGateway(
      { connect: ok, fallback: () => 1, disconnect: () => 1 },
      { limits: { maxMessageBytes: 1000, maxFrameBytes: 400 } },
    );
    const ws = await connect(url);
    const c = closed(ws);
    // 3 × 300 bytes = 900: fine.
    for (let i = 0; i < 3; i++) ws.send(Buffer.alloc(300, 1), { binary: true, fin: i === 2 });
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'fallback'));
    expect(Buffer.from(invoker.callsTo('fallback')[0]!.event.body, 'base64')).toHaveLength(900);
    // 4 × 300 = 1200 > 1000.
    for (let i = 0; i < 4; i++) ws.send(Buffer.alloc(300, 2), { binary: true, fin: i === 3 });
    expect((await c).code).toBe(1009);
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'disconnect'));
    const rc = invoker.callsTo('disconnect')[0]!.event.requestContext;
    expect(rc.disconnectStatusCode).toBe(1009);
    expect(invoker.callsTo('fallback')).toHaveLength(1);
    expect(gateway.stats().closesByReason.messageTooBig).toBe(1);
  });

  it('closes with 1009 on a text message over the default 128 KiB sent in 30 KiB frames', async () => {
    const { url, invoker, gateway } = await startGateway({ connect: ok, fallback: () => 1 });
    const ws = await connect(url);
    const c = closed(ws);
    const frame = 'x'.repeat(30 * 1024);
    for (let i = 0; i < 4; i++) ws.send(frame, { fin: i === 3 }); // 120 KiB: fine
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'fallback'));
    expect(invoker.callsTo('fallback')[0]!.event.body).toHaveLength(120 * 1024);
    for (let i = 0; i < 5; i++) ws.send(frame, { fin: i === 4 }); // 150 KiB
    expect((await c).code).toBe(1009);
    expect(invoker.callsTo('fallback')).toHaveLength(1);
    expect(gateway.stats().closesByReason).toEqual({ messageTooBig: 1 });
  });

  it('closes with 1009 on a single frame over maxFrameBytes even when the message is small enough', async () => {
    const { url, invoker, gateway } = await startGateway({ connect: ok, fallback: () => 1 });
    expect(gateway.frameLimitEnforced).toBe(true);
    const ws = await connect(url);
    const c = closed(ws);
    ws.send('y'.repeat(32 * 1024)); // exactly the limit: accepted
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'fallback'));
    ws.send('y'.repeat(32 * 1024 + 1));
    expect((await c).code).toBe(1009);
    expect(invoker.callsTo('fallback')).toHaveLength(1);
    expect(gateway.stats().closesByReason.frameTooBig).toBe(1);
  });

  it('closes an idle connection with 1001 Going away; traffic in either direction keeps it alive', async () => {
    const { url, invoker, gateway } = await startGateway(
      { connect: ok, media: () => 1, disconnect: () => 1 },
      { limits: { idleTimeoutMs: 300 } },
    );
    const ws = await connect(url);
    const c = closed(ws);
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      ws.send(JSON.stringify({ event: 'media' }));
    }
    expect(ws.readyState).toBe(WebSocket.OPEN);
    const t0 = Date.now();
    const { code, reason } = await c;
    expect(code).toBe(1001);
    expect(reason).toBe('Going away');
    expect(Date.now() - t0).toBeGreaterThanOrEqual(200);
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'disconnect'));
    const rc = invoker.callsTo('disconnect')[0]!.event.requestContext;
    expect(rc.disconnectStatusCode).toBe(1001);
    expect(rc.disconnectReason).toBe('Going away');
    expect(gateway.stats().closesByReason.idle).toBe(1);
  });

  it('closes after maxConnectionMs even when active', async () => {
    const { url, gateway } = await startGateway(
      { connect: ok, media: () => 1 },
      { limits: { maxConnectionMs: 400 } },
    );
    const ws = await connect(url);
    const c = closed(ws);
    const timer = setInterval(() => ws.readyState === WebSocket.OPEN && ws.send('{"event":"media"}'), 50);
    const t0 = Date.now();
    try {
      expect((await c).code).toBe(1001);
    } finally {
      clearInterval(timer);
    }
    expect(Date.now() - t0).toBeGreaterThanOrEqual(300);
    expect(gateway.stats().closesByReason.maxDuration).toBe(1);
  });
});

describe('$disconnect', () => {
  it('is invoked after a client close with the DISCONNECT event shape', async () => {
    const { url, invoker, port, gateway } = await startGateway({ connect: ok, disconnect: () => 1 });
    const ws = await connect(url, { headers: { 'User-Agent': 'ua/3' } });
    const connectRc = invoker.callsTo('connect')[0]!.event.requestContext;
    ws.close(4000, 'bye now');
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'disconnect'));
    const ev = invoker.callsTo('disconnect')[0]!.event;
    expect(Object.keys(ev).sort()).toEqual(['headers', 'isBase64Encoded', 'multiValueHeaders', 'requestContext']);
    expect(ev.headers).toEqual({ Host: `127.0.0.1:${port}`, 'x-api-key': '', 'X-Forwarded-For': '', 'x-restapi': '' });
    expect(ev.requestContext).toMatchObject({
      routeKey: '$disconnect',
      eventType: 'DISCONNECT',
      disconnectStatusCode: 4000,
      disconnectReason: 'bye now',
      messageDirection: 'IN',
      connectionId: connectRc.connectionId,
      connectedAt: connectRc.connectedAt,
      identity: { sourceIp: '127.0.0.1', userAgent: 'ua/3' },
    });
    expect(ev.requestContext.messageId).toBeUndefined();
    expect(gateway.stats().closesByReason.client).toBe(1);
    expect(gateway.stats().connectionsOpen).toBe(0);
  });

  it('reports 1005 when the client sends no close code, 1006 when the socket just drops', async () => {
    const { url, invoker } = await startGateway({ connect: ok, disconnect: () => 1 });
    const a = await connect(url);
    a.close();
    await invoker.waitFor((calls) => calls.filter((x) => x.functionName === 'disconnect').length === 1);
    const b = await connect(url);
    b.terminate();
    await invoker.waitFor((calls) => calls.filter((x) => x.functionName === 'disconnect').length === 2);
    const rcs = invoker.callsTo('disconnect').map((c) => c.event.requestContext);
    expect(rcs[0]).toMatchObject({ disconnectStatusCode: 1005, disconnectReason: 'Client-side close frame status not set' });
    expect(rcs[1].disconnectStatusCode).toBe(1006);
  });

  it('is invoked for every open connection when the gateway stops', async () => {
    const { url, invoker, gateway } = await startGateway({ connect: ok, disconnect: () => 1 });
    const sockets = await Promise.all([connect(url), connect(url)]);
    const closes = sockets.map((s) => closed(s));
    await gateway.stop();
    expect((await Promise.all(closes)).map((c) => c.code)).toEqual([1001, 1001]);
    expect(invoker.callsTo('disconnect')).toHaveLength(2);
    expect(gateway.stats().closesByReason.shutdown).toBe(2);
  });
});

describe('protocol errors', () => {
  it('closes 1007 on invalid UTF-8 in a text frame and reports it to $disconnect', async () => {
    const { url, invoker, gateway } = await startGateway({ connect: ok, fallback: () => 1, disconnect: () => 1 });
    const ws = await connect(url);
    const c = closed(ws);
    // ws (the client) does not validate outgoing text, so invalid bytes go out as a text frame.
    ws.send(Buffer.from([0xc3, 0x28]), { binary: false });
    expect((await c).code).toBe(1007);
    await invoker.waitFor((calls) => calls.some((x) => x.functionName === 'disconnect'));
    expect(invoker.callsTo('disconnect')[0]!.event.requestContext.disconnectStatusCode).toBe(1007);
    expect(invoker.callsTo('fallback')).toHaveLength(0);
    expect(gateway.stats().closesByReason.protocolError).toBe(1);
  });
});

describe('stage throttling', () => {
  it('integrates at most the burst plus the rate, answers the rest with Too Many Requests, and keeps the connection open', async () => {
    const { url, invoker, gateway } = await startGateway({ connect: ok, media: ok }, { throttle: { rateLimit: 10, burstLimit: 5 } });
    const ws = await connect(url);
    const received = collect(ws);
    const started = Date.now();
    for (let i = 0; i < 50; i++) ws.send(JSON.stringify({ event: 'media', i }));
    await sleep(300);
    const elapsed = Date.now() - started;
    const integrated = invoker.callsTo('media').length;
    // The bucket starts full (5) and refills at 10/s while the 50 messages arrive.
    expect(integrated).toBeGreaterThanOrEqual(5);
    expect(integrated).toBeLessThanOrEqual(5 + Math.ceil((elapsed * 10) / 1000));
    const throttled = received.filter((m) => JSON.parse(String(m.data)).message === 'Too Many Requests');
    expect(throttled).toHaveLength(50 - integrated);
    expect(gateway.stats().messagesThrottled).toBe(50 - integrated);
    expect(ws.readyState).toBe(WebSocket.OPEN);
    // Refilled: a message a little later goes through.
    await sleep(250);
    ws.send(JSON.stringify({ event: 'media', i: 'later' }));
    await invoker.waitFor((c) => c.filter((x) => x.functionName === 'media').length === integrated + 1);
  });
});
