/**
 * The whole system on one machine: API Gateway WebSocket (local/gateway), Lambda (local/runtime) running the
 * same bundles that deploy, DynamoDB (dynalite), and offline speech engines. Used by `npm start` and the tests.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createTableInput } from '../functions/adapters/table-schema';
import { AUTHORIZER, ROUTES } from '../functions/routes';
import { buildFunctions, bundlePath } from '../scripts/build-functions';
import { startChild, type ChildService } from './child';
import { WebSocketGateway } from './gateway/gateway';
import { LogSink } from './observability/log-sink';
import { LambdaRuntime } from './runtime/runtime';
import type { FunctionConfig, Invoker } from './runtime/types';

// Lambda runs nodejs22.x; this machine has Node 20, for which the AWS SDK would print a deprecation warning.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const STAGE = 'local';
export const TABLE_NAME = 'voice-agent-calls';
const ROOT = path.resolve(__dirname, '..');

export interface LocalStackOptions {
  /** Gateway port; 0 picks a free one. */
  readonly port?: number;
  readonly token?: string;
  /** Pre-initialized environments per latency-critical function (provisioned concurrency); 0 disables. */
  readonly provisioned?: number;
  /**
   * Per-function overrides. `media` runs each turn inline, so it needs about one environment per turn in flight
   * plus one or two for frames: size it to the number of calls expected at once.
   */
  readonly provisionedByFunction?: Readonly<Record<string, number>>;
  readonly accountConcurrency?: number;
  readonly placement?: 'mru' | 'random';
  /** Extra environment for every function (e.g. ENDPOINT_SILENCE_MS). */
  readonly functionEnv?: Readonly<Record<string, string>>;
  readonly logsDir?: string;
  readonly echoLogs?: boolean;
  readonly skipBuild?: boolean;
  readonly gatewayLimits?: ConstructorParameters<typeof WebSocketGateway>[0]['limits'];
}

export class LocalStack {
  readonly token: string;
  readonly logs: LogSink;
  url = '';
  port = 0;
  dynamoEndpoint = '';
  runtime?: LambdaRuntime;
  gateway?: WebSocketGateway;
  private children: ChildService<unknown>[] = [];

  constructor(private readonly options: LocalStackOptions = {}) {
    this.token = options.token ?? randomBytes(12).toString('base64url');
    this.logs = new LogSink(options.logsDir ?? path.join(ROOT, '.cache', 'logs'), options.echoLogs ?? false);
  }

  async start(): Promise<this> {
    try {
      await this.startAll();
      return this;
    } catch (err) {
      await this.stop();
      throw err;
    }
  }

  private async startAll(): Promise<void> {
    const o = this.options;
    const [, dynamo, speech] = await Promise.all([
      o.skipBuild ? Promise.resolve() : buildFunctions({ quiet: true }),
      startChild<{ port: number }>('dynamodb', process.execPath, [path.join(__dirname, 'dynamo', 'dynalite-server.cjs')]),
      startChild<{ url: string }>('speech', process.execPath, ['--import', 'tsx', path.join(__dirname, 'speech-process.ts')], {}, 120_000),
    ]);
    this.children.push(dynamo, speech);
    this.dynamoEndpoint = `http://127.0.0.1:${dynamo.ready.port}`;
    await new DynamoDBClient(localClientConfig(this.dynamoEndpoint)).send(new CreateTableCommand(createTableInput(TABLE_NAME)));

    // The gateway needs an invoker before the runtime exists (the runtime needs the gateway's port): late-bound.
    const invoker: Invoker = { invoke: (name, event) => this.runtime!.invoke(name, event) };
    this.gateway = new WebSocketGateway({
      invoker,
      routes: ROUTES.map((r) => ({ routeKey: r.routeKey, functionName: r.name })),
      authorizer: { functionName: AUTHORIZER.name, identitySource: [...AUTHORIZER.identitySource] },
      stage: STAGE,
      port: o.port ?? Number(process.env.PORT ?? 8080),
      limits: o.gatewayLimits,
    });
    const { url, port } = await this.gateway.start();
    this.url = url;
    this.port = port;

    const env: Record<string, string> = {
      CALLS_TABLE: TABLE_NAME,
      DYNAMODB_ENDPOINT: this.dynamoEndpoint,
      OFFLINE_SPEECH_URL: speech.ready.url,
      CONNECTIONS_ENDPOINT: `http://127.0.0.1:${port}/${STAGE}`,
      VOICE_AGENT_TOKEN: this.token,
      AWS_ACCESS_KEY_ID: 'local',
      AWS_SECRET_ACCESS_KEY: 'local',
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      // Lambda runs nodejs22.x; this machine has Node 20, for which the SDK would warn in every environment.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...o.functionEnv,
    };
    const provisioned = o.provisioned ?? 2;
    const functions: FunctionConfig[] = [...ROUTES, AUTHORIZER].map((fn) => ({
      name: fn.name,
      bundlePath: bundlePath(fn.name),
      timeoutSeconds: fn.timeoutSeconds,
      memoryMb: fn.memoryMb,
      provisionedConcurrency: o.provisionedByFunction?.[fn.name] ?? (fn.hotPath ? provisioned : 0),
      environment: env,
    }));
    this.runtime = new LambdaRuntime({
      functions,
      accountConcurrency: o.accountConcurrency ?? 1000,
      placement: o.placement,
      onLog: this.logs.write,
    });
    await this.runtime.start();
  }

  /** The URL a caller connects to (with its token). */
  callerUrl(): string {
    return `${this.url}?token=${encodeURIComponent(this.token)}`;
  }

  async stop(): Promise<void> {
    await this.gateway?.stop().catch(() => undefined);
    await this.runtime?.stop().catch(() => undefined);
    await Promise.all(this.children.map((c) => c.stop()));
    this.children = [];
    await this.logs.close();
  }
}

export function localClientConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}
