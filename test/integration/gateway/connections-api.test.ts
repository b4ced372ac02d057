import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  GoneException,
  PayloadTooLargeException,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import WebSocket from 'ws';
import { closed, collect, connect, nextMessage, sleep, startGateway, stopAll, type TestGateway } from './helpers';

afterEach(stopAll);

function client(port: number, stage = 'local'): ApiGatewayManagementApiClient {
  return new ApiGatewayManagementApiClient({
    endpoint: `http://127.0.0.1:${port}/${stage}`,
    region: 'us-east-1',
    credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
    maxAttempts: 1,
  });
}

async function open(t: TestGateway, headers: Record<string, string> = {}): Promise<{ ws: WebSocket; id: string }> {
  const before = t.invoker.callsTo('connect').length;
  const ws = await connect(t.url, { headers });
  const id = t.invoker.callsTo('connect')[before]!.event.requestContext.connectionId as string;
  return { ws, id };
}

const handlers = { connect: () => ({ statusCode: 200 }), disconnect: () => undefined, fallback: () => undefined };

describe('@connections management API with the real SDK', () => {
  it('PostToConnection sends text as a text frame and non-UTF-8 bytes as a binary frame', async () => {
    const t = await startGateway(handlers);
    const api = client(t.port);
    const { ws, id } = await open(t);
    expect(id).toContain('='); // percent-encoded by the SDK in the path
    const received = collect(ws);
    await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: '{"event":"media","x":"é"}' }));
    await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: new Uint8Array([0xff, 0x00, 0xfe]) }));
    await sleep(50);
    expect(received).toEqual([
      { data: '{"event":"media","x":"é"}', isBinary: false },
      { data: Buffer.from([0xff, 0x00, 0xfe]), isBinary: true },
    ]);
    expect(t.gateway.stats().messagesOut).toBe(2);
  });

  it('PostToConnection over 128 KiB throws PayloadTooLargeException (413); exactly 128 KiB is delivered', async () => {
    const t = await startGateway(handlers);
    const api = client(t.port);
    const { ws, id } = await open(t);
    const err = await api
      .send(new PostToConnectionCommand({ ConnectionId: id, Data: 'a'.repeat(128 * 1024 + 1) }))
      .catch((e: unknown) => e);
    expect(err).toBeInstanceOf(PayloadTooLargeException);
    expect((err as PayloadTooLargeException).name).toBe('PayloadTooLargeException');
    expect((err as PayloadTooLargeException).$metadata.httpStatusCode).toBe(413);
    const next = nextMessage(ws);
    await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'b'.repeat(128 * 1024) }));
    expect(((await next).data as string).length).toBe(128 * 1024);
    expect(ws.readyState).toBe(WebSocket.OPEN);
  });

  it('GetConnection returns ConnectedAt, Identity and LastActiveAt', async () => {
    const t = await startGateway(handlers);
    const api = client(t.port);
    const { ws, id } = await open(t, { 'User-Agent': 'phone/1.0' });
    const connectedAt = t.invoker.callsTo('connect')[0]!.event.requestContext.connectedAt as number;
    await sleep(30);
    ws.send('hello');
    await t.invoker.waitFor((c) => c.some((x) => x.functionName === 'fallback'));
    const out = await api.send(new GetConnectionCommand({ ConnectionId: id }));
    expect(out.ConnectedAt).toBeInstanceOf(Date);
    expect(out.ConnectedAt!.getTime()).toBe(connectedAt);
    expect(out.Identity).toEqual({ SourceIp: '127.0.0.1', UserAgent: 'phone/1.0' });
    expect(out.LastActiveAt!.getTime()).toBeGreaterThanOrEqual(connectedAt + 25);
  });

  it('DeleteConnection closes the socket, invokes $disconnect, then the id is gone (410)', async () => {
    const t = await startGateway(handlers);
    const api = client(t.port);
    const { ws, id } = await open(t);
    const c = closed(ws);
    const res = await api.send(new DeleteConnectionCommand({ ConnectionId: id }));
    expect(res.$metadata.httpStatusCode).toBe(204);
    // Unknown at once, even before the close handshake finishes.
    await expect(api.send(new GetConnectionCommand({ ConnectionId: id }))).rejects.toBeInstanceOf(GoneException);
    expect((await c).code).toBe(1000);
    await t.invoker.waitFor((calls) => calls.some((x) => x.functionName === 'disconnect'));
    const rc = t.invoker.callsTo('disconnect')[0]!.event.requestContext;
    expect(rc.connectionId).toBe(id);
    expect(rc.disconnectStatusCode).toBe(1000);
    const gone = await api.send(new DeleteConnectionCommand({ ConnectionId: id })).catch((e: unknown) => e);
    expect(gone).toBeInstanceOf(GoneException);
    expect((gone as GoneException).name).toBe('GoneException');
    expect((gone as GoneException).$metadata.httpStatusCode).toBe(410);
    expect(t.gateway.stats().closesByReason.deleteConnection).toBe(1);
  });

  it('throws GoneException for a connection the client closed and for an unknown id', async () => {
    const t = await startGateway(handlers);
    const api = client(t.port);
    const { ws, id } = await open(t);
    const c = closed(ws);
    ws.close(1000);
    await c;
    await t.invoker.waitFor((calls) => calls.some((x) => x.functionName === 'disconnect'));
    for (const cmd of [
      new PostToConnectionCommand({ ConnectionId: id, Data: 'x' }),
      new GetConnectionCommand({ ConnectionId: id }),
      new PostToConnectionCommand({ ConnectionId: 'AAAAAAAAAAAAAAA=', Data: 'x' }),
    ]) {
      const err = await api.send(cmd as never).catch((e: unknown) => e);
      expect(err).toBeInstanceOf(GoneException);
    }
  });

  it('server-to-client traffic counts as activity for the idle timeout', async () => {
    const t = await startGateway(handlers, { limits: { idleTimeoutMs: 300 } });
    const api = client(t.port);
    const { ws, id } = await open(t);
    const c = closed(ws);
    for (let i = 0; i < 4; i++) {
      await sleep(150);
      await api.send(new PostToConnectionCommand({ ConnectionId: id, Data: 'ping' }));
    }
    expect(ws.readyState).toBe(WebSocket.OPEN);
    expect((await c).code).toBe(1001);
  });

  it('ignores other paths on the port (404) and management calls for another stage', async () => {
    const t = await startGateway(handlers);
    const res = await fetch(`http://127.0.0.1:${t.port}/nope`);
    expect(res.status).toBe(404);
    const { id } = await open(t);
    const wrongStage = await client(t.port, 'prod')
      .send(new GetConnectionCommand({ ConnectionId: id }))
      .catch((e: unknown) => e);
    expect((wrongStage as { $metadata: { httpStatusCode: number } }).$metadata.httpStatusCode).toBe(404);
  });
});
