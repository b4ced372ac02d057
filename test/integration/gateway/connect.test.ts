import { ALLOW_POLICY, closed, connect, connectStatus, sleep, startGateway, stopAll } from './helpers';

const authorizer = { functionName: 'authorizer', identitySource: ['route.request.querystring.token'] };

function tokenAuthorizer(event: any): unknown {
  const token = event.queryStringParameters?.token;
  if (token === 'boom') throw new Error('database down');
  if (token === 'bad') throw new Error('Unauthorized');
  return {
    principalId: `user-${token}`,
    policyDocument: {
      Version: '2012-10-17',
      Statement: [{ Action: 'execute-api:Invoke', Effect: token === 'deny' ? 'Deny' : 'Allow', Resource: event.methodArn }],
    },
    context: { tenant: 'acme', seats: 3, admin: true },
  };
}

afterEach(stopAll);

describe('upgrade path', () => {
  it('accepts /STAGE and refuses any other path with 404', async () => {
    const { url, port } = await startGateway({ connect: () => ({ statusCode: 200 }) }, { stage: 'dev' });
    expect(url).toBe(`ws://127.0.0.1:${port}/dev`);
    expect(await connectStatus(url)).toBe(101);
    expect(await connectStatus(`ws://127.0.0.1:${port}/other`)).toBe(404);
    expect(await connectStatus(`ws://127.0.0.1:${port}/`)).toBe(404);
  });
});

describe('$connect authorizer', () => {
  it('refuses with 401 without calling the authorizer when the identity source is missing', async () => {
    const { url, invoker } = await startGateway({ authorizer: tokenAuthorizer, connect: () => ({ statusCode: 200 }) }, { authorizer });
    expect(await connectStatus(url)).toBe(401);
    expect(await connectStatus(`${url}?token=`)).toBe(401);
    expect(invoker.callsTo('authorizer')).toHaveLength(0);
    expect(invoker.callsTo('connect')).toHaveLength(0);
  });

  it('checks header identity sources case-insensitively', async () => {
    const { url, invoker } = await startGateway(
      { authorizer: () => ({ principalId: 'p', policyDocument: ALLOW_POLICY() }), connect: () => ({ statusCode: 200 }) },
      { authorizer: { functionName: 'authorizer', identitySource: ['route.request.header.X-Api-Key'] } },
    );
    expect(await connectStatus(url)).toBe(401);
    expect(await connectStatus(url, { headers: { 'x-api-key': 'k' } })).toBe(101);
    expect(invoker.callsTo('authorizer')).toHaveLength(1);
  });

  it('Deny → 403, thrown Unauthorized → 401, other failure → 500, Allow → open', async () => {
    const { url, invoker } = await startGateway({ authorizer: tokenAuthorizer, connect: () => ({ statusCode: 200 }) }, { authorizer });
    expect(await connectStatus(`${url}?token=deny`)).toBe(403);
    expect(await connectStatus(`${url}?token=bad`)).toBe(401);
    expect(await connectStatus(`${url}?token=boom`)).toBe(500);
    expect(invoker.callsTo('connect')).toHaveLength(0);
    expect(await connectStatus(`${url}?token=good`)).toBe(101);
    expect(invoker.callsTo('connect')).toHaveLength(1);
  });

  it('an Allow policy for another resource is an implicit deny (403); a malformed response is 500', async () => {
    const { url } = await startGateway(
      {
        authorizer: (e: any) =>
          e.queryStringParameters.token === 'other'
            ? { principalId: 'p', policyDocument: ALLOW_POLICY('arn:aws:execute-api:us-east-1:123456789012:zzz/local/$connect') }
            : { principalId: 'p' },
        connect: () => ({ statusCode: 200 }),
      },
      { authorizer },
    );
    expect(await connectStatus(`${url}?token=other`)).toBe(403);
    expect(await connectStatus(`${url}?token=nopolicy`)).toBe(500);
  });

  it('sends the REQUEST authorizer event', async () => {
    const { url, invoker, port } = await startGateway(
      { authorizer: tokenAuthorizer, connect: () => ({ statusCode: 200 }) },
      { authorizer, apiId: 'abc123defg', stage: 'local', region: 'eu-west-1', accountId: '111122223333' },
    );
    await connect(`${url}?token=good&a=1&a=2`, { headers: { 'X-Custom': 'yes', 'User-Agent': 'jest-agent' } });
    const ev = invoker.callsTo('authorizer')[0]!.event;
    expect(ev.type).toBe('REQUEST');
    expect(ev.methodArn).toBe('arn:aws:execute-api:eu-west-1:111122223333:abc123defg/local/$connect');
    expect(ev.headers['X-Custom']).toBe('yes');
    expect(ev.headers.Host).toBe(`127.0.0.1:${port}`);
    expect(ev.multiValueHeaders['X-Custom']).toEqual(['yes']);
    expect(ev.queryStringParameters).toEqual({ token: 'good', a: '2' });
    expect(ev.multiValueQueryStringParameters).toEqual({ token: ['good'], a: ['1', '2'] });
    expect(ev.stageVariables).toEqual({});
    expect(ev.requestContext).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      messageDirection: 'IN',
      stage: 'local',
      apiId: 'abc123defg',
      domainName: `127.0.0.1:${port}`,
      identity: { sourceIp: '127.0.0.1', userAgent: 'jest-agent' },
    });
    expect(ev.requestContext.connectionId).toMatch(/^[A-Za-z0-9_-]{15}=$/);
  });

  it('propagates principalId and context to $connect, messages and $disconnect', async () => {
    const { url, invoker } = await startGateway(
      { authorizer: tokenAuthorizer, connect: () => ({ statusCode: 200 }), media: () => undefined, disconnect: () => undefined },
      { authorizer },
    );
    const ws = await connect(`${url}?token=42`);
    ws.send(JSON.stringify({ event: 'media' }));
    await invoker.waitFor((c) => c.some((x) => x.functionName === 'media'));
    ws.close(1000);
    await invoker.waitFor((c) => c.some((x) => x.functionName === 'disconnect'));
    const expected = { principalId: 'user-42', tenant: 'acme', seats: '3', admin: 'true' };
    const connectCtx = invoker.callsTo('connect')[0]!.event.requestContext.authorizer;
    expect(connectCtx).toMatchObject(expected);
    expect(typeof connectCtx.integrationLatency).toBe('number');
    expect(invoker.callsTo('media')[0]!.event.requestContext.authorizer).toEqual(expected);
    expect(invoker.callsTo('disconnect')[0]!.event.requestContext.authorizer).toEqual(expected);
  });
});

