/**
 * A local WebSocket gateway faithful to Amazon API Gateway WebSocket APIs: $connect with a REQUEST authorizer,
 * route selection, concurrent Lambda dispatch through an `Invoker`, service limits, $disconnect, and the
 * `@connections` management API on the same port. See README.md for what is faithful and what differs.
 */
import { createServer, STATUS_CODES, type IncomingMessage, type Server, type ServerResponse } from 'node:http';
import type { Duplex } from 'node:stream';
import { isUtf8 } from 'node:buffer';
import { WebSocket, WebSocketServer } from 'ws';
import { AUTHORIZER, ROUTES, ROUTE_SELECTION_EXPRESSION } from '../../functions/contracts/routes';
import type { IsAllowed } from '../iam/policy.cjs';
import type { InvokeResult, Invoker } from '../runtime/types';
import {
  authorizerEvent,
  identitySourcesPresent,
  judgeAuthorizer,
  methodArn,
  type AuthorizerSettings,
} from './authorizer';
import {
  handleConnectionsRequest,
  parseConnectionsPath,
  type ConnectionDescription,
  type ConnectionRegistry,
} from './connections-api';
import {
  disconnectEvent,
  gatewayErrorMessage,
  messageEvent,
  newApiId,
  newGatewayId,
  requestContext,
  type AuthorizerContext,
  type ConnectEvent,
  type ConnectionInfo,
  type StageInfo,
} from './events';
import { parseHandshake, type Handshake } from './handshake';
import { HttpApiRoutes, type HttpCors, type HttpRouteBinding } from './http-api';
import { StaticWeb } from './static-web';
import { resolveLimits, TokenBucket, type GatewayLimits } from './limits';
import { compileRouteSelection, type RouteSelector } from './route-selection';

export type { AuthorizerSettings } from './authorizer';
export type { GatewayLimits } from './limits';

export interface RouteBinding {
  readonly routeKey: string;
  readonly functionName: string;
}

export interface WebSocketGatewayOptions {
  readonly invoker: Invoker;
  readonly routes: readonly RouteBinding[];
  /** REQUEST authorizer on $connect; undefined = no authorizer. */
  readonly authorizer?: AuthorizerSettings;
  /** Default `$request.body.event` (functions/contracts/routes.ts). */
  readonly routeSelectionExpression?: string;
  /** Default 'local'. */
  readonly stage?: string;
  /** 0 (default) = ephemeral port. */
  readonly port?: number;
  /** Default '127.0.0.1'. */
  readonly host?: string;
  readonly limits?: Partial<GatewayLimits>;
  readonly region?: string;
  readonly accountId?: string;
  /** Default: a random 10-character id. */
  readonly apiId?: string;
  readonly stageVariables?: Readonly<Record<string, string>>;
  /**
   * IAM for the @connections API (local/iam): whether an access key may `execute-api:ManageConnections` on a
   * resource. Undefined = every caller may.
   */
  readonly isAllowed?: IsAllowed;
  /** HTTP API routes served on the same port (payload 2.0; local/gateway/http-api.ts). */
  readonly httpRoutes?: readonly HttpRouteBinding[];
  /** The HTTP API's CORS configuration (none: no preflight answered, the functions' headers passed as they are). */
  readonly httpCors?: HttpCors;
  /** A folder whose files are served at `/` (the browser page, web/; local/gateway/static-web.ts). */
  readonly staticRoot?: string;
  /**
   * Stage throttling (the stage's default route settings, lib/constructs/voice-websocket-api.ts): a token bucket
   * over every message of every connection. A message over it is not integrated; the client gets an error message
   * (`Too Many Requests`, in the shape of the gateway's other error messages). Undefined = not throttled.
   */
  readonly throttle?: { readonly rateLimit: number; readonly burstLimit: number };
  /**
   * A custom domain name mapped to this stage (API Gateway's DomainName + ApiMapping): an upgrade whose Host is the
   * domain reaches the stage at `/<basePath>` (at `/` without one) instead of `/<stage>`, and its connection's events
   * carry the domain as `requestContext.domainName`, as on AWS. The stage's own path keeps working on any Host.
   */
  readonly customDomain?: { readonly domainName: string; readonly basePath?: string };
}

