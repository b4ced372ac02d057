/** Test helpers for the local gateway: an in-process fake Invoker and small ws client utilities. */
import WebSocket from 'ws';
import type { InvokeResult, Invoker } from '../../../local/runtime/types';
import { WebSocketGateway, type WebSocketGatewayOptions } from '../../../local/gateway/gateway';

export type Handler = (event: any) => unknown;

export interface Call {
  readonly functionName: string;
  readonly event: any;
}

/** Calls plain (async) functions by name; a thrown error becomes a HandlerError with its message. */
export class FakeInvoker implements Invoker {
  readonly calls: Call[] = [];
  private readonly waiters: Array<() => void> = [];

  constructor(private readonly handlers: Record<string, Handler> = {}) {}

  set(functionName: string, handler: Handler): void {
    this.handlers[functionName] = handler;
  }

  async invoke(functionName: string, event: unknown): Promise<InvokeResult> {
    this.calls.push({ functionName, event });
    for (const w of this.waiters.splice(0)) w();
    const handler = this.handlers[functionName];
    if (!handler) return { ok: false, errorType: 'UnknownFunction', errorMessage: `no function ${functionName}` };
    const started = Date.now();
    try {
      const payload = await handler(event);
      return { ok: true, payload, environmentId: 'env-1', durationMs: Date.now() - started };
    } catch (err) {
      return { ok: false, errorType: 'HandlerError', errorMessage: (err as Error).message, environmentId: 'env-1' };
    }
  }

  callsTo(functionName: string): Call[] {
    return this.calls.filter((c) => c.functionName === functionName);
  }

  /** Resolve once `predicate` holds over the recorded calls. */
  async waitFor(predicate: (calls: Call[]) => boolean, timeoutMs = 3000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    while (!predicate(this.calls)) {
      if (Date.now() > deadline) throw new Error(`timed out waiting; calls: ${this.calls.map((c) => c.functionName).join(',')}`);
      await new Promise<void>((resolve) => {
        this.waiters.push(resolve);
        setTimeout(resolve, 20);
      });
    }
  }
}

export const ALLOW_POLICY = (arn = '*'): Record<string, unknown> => ({
  Version: '2012-10-17',
  Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: arn }],
});

export interface TestGateway {
  gateway: WebSocketGateway;
  invoker: FakeInvoker;
  url: string;
  port: number;
}

const running: WebSocketGateway[] = [];
const sockets: WebSocket[] = [];

export async function startGateway(
  handlers: Record<string, Handler>,
  options: Partial<WebSocketGatewayOptions> = {},
): Promise<TestGateway> {
  const invoker = new FakeInvoker(handlers);
  const gateway = new WebSocketGateway({
    invoker,
    routes: [
      { routeKey: '$connect', functionName: 'connect' },
      { routeKey: '$disconnect', functionName: 'disconnect' },
      { routeKey: '$default', functionName: 'fallback' },
      { routeKey: 'media', functionName: 'media' },
      { routeKey: 'start', functionName: 'start' },
    ],
    ...options,
  });
  const { url, port } = await gateway.start();
  running.push(gateway);
  return { gateway, invoker, url, port };
}

export async function stopAll(): Promise<void> {
  for (const ws of sockets.splice(0)) if (ws.readyState === WebSocket.OPEN) ws.terminate();
  await Promise.all(running.splice(0).map((g) => g.stop()));
}

/** Open a client; resolves when open, rejects with `{ status }` when the upgrade is refused. */
export function connect(url: string, opts: WebSocket.ClientOptions = {}, protocols?: string[]): Promise<WebSocket> {
  return new Promise((resolve, reject) => {
    const ws = protocols ? new WebSocket(url, protocols, opts) : new WebSocket(url, opts);
    sockets.push(ws);
    ws.once('open', () => resolve(ws));
    ws.once('unexpected-response', (_req, res) => {
      let body = '';
      res.on('data', (c: Buffer) => (body += c.toString()));
      res.on('end', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
      res.on('error', () => reject(Object.assign(new Error(`HTTP ${res.statusCode}`), { status: res.statusCode, body })));
    });
    ws.once('error', (err) => reject(err));
  });
}

export async function connectStatus(url: string, opts: WebSocket.ClientOptions = {}): Promise<number> {
  try {
    const ws = await connect(url, opts);
    ws.close();
    return 101;
  } catch (err) {
    return (err as { status?: number }).status ?? -1;
  }
}

export interface Received {
  data: string | Buffer;
  isBinary: boolean;
}

/** Collects every message a client receives. */
export function collect(ws: WebSocket): Received[] {
  const out: Received[] = [];
  ws.on('message', (data, isBinary) => out.push({ data: isBinary ? (data as Buffer) : data.toString(), isBinary }));
  return out;
}

export function nextMessage(ws: WebSocket, timeoutMs = 3000): Promise<Received> {
  return new Promise((resolve, reject) => {
    const t = setTimeout(() => reject(new Error('no message')), timeoutMs);
    ws.once('message', (data, isBinary) => {
      clearTimeout(t);
      resolve({ data: isBinary ? (data as Buffer) : data.toString(), isBinary });
    });
  });
}

export function closed(ws: WebSocket, timeoutMs = 5000): Promise<{ code: number; reason: string }> {
  return new Promise((resolve, reject) => {
    if (ws.readyState === WebSocket.CLOSED) return reject(new Error('already closed'));
    const t = setTimeout(() => reject(new Error('not closed')), timeoutMs);
    ws.once('close', (code, reason) => {
      clearTimeout(t);
      resolve({ code, reason: reason.toString() });
    });
    ws.on('error', () => undefined);
  });
}

export const sleep = (ms: number): Promise<void> => new Promise((r) => setTimeout(r, ms));