describe('$connect route', () => {
  it('sends the CONNECT event and accepts only after it succeeds', async () => {
    let release!: () => void;
    const gate = new Promise<void>((r) => (release = r));
    const { url, invoker, port } = await startGateway({
      connect: async () => {
        await gate;
        return { statusCode: 200 };
      },
    });
    let opened = false;
    const p = connect(`${url}?x=1`, { headers: { 'User-Agent': 'ua/1' } }).then((ws) => {
      opened = true;
      return ws;
    });
    await invoker.waitFor((c) => c.length === 1);
    await sleep(100);
    expect(opened).toBe(false);
    release();
    await p;
    const ev = invoker.callsTo('connect')[0]!.event;
    expect(Object.keys(ev).sort()).toEqual(
      ['headers', 'isBase64Encoded', 'multiValueHeaders', 'multiValueQueryStringParameters', 'queryStringParameters', 'requestContext'].sort(),
    );
    expect(ev.isBase64Encoded).toBe(false);
    expect(ev.queryStringParameters).toEqual({ x: '1' });
    expect(ev.headers['Sec-WebSocket-Key']).toEqual(expect.any(String));
    expect(ev.headers['X-Forwarded-For']).toBe('127.0.0.1');
    const rc = ev.requestContext;
    expect(rc).toMatchObject({
      routeKey: '$connect',
      eventType: 'CONNECT',
      messageDirection: 'IN',
      stage: 'local',
      domainName: `127.0.0.1:${port}`,
      identity: { sourceIp: '127.0.0.1', userAgent: 'ua/1' },
    });
    expect(rc.messageId).toBeUndefined();
    expect(rc.authorizer).toBeUndefined();
    expect(rc.requestTime).toMatch(/^\d{2}\/[A-Z][a-z]{2}\/\d{4}:\d{2}:\d{2}:\d{2} \+0000$/);
    expect(Math.abs(rc.requestTimeEpoch - Date.now())).toBeLessThan(5000);
    expect(rc.connectedAt).toBe(rc.requestTimeEpoch);
    expect(rc.extendedRequestId).toBe(rc.requestId);
    expect(rc.apiId).toMatch(/^[a-z0-9]{10}$/);
  });

  it('omits the query string fields when there is no query string', async () => {
    const { url, invoker } = await startGateway({ connect: () => ({ statusCode: 200 }) });
    await connect(url);
    const ev = invoker.callsTo('connect')[0]!.event;
    expect(ev).not.toHaveProperty('queryStringParameters');
    expect(ev).not.toHaveProperty('multiValueQueryStringParameters');
  });

  it('refuses with the returned non-2xx status, 500 when the function fails; no $disconnect then', async () => {
    const { url, invoker } = await startGateway({
      connect: (e: any) => {
        const q = e.queryStringParameters?.q;
        if (q === 'throw') throw new Error('nope');
        return { statusCode: q === 'teapot' ? 418 : q === 'bad' ? 400 : 200 };
      },
      disconnect: () => undefined,
    });
    expect(await connectStatus(`${url}?q=bad`)).toBe(400);
    expect(await connectStatus(`${url}?q=teapot`)).toBe(418);
    expect(await connectStatus(`${url}?q=throw`)).toBe(500);
    await sleep(100);
    expect(invoker.callsTo('disconnect')).toHaveLength(0);
  });

  it('agrees a subprotocol only when $connect returns Sec-WebSocket-Protocol', async () => {
    const { url } = await startGateway({
      connect: (e: any) =>
        e.queryStringParameters?.p === 'yes'
          ? { statusCode: 200, headers: { 'Sec-WebSocket-Protocol': 'chat' } }
          : { statusCode: 200 },
    });
    const ws = await connect(`${url}?p=yes`, {}, ['chat']);
    expect(ws.protocol).toBe('chat');
    // The client asked for a subprotocol but the integration agreed none: the handshake fails client-side.
    await expect(connect(`${url}?p=no`, {}, ['chat'])).rejects.toThrow(/subprotocol/);
    expect((await connect(`${url}?p=no`)).protocol).toBe('');
  });

  it('refuses with 429 over the new-connection rate', async () => {
    const { url } = await startGateway({ connect: () => ({ statusCode: 200 }) }, { limits: { newConnectionsPerSecond: 3 } });
    const statuses = await Promise.all(Array.from({ length: 6 }, () => connectStatus(url)));
    expect(statuses.filter((s) => s === 101)).toHaveLength(3);
    expect(statuses.filter((s) => s === 429)).toHaveLength(3);
  });

  it('works without any $connect route', async () => {
    const { url } = await startGateway({}, { routes: [{ routeKey: '$default', functionName: 'fallback' }] });
    const ws = await connect(url);
    const c = closed(ws);
    ws.close(1000);
    expect((await c).code).toBe(1000);
  });
});