/** Why a connection closed (keys of `stats().closesByReason`). */
export type CloseCause =
  | 'client'
  | 'idle'
  | 'maxDuration'
  | 'deleteConnection'
  | 'messageTooBig'
  | 'frameTooBig'
  | 'protocolError'
  | 'shutdown';

export interface GatewayStats {
  connectionsOpen: number;
  connectionsAccepted: number;
  /** Upgrades refused, by HTTP status. */
  connectionsRejected: Record<number, number>;
  messagesIn: number;
  /** Frames sent to clients: @connections posts and gateway error messages. */
  messagesOut: number;
  /** Bytes of those frames (data transfer out). */
  bytesOut: number;
  /** Message-route integrations that failed or timed out (the client got an error message). */
  integrationErrors: number;
  integrationTimeouts: number;
  /** Messages that matched no route and had no $default (the client got `Forbidden`). */
  unroutedMessages: number;
  /** Messages refused by stage throttling (the client got `Too Many Requests`). */
  messagesThrottled: number;
  disconnectInvocations: number;
  closesByReason: Partial<Record<CloseCause, number>>;
}

/** The project's route table (functions/contracts/routes.ts) as gateway options. */
export function projectRouteOptions(): Pick<
  WebSocketGatewayOptions,
  'routes' | 'authorizer' | 'routeSelectionExpression'
> {
  return {
    routes: ROUTES.map((r) => ({ routeKey: r.routeKey, functionName: r.name })),
    authorizer: { functionName: AUTHORIZER.name, identitySource: [...AUTHORIZER.identitySource] },
    routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
  };
}

interface Connection extends ConnectionInfo {
  readonly ws: WebSocket;
  lastActiveAt: number;
  /** Set once the gateway decided to close (or the client did): the id is unknown from then on. */
  closeCause: CloseCause | undefined;
  closeCode: number;
  closeReason: string;
}

interface PendingIntegration {
  readonly conn: Connection;
  readonly requestId: string;
  readonly deadline: number;
  done: boolean;
}

const CLIENT_CLOSE_REASONS: Record<number, string> = {
  1000: 'Connection Closed Normally',
  1001: 'Going away',
  1005: 'Client-side close frame status not set',
  1006: 'Connection closed abnormally',
};

const FRAME_TOO_BIG = 'LOCAL_GATEWAY_FRAME_TOO_BIG';

type Outcome = InvokeResult | 'timeout';

export class WebSocketGateway {
  private readonly invoker: Invoker;
  private readonly httpApi?: HttpApiRoutes;
  private readonly staticWeb?: StaticWeb;
  private readonly limits: GatewayLimits;
  private readonly stageName: string;
  private readonly host: string;
  private readonly requestedPort: number;
  private readonly region: string;
  private readonly accountId: string;
  private readonly stageVariables: Readonly<Record<string, string>>;
  private readonly authorizer: AuthorizerSettings | undefined;
  private readonly isAllowed: IsAllowed | undefined;
  private readonly select: RouteSelector;
  /** Routes a message can select (everything but $connect/$disconnect), including $default. */
  private readonly messageRoutes = new Map<string, string>();
  private readonly connectFunction: string | undefined;
  private readonly disconnectFunction: string | undefined;
  private readonly stageInfo: StageInfo;
  private readonly customDomain?: { readonly domainName: string; readonly basePath?: string };
  private readonly bucket: TokenBucket;
  private readonly stageThrottle: TokenBucket | undefined;

  private server: Server | undefined;
  private wss: WebSocketServer | undefined;
  private sweepTimer: NodeJS.Timeout | undefined;
  private stopping = false;
  private port = 0;
  private frameLimitSupported = true;

  private readonly connections = new Map<string, Connection>();
  /** Every accepted socket until its 'close' event (connections leave the map earlier on server close). */
  private readonly live = new Set<Connection>();
  private readonly inflight = new Set<PendingIntegration>();
  private readonly pendingDisconnects = new Set<Promise<unknown>>();
  private readonly pendingUpgrades = new Set<Promise<void>>();
  private readonly chosenProtocol = new WeakMap<IncomingMessage, string>();
  private readonly counters: GatewayStats = {
    connectionsOpen: 0,
    connectionsAccepted: 0,
    connectionsRejected: {},
    messagesIn: 0,
    messagesOut: 0,
    bytesOut: 0,
    integrationErrors: 0,
    integrationTimeouts: 0,
    unroutedMessages: 0,
    messagesThrottled: 0,
    disconnectInvocations: 0,
    closesByReason: {},
  };

  constructor(options: WebSocketGatewayOptions) {
    this.invoker = options.invoker;
    if (options.httpRoutes?.length) this.httpApi = new HttpApiRoutes(options.httpRoutes, options.invoker, () => `${this.host}:${this.port}`, options.httpCors);
    if (options.staticRoot) this.staticWeb = new StaticWeb(options.staticRoot);
    this.limits = resolveLimits(options.limits);
    this.stageName = options.stage ?? 'local';
    this.customDomain = options.customDomain;
    if (this.customDomain?.basePath !== undefined && !/^[A-Za-z0-9$\-_.+!*'()]+$/.test(this.customDomain.basePath)) {
      throw new Error(`invalid API mapping path: ${this.customDomain.basePath} (letters, digits and $-_.+!*'() only)`);
    }
    if (!/^[A-Za-z0-9_-]+$/.test(this.stageName)) throw new Error(`invalid stage name: ${this.stageName}`);
    this.host = options.host ?? '127.0.0.1';
    this.requestedPort = options.port ?? 0;
    this.region = options.region ?? 'us-east-1';
    this.accountId = options.accountId ?? '123456789012';
    this.stageVariables = options.stageVariables ?? {};
    this.authorizer = options.authorizer;
    this.isAllowed = options.isAllowed;
    this.select = compileRouteSelection(options.routeSelectionExpression ?? ROUTE_SELECTION_EXPRESSION);
    let connectFn: string | undefined;
    let disconnectFn: string | undefined;
    for (const r of options.routes) {
      if (r.routeKey === '$connect') connectFn = r.functionName;
      else if (r.routeKey === '$disconnect') disconnectFn = r.functionName;
      else this.messageRoutes.set(r.routeKey, r.functionName);
    }
    this.connectFunction = connectFn;
    this.disconnectFunction = disconnectFn;
    this.stageInfo = { stage: this.stageName, apiId: options.apiId ?? newApiId(), domainName: '' };
    this.bucket = new TokenBucket(this.limits.newConnectionsPerSecond);
    const t = options.throttle;
    if (t && !(t.rateLimit > 0 && t.burstLimit >= 1)) throw new RangeError(`stage throttle needs rateLimit > 0 and burstLimit >= 1, got ${JSON.stringify(t)}`);
    this.stageThrottle = t ? new TokenBucket(t.rateLimit, t.burstLimit) : undefined;
  }

  // ------------------------------------------------------------------------------------------ lifecycle

  async start(): Promise<{ url: string; port: number }> {
    if (this.server) throw new Error('gateway already started');
    const wss = new WebSocketServer({
      noServer: true,
      maxPayload: this.limits.maxMessageBytes,
      perMessageDeflate: false,
      clientTracking: false,
      // A subprotocol is agreed only when the $connect integration returned Sec-WebSocket-Protocol.
      handleProtocols: (protocols, req) => {
        const chosen = this.chosenProtocol.get(req);
        return chosen !== undefined && protocols.has(chosen) ? chosen : false;
      },
    });
    // The @connections API's idle keep-alive lasts like an AWS endpoint's (about a minute), not Node's 5 s: a thawed
    // environment must not meet a socket closed behind its back more often than on AWS (see dynalite-server.cjs).
    const server = createServer({ keepAliveTimeout: 60_000, headersTimeout: 65_000 }, (req, res) => this.onHttpRequest(req, res));
    server.on('upgrade', (req: IncomingMessage, socket: Duplex, head: Buffer) => {
      const p = this.onUpgrade(req, socket, head).catch(() => rejectUpgrade(socket, 500));
      this.pendingUpgrades.add(p);
      void p.finally(() => this.pendingUpgrades.delete(p));
    });
    server.on('clientError', (_err, socket) => socket.destroy());
    await new Promise<void>((resolve, reject) => {
      server.once('error', reject);
      server.listen(this.requestedPort, this.host, () => {
        server.off('error', reject);
        resolve();
      });
    });
    const address = server.address();
    this.port = typeof address === 'object' && address ? address.port : this.requestedPort;
    this.stageInfo.domainName = `${this.host}:${this.port}`;
    this.server = server;
    this.wss = wss;
    this.stopping = false;
    const shortest = Math.min(this.limits.idleTimeoutMs, this.limits.maxConnectionMs, this.limits.integrationTimeoutMs);
    this.sweepTimer = setInterval(() => this.sweep(), Math.max(10, Math.min(1000, Math.floor(shortest / 4))));
    this.sweepTimer.unref();
    return { url: `ws://${this.host}:${this.port}/${this.stageName}`, port: this.port };
  }

  /** Close every connection (1001 Going away), wait for their $disconnect invocations, close the port. */
  async stop(): Promise<void> {
    const server = this.server;
    if (!server) return;
    this.stopping = true;
    await Promise.allSettled([...this.pendingUpgrades]);
    for (const conn of [...this.connections.values()]) this.serverClose(conn, 'shutdown', 1001, 'Going away');
    const closes = [...this.live].map(
      (c) =>
        new Promise<void>((resolve) => {
          if (c.ws.readyState === WebSocket.CLOSED) return resolve();
          const t = setTimeout(() => c.ws.terminate(), 2000);
          c.ws.once('close', () => {
            clearTimeout(t);
            resolve();
          });
        }),
    );
    await Promise.all(closes);
    await Promise.race([
      Promise.allSettled([...this.pendingDisconnects]),
      new Promise((r) => setTimeout(r, this.limits.integrationTimeoutMs).unref()),
    ]);
    if (this.sweepTimer) clearInterval(this.sweepTimer);
    this.sweepTimer = undefined;
    this.inflight.clear();
    this.wss?.close();
    this.wss = undefined;
    await new Promise<void>((resolve) => {
      server.close(() => resolve());
      server.closeAllConnections();
    });
    this.server = undefined;
  }

  stats(): GatewayStats {
    const c = this.counters;
    return {
      ...c,
      connectionsOpen: this.connections.size,
      connectionsRejected: { ...c.connectionsRejected },
      closesByReason: { ...c.closesByReason },
    };
  }

  /** Whether oversized single frames are detected (depends on ws internals; see README). */
  get frameLimitEnforced(): boolean {
    return this.frameLimitSupported;
  }

  // ------------------------------------------------------------------------------------------ HTTP

  private onHttpRequest(req: IncomingMessage, res: ServerResponse): void {
    if (this.httpApi?.handle(req, res)) return;
    const id = parseConnectionsPath(req.url ?? '/', this.stageName);
    if (id === undefined) {
      // Static files only off the @connections path, so agent audio posts never wait on a file lookup.
      if (!this.staticWeb) return notFound(req, res);
      this.staticWeb.handle(req, res).then(
        (served) => served || notFound(req, res),
        () => {
          if (!res.headersSent) res.writeHead(500, { 'Content-Type': 'application/json' });
          res.end(JSON.stringify({ message: 'Internal Server Error' }));
        },
      );
      return;
    }
    handleConnectionsRequest(req, res, id, {
      stage: this.stageName,
      maxMessageBytes: this.limits.maxMessageBytes,
      registry: this.registry,
      isAllowed: this.isAllowed,
      stageArn: `arn:aws:execute-api:${this.region}:${this.accountId}:${this.stageInfo.apiId}/${this.stageName}`,
    });
  }

  private readonly registry: ConnectionRegistry = {
    post: (id: string, data: Buffer): boolean => {
      const conn = this.connections.get(id);
      if (!conn || conn.ws.readyState !== WebSocket.OPEN) return false;
      // One message: text when the bytes are valid UTF-8, binary otherwise.
      conn.ws.send(data, { binary: !isUtf8(data) });
      conn.lastActiveAt = Date.now();
      this.counters.messagesOut++;
      this.counters.bytesOut += data.byteLength;
      return true;
    },
    describe: (id: string): ConnectionDescription | undefined => {
      const conn = this.connections.get(id);
      if (!conn) return undefined;
      return {
        connectedAt: conn.connectedAt,
        lastActiveAt: conn.lastActiveAt,
        sourceIp: conn.identity.sourceIp,
        ...(conn.identity.userAgent !== undefined ? { userAgent: conn.identity.userAgent } : {}),
      };
    },
    delete: (id: string): boolean => {
      const conn = this.connections.get(id);
      if (!conn) return false;
      this.serverClose(conn, 'deleteConnection', 1000, '');
      return true;
    },
  };

  // ------------------------------------------------------------------------------------------ $connect

  private reject(socket: Duplex, status: number, body?: string): void {
    this.counters.connectionsRejected[status] = (this.counters.connectionsRejected[status] ?? 0) + 1;
    rejectUpgrade(socket, status, body);
  }

  private async invokeBounded(functionName: string, event: unknown): Promise<Outcome> {
    let timer: NodeJS.Timeout | undefined;
    const timeout = new Promise<'timeout'>((resolve) => {
      timer = setTimeout(() => resolve('timeout'), this.limits.integrationTimeoutMs);
    });
    try {
      return await Promise.race([this.safeInvoke(functionName, event), timeout]);
    } finally {
      clearTimeout(timer);
    }
  }

  private safeInvoke(functionName: string, event: unknown): Promise<InvokeResult> {
    try {
      return this.invoker.invoke(functionName, event).catch(
        (err: unknown): InvokeResult => ({ ok: false, errorType: 'HandlerError', errorMessage: String(err) }),
      );
    } catch (err) {
      return Promise.resolve({ ok: false, errorType: 'HandlerError', errorMessage: String(err) });
    }
  }

  /** The stage as a connection's events describe it: through a custom domain, that domain is the domainName. */
  private stageFor(info: ConnectionInfo): StageInfo {
    return info.domainName ? { ...this.stageInfo, domainName: info.domainName } : this.stageInfo;
  }

  private async onUpgrade(req: IncomingMessage, socket: Duplex, head: Buffer): Promise<void> {
    socket.on('error', () => socket.destroy());
    const now = Date.now();
    const h = parseHandshake(req, this.port, now);
    if (this.stopping) return this.reject(socket, 503);
    const domain = this.customDomain && hostnameOf(h.headers) === this.customDomain.domainName ? this.customDomain : undefined;
    const stagePath = domain ? `/${domain.basePath ?? ''}`.replace(/\/$/, '') : `/${this.stageName}`;
    if (h.path !== stagePath && h.path !== `${stagePath}/`) return this.reject(socket, 404);
    if (!this.bucket.tryTake()) return this.reject(socket, 429);

    const info: ConnectionInfo = {
      connectionId: newGatewayId(),
      connectedAt: now,
      identity: { sourceIp: h.sourceIp, ...(h.userAgent !== undefined ? { userAgent: h.userAgent } : {}) },
      ...(domain ? { domainName: domain.domainName } : {}),
    };
    const requestId = newGatewayId();

    let integrationLatency: number | undefined;
    if (this.authorizer) {
      if (!identitySourcesPresent(this.authorizer.identitySource, h, this.stageVariables)) {
        return this.reject(socket, 401);
      }
      const arn = methodArn(this.region, this.accountId, this.stageInfo.apiId, this.stageName, '$connect');
      const ctx = requestContext(this.stageFor(info), info, '$connect', 'CONNECT', now, requestId);
      const started = Date.now();
      const outcome = await this.invokeBounded(
        this.authorizer.functionName,
        authorizerEvent(arn, h, this.stageVariables, ctx),
      );
      integrationLatency = Date.now() - started;
      if (outcome === 'timeout') return this.reject(socket, 500);
      const decision = judgeAuthorizer(outcome, arn);
      if (!decision.allow) return this.reject(socket, decision.status);
      info.authorizer = decision.authorizer;
    }

    if (this.connectFunction !== undefined) {
      const outcome = await this.invokeBounded(this.connectFunction, this.connectEvent(h, info, now, requestId, integrationLatency));
      if (outcome === 'timeout') return this.reject(socket, 504, JSON.stringify({ message: 'Endpoint request timed out' }));
      if (!outcome.ok) return this.reject(socket, 500);
      const payload = outcome.payload as { statusCode?: unknown; body?: unknown; headers?: unknown } | null | undefined;
      if (payload && typeof payload === 'object') {
        const status = Number(payload.statusCode ?? 200);
        if (!Number.isInteger(status) || status < 200 || status > 299) {
          const valid = Number.isInteger(status) && status >= 400 && status <= 599;
          return this.reject(socket, valid ? status : 500, typeof payload.body === 'string' ? payload.body : undefined);
        }
        const protocol = headerFrom(payload.headers, 'sec-websocket-protocol');
        if (protocol !== undefined) this.chosenProtocol.set(req, protocol);
      }
    }

    // The client may have given up while the authorizer / $connect ran: then the connection never existed.
    if (this.stopping || socket.destroyed || !socket.writable || !this.wss) {
      socket.destroy();
      return;
    }
    this.wss.handleUpgrade(req, socket, head, (ws) => this.onOpen(ws, info));
  }

  private connectEvent(
    h: Handshake,
    info: ConnectionInfo,
    now: number,
    requestId: string,
    integrationLatency: number | undefined,
  ): ConnectEvent {
    const ctx = requestContext(this.stageFor(info), info, '$connect', 'CONNECT', now, requestId);
    if (info.authorizer) {
      const withLatency: AuthorizerContext = { ...info.authorizer, integrationLatency: integrationLatency ?? 0 };
      ctx.authorizer = withLatency;
    }
    return {
      headers: h.headers,
      multiValueHeaders: h.multiValueHeaders,
      ...(h.queryStringParameters
        ? {
            queryStringParameters: h.queryStringParameters,
            multiValueQueryStringParameters: h.multiValueQueryStringParameters ?? {},
          }
        : {}),
      requestContext: ctx,
      isBase64Encoded: false,
    };
  }

  // ------------------------------------------------------------------------------------------ open connection

  private onOpen(ws: WebSocket, info: ConnectionInfo): void {
    const conn: Connection = {
      ...info,
      ws,
      lastActiveAt: Date.now(),
      closeCause: undefined,
      closeCode: 0,
      closeReason: '',
    };
    this.installFrameLimit(ws);
    ws.on('message', (data, isBinary) => this.onMessage(conn, data as Buffer, isBinary));
    ws.on('error', (err: Error & { code?: string }) => {
      if (conn.closeCause !== undefined) return;
      if (err.code === FRAME_TOO_BIG) this.markClosing(conn, 'frameTooBig', 1009, 'Message too big');
      else if (err.code === 'WS_ERR_UNSUPPORTED_MESSAGE_LENGTH') this.markClosing(conn, 'messageTooBig', 1009, 'Message too big');
      else this.markClosing(conn, 'protocolError', wsStatusCode(err) ?? 1002, err.message);
    });
    ws.on('close', (code, reason) => this.onClose(conn, code, reason));
    this.connections.set(conn.connectionId, conn);
    this.live.add(conn);
    this.counters.connectionsAccepted++;
  }

  /**
   * Frames over maxFrameBytes: ws only bounds whole messages (maxPayload), so hook its receiver's
   * `haveLength` step (called once a frame's length is known, before its payload is buffered).
   */
  private installFrameLimit(ws: WebSocket): void {
    const receiver = (ws as unknown as { _receiver?: Record<string, unknown> })._receiver;
    if (!receiver || typeof receiver.haveLength !== 'function' || typeof receiver.createError !== 'function') {
      this.frameLimitSupported = false;
      return;
    }
    const max = this.limits.maxFrameBytes;
    const original = receiver.haveLength as (this: unknown, cb: (err?: Error) => void) => void;
    receiver.haveLength = function haveLength(
      this: {
        _opcode: number;
        _payloadLength: number;
        createError: (ctor: ErrorConstructor, msg: string, prefix: boolean, status: number, code: string) => Error;
      },
      cb: (err?: Error) => void,
    ): void {
      if (this._opcode < 0x08 && this._payloadLength > max) {
        cb(this.createError(RangeError, 'Frame too big', false, 1009, FRAME_TOO_BIG));
        return;
      }
      original.call(this, cb);
    };
  }

  private onMessage(conn: Connection, data: Buffer, isBinary: boolean): void {
    if (conn.closeCause !== undefined) return;
    const now = Date.now();
    conn.lastActiveAt = now;
    this.counters.messagesIn++;
    let routeKey = '$default';
    let body: string;
    if (isBinary) {
      body = data.toString('base64');
    } else {
      body = data.toString('utf8');
      const selected = this.select(body);
      if (selected !== undefined && this.messageRoutes.has(selected)) routeKey = selected;
    }
    if (this.stageThrottle && !this.stageThrottle.tryTake()) {
      this.counters.messagesThrottled++;
      this.sendToClient(conn, gatewayErrorMessage('Too Many Requests', conn.connectionId, newGatewayId()));
      return;
    }
    const functionName = this.messageRoutes.get(routeKey);
    if (functionName === undefined) {
      this.counters.unroutedMessages++;
      this.sendToClient(conn, gatewayErrorMessage('Forbidden', conn.connectionId, newGatewayId()));
      return;
    }
    const event = messageEvent(this.stageFor(conn), conn, routeKey, body, isBinary, now);
    const pending: PendingIntegration = {
      conn,
      requestId: event.requestContext.requestId,
      deadline: now + this.limits.integrationTimeoutMs,
      done: false,
    };
    this.inflight.add(pending);
    // Not awaited: API Gateway does not serialize a connection's messages.
    void this.safeInvoke(functionName, event).then((result) => {
      if (pending.done) return;
      pending.done = true;
      this.inflight.delete(pending);
      if (!result.ok) {
        this.counters.integrationErrors++;
        this.sendToClient(conn, gatewayErrorMessage('Internal server error', conn.connectionId, pending.requestId));
      }
    });
  }

  private sendToClient(conn: Connection, text: string): void {
    if (conn.ws.readyState !== WebSocket.OPEN) return;
    conn.ws.send(text);
    conn.lastActiveAt = Date.now();
    this.counters.messagesOut++;
    this.counters.bytesOut += Buffer.byteLength(text);
  }

  /** One shared timer: idle and max-duration closes, integration timeouts. */
  private sweep(): void {
    const now = Date.now();
    for (const conn of this.connections.values()) {
      if (now - conn.lastActiveAt >= this.limits.idleTimeoutMs) this.serverClose(conn, 'idle', 1001, 'Going away');
      else if (now - conn.connectedAt >= this.limits.maxConnectionMs) {
        this.serverClose(conn, 'maxDuration', 1001, 'Going away');
      }
    }
    for (const p of this.inflight) {
      if (now < p.deadline) continue;
      p.done = true;
      this.inflight.delete(p);
      this.counters.integrationErrors++;
      this.counters.integrationTimeouts++;
      this.sendToClient(p.conn, gatewayErrorMessage('Endpoint request timed out', p.conn.connectionId, p.requestId));
    }
  }

  // ------------------------------------------------------------------------------------------ close

  /** Record why the connection is closing; from now on its id is unknown to @connections. */
  private markClosing(conn: Connection, cause: CloseCause, code: number, reason: string): void {
    conn.closeCause = cause;
    conn.closeCode = code;
    conn.closeReason = reason;
    this.counters.closesByReason[cause] = (this.counters.closesByReason[cause] ?? 0) + 1;
    if (this.connections.get(conn.connectionId) === conn) this.connections.delete(conn.connectionId);
  }

  private serverClose(conn: Connection, cause: CloseCause, code: number, reason: string): void {
    if (conn.closeCause !== undefined) return;
    this.markClosing(conn, cause, code, reason);
    conn.ws.close(code, reason);
  }

  private onClose(conn: Connection, code: number, reasonBuf: Buffer): void {
    if (conn.closeCause === undefined) {
      const reason = reasonBuf.toString('utf8');
      this.markClosing(conn, 'client', code, reason !== '' ? reason : (CLIENT_CLOSE_REASONS[code] ?? ''));
    }
    this.live.delete(conn);
    for (const p of this.inflight) {
      if (p.conn !== conn) continue;
      p.done = true;
      this.inflight.delete(p);
    }
    if (this.disconnectFunction === undefined) return;
    // Best effort, after the socket is gone; the result is ignored.
    const reason = conn.closeCode === 1000 && conn.closeReason === '' ? CLIENT_CLOSE_REASONS[1000]! : conn.closeReason;
    const event = disconnectEvent(this.stageFor(conn), conn, conn.closeCode, reason, Date.now());
    this.counters.disconnectInvocations++;
    const p = this.invokeBounded(this.disconnectFunction, event);
    this.pendingDisconnects.add(p);
    void p.finally(() => this.pendingDisconnects.delete(p));
  }
}

function notFound(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const body = JSON.stringify({ message: 'Not Found' });
  res.writeHead(404, { 'Content-Type': 'application/json', 'Content-Length': Buffer.byteLength(body) });
  res.end(body);
}

/** The close code ws attached to a receiver error (1002 protocol error, 1007 invalid UTF-8, …). */
function wsStatusCode(err: Error): number | undefined {
  for (const sym of Object.getOwnPropertySymbols(err)) {
    if (sym.description === 'status-code') {
      const v = (err as unknown as Record<symbol, unknown>)[sym];
      return typeof v === 'number' ? v : undefined;
    }
  }
  return undefined;
}

function headerFrom(headers: unknown, lowerName: string): string | undefined {
  if (typeof headers !== 'object' || headers === null) return undefined;
  for (const [k, v] of Object.entries(headers as Record<string, unknown>)) {
    if (k.toLowerCase() === lowerName && typeof v === 'string') return v;
  }
  return undefined;
}

const REJECT_MESSAGES: Record<number, string> = {
  401: 'Unauthorized',
  403: 'Forbidden',
  404: 'Not Found',
  429: 'Too Many Requests',
  500: 'Internal server error',
  503: 'Service Unavailable',
};

function rejectUpgrade(socket: Duplex, status: number, body?: string): void {
  if (socket.destroyed) return;
  const text = body ?? JSON.stringify({ message: REJECT_MESSAGES[status] ?? STATUS_CODES[status] ?? 'Error' });
  socket.once('finish', () => socket.destroy());
  socket.end(
    `HTTP/1.1 ${status} ${STATUS_CODES[status] ?? 'Error'}\r\n` +
      'Connection: close\r\n' +
      'Content-Type: application/json\r\n' +
      `Content-Length: ${Buffer.byteLength(text)}\r\n` +
      `x-amzn-RequestId: ${newGatewayId()}\r\n` +
      (status === 401 || status === 403 ? `x-amzn-ErrorType: ${status === 401 ? 'UnauthorizedException' : 'ForbiddenException'}\r\n` : '') +
      '\r\n' +
      text,
  );
}

/** The host name (no port) the client asked for, from its Host header. */
function hostnameOf(headers: Readonly<Record<string, string>>): string | undefined {
  const host = Object.entries(headers).find(([k]) => k.toLowerCase() === 'host')?.[1];
  return host?.replace(/:\d+$/, '').toLowerCase();
}
