/**
 * The whole system on one machine: API Gateway WebSocket (local/gateway), Lambda (local/runtime) running the
 * same bundles that deploy, DynamoDB (dynalite), and offline speech engines. Used by `npm start` and the tests.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomBytes } from 'node:crypto';
import path from 'node:path';
import { createTableInput } from '../functions/contracts/table-schema';
import { ALL_FUNCTIONS, AUTHORIZER, HTTP_CORS, HTTP_ROUTES, ROUTES } from '../functions/contracts/routes';
import { buildFunctions, bundlePath } from '../scripts/build-functions';
import { startChild, type ChildService } from './child';
import { WebSocketGateway } from './gateway/gateway';
import { ACCOUNT_ID, functionCredentials, localIam } from './iam';
import { LogSink } from './observability/log-sink';
import { scanOwnLogs, stackSecrets, type LogScanReport } from './observability/log-scan';
import { LambdaRuntime } from './runtime/runtime';
import type { DelayHandle, FunctionConfig, InvocationDelay, InvocationThrottle, Invoker, Placement, ThrottleHandle } from './runtime/types';
import { SecretsManagerServer } from './secrets/secrets-manager-server';
import { TwilioRestServer } from './vendors/twilio-rest-server';
import { frontDeskPolicy } from './vendors/bedrock/front-desk-policy';
import { BedrockRuntimeServer, HAIKU_CLASS_LATENCY, ZERO_MODEL_LATENCY } from './vendors/bedrock/server';
import { DEFAULT_MODEL_ID } from '../functions/contracts/model';
import type { Fault, Vendor, VendorFaultRates } from './vendors/behaviour';

// Lambda runs nodejs22.x; this machine has Node 20, for which the AWS SDK would print a deprecation warning.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export const STAGE = 'local';
export const TABLE_NAME = 'voice-agent-calls';
/**
 * prod's stage throttle (lib/config.ts; test/unit/rate-limit.test.ts keeps them equal): sized for 100 calls at Twilio's
 * 50 messages a second, so the load test and the soak meet the limit prod would. Not imported: lib/ loads aws-cdk-lib.
 */
export const LOCAL_STAGE_THROTTLE = { rateLimit: 7500, burstLimit: 10000 } as const;
/** The app secret (caller token, vendor keys), as `voice-agent/<env>` is on AWS. */
export const APP_SECRET_NAME = 'voice-agent/local';
const ROOT = path.resolve(__dirname, '..');

/**
 * Where the functions' speech comes from: the offline engines (default); local stand-ins for Deepgram and
 * ElevenLabs with the seed study's latency (`seed`) or none (`zero`); or the real vendors (`cloud`, keys required).
 */
export type Providers = 'offline' | 'seed' | 'zero' | 'cloud';
export const PROVIDERS: readonly Providers[] = ['offline', 'seed', 'zero', 'cloud'];

export interface LocalStackOptions {
  readonly providers?: Providers;
  /** What the local ElevenLabs says (seed, zero): Flite speech (default), or synthetic audio that costs no synthesis time. */
  readonly vendorAudio?: 'speech' | 'synthetic';
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
  /** Stage throttling; default LOCAL_STAGE_THROTTLE (prod's); `false` turns it off. */
  readonly stageThrottle?: { readonly rateLimit: number; readonly burstLimit: number } | false;
  /** How the runtime picks an idle environment: `mru` (default), `random` or `round-robin` (local/runtime/types.ts). */
  readonly placement?: Placement;
  /** Extra environment for every function (e.g. ENDPOINT_SILENCE_MS). */
  readonly functionEnv?: Readonly<Record<string, string>>;
  readonly logsDir?: string;
  readonly echoLogs?: boolean;
  readonly skipBuild?: boolean;
  /** The Twilio account's auth token (npm start: TWILIO_AUTH_TOKEN): signs the voice webhook and stream upgrades. */
  readonly twilioAuthToken?: string;
  /**
   * With `twilioAuthToken`: Twilio's REST API is the local stand-in (local/vendors/twilio-rest-server.ts, `twilioRest`)
   * for this account (generated when not given); `transferNumber` and `phoneNumber` go into the app secret as
   * `transferNumber` and `twilioPhoneNumber` (none: the line cannot transfer / place calls, as on AWS).
   */
  readonly twilio?: { readonly accountSid?: string; readonly transferNumber?: string; readonly phoneNumber?: string };
  readonly gatewayLimits?: ConstructorParameters<typeof WebSocketGateway>[0]['limits'];
  /**
   * Random faults in the vendor stand-ins (providers seed or zero): e.g. `{ rate: 0.01 }` fails 1 % of each vendor's
   * requests, spread evenly over `kinds` (default every Fault: http-500, http-429, timeout, stall, malformed, drop),
   * for `vendors` (default both). Injected faults are counted in `vendorFaultStats()`.
   */
  readonly vendorFaults?: VendorFaultRates;
  /**
   * A custom domain mapped to the stage (lib/config.ts `customDomain`): callers whose Host is `domainName` reach the
   * stage at `/<basePath>`, and the phone line's TwiML (and the authorizer's Twilio check) use
   * `ws://<domainName>/<basePath>` as the stream URL (`publicUrl`), as the deployed stack uses its wss:// one.
   */
  readonly customDomain?: { readonly domainName: string; readonly basePath?: string };
  /**
   * Who answers: the rule responder (default), or the front desk agent on a language model (`bedrock`), served here
   * by the Bedrock Runtime stand-in (local/vendors/bedrock/, `bedrock`) with its front desk policy — not a model.
   */
  readonly responder?: 'rules' | 'bedrock';
  /** The stand-in model's latency: Haiku-class (default; first token ≈ 0.4 s) or none (`zero`, or providers `zero`). */
  readonly modelLatency?: 'haiku' | 'zero';
}

/** How DynamoDB fails (local/dynamo/faults.cjs): 400 throttling, 500/503, or the connection reset. */
export type DynamoFaultKind = 'throttling' | 'provisioned-throughput' | 'internal-error' | 'unavailable' | 'reset';

/**
 * A DynamoDB fault rule: matching requests get `kind` with probability `rate` (default 1), for at most `count` faults
 * and/or `forMs` from now (an outage); `operations` filters (e.g. ['PutItem']); `callers: 'functions'` (default)
 * spares requests signed with the operator key (tests, tools), `'all'` does not.
 */
export interface DynamoFaultRule {
  readonly kind: DynamoFaultKind;
  readonly rate?: number;
  readonly count?: number;
  readonly forMs?: number;
  readonly operations?: readonly string[];
  readonly callers?: 'functions' | 'all';
}

export interface DynamoFaultStats {
  readonly rules: readonly (DynamoFaultRule & { id: number; injected: number })[];
  readonly injected: { total: number; byKind: Partial<Record<DynamoFaultKind, number>>; byOperation: Record<string, number> };
}

export interface VendorFaultStats {
  readonly deepgram: { requests: number; faults: Partial<Record<Fault, number>>; audioSeconds: number };
  readonly elevenlabs: { requests: number; faults: Partial<Record<Fault, number>> };
}

export class LocalStack {
  readonly token: string;
  readonly logs: LogSink;
  url = '';
  /** Twilio's REST API (calls: transfers, outbound), the stand-in, when the stack has a Twilio auth token. */
  twilioRest?: TwilioRestServer;
  /** Bedrock Runtime, the stand-in, when the responder is `bedrock` (tests script its faults through it). */
  bedrock?: BedrockRuntimeServer;
  /** The stream URL callers are given (the phone line's TwiML): the custom domain's when there is one, else `url`. */
  publicUrl = '';
  port = 0;
  dynamoEndpoint = '';
  runtime?: LambdaRuntime;
  gateway?: WebSocketGateway;
  /** Secrets Manager, in process; holds APP_SECRET_NAME. */
  secrets?: SecretsManagerServer;
  appSecretArn = '';
  private children: ChildService<unknown>[] = [];
  /** What the app secret holds: the values no log line may contain (log-scan). */
  private appSecret: Record<string, string> = {};
  /** This stack's log lines checked on stop() for audio, tokens and keys (issue 7; tools/log-scan.ts gathers them). */
  logScan?: LogScanReport;
  /** The vendor stand-ins' control server (local/vendors-process.ts), when they run. */
  private vendorControlUrl?: string;

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
    // Each function's IAM policy from the route table, enforced by dynalite, @connections and Secrets Manager.
    // The secret's ARN ends in six random characters, as IAM policies on a secret's name match it on AWS.
    const iam = localIam({
      tableName: TABLE_NAME,
      appSecretArn: `arn:aws:secretsmanager:us-east-1:${ACCOUNT_ID}:secret:${APP_SECRET_NAME}-??????`,
    });
    const [, dynamo, speech] = await Promise.all([
      o.skipBuild ? Promise.resolve() : buildFunctions({ quiet: true }),
      startChild<{ port: number }>('dynamodb', process.execPath, [path.join(__dirname, 'dynamo', 'dynalite-server.cjs')], {
        LOCAL_IAM_POLICY: JSON.stringify(iam.table),
      }),
      startChild<{ url: string }>('speech', process.execPath, ['--import', 'tsx', path.join(__dirname, 'speech-process.ts')], {}, 120_000),
    ]);
    this.children.push(dynamo, speech);
    const vendors = await this.startVendors(o.providers ?? 'offline', speech.ready.url);
    this.dynamoEndpoint = `http://127.0.0.1:${dynamo.ready.port}`;
    await new DynamoDBClient(localClientConfig(this.dynamoEndpoint)).send(new CreateTableCommand(createTableInput(TABLE_NAME)));
    // The callers' token reaches the functions only through the secret, as on AWS (never as an env var).
    this.secrets = new SecretsManagerServer({ isAllowed: iam.isAllowed });
    const secretsEndpoint = await this.secrets.start();
    const twilio: Record<string, string> = {};
    if (o.twilioAuthToken) {
      const accountSid = o.twilio?.accountSid ?? 'AC' + randomBytes(16).toString('hex');
      this.twilioRest = new TwilioRestServer({ accountSid, authToken: o.twilioAuthToken, numbers: o.twilio?.phoneNumber ? [o.twilio.phoneNumber] : [] });
      await this.twilioRest.start();
      Object.assign(twilio, {
        twilioAuthToken: o.twilioAuthToken,
        twilioAccountSid: accountSid,
        ...(o.twilio?.transferNumber ? { transferNumber: o.twilio.transferNumber } : {}),
        ...(o.twilio?.phoneNumber ? { twilioPhoneNumber: o.twilio.phoneNumber } : {}),
      });
    }
    const model: Record<string, string> = {};
    if (o.responder === 'bedrock') {
      const zero = (o.modelLatency ?? (o.providers === 'zero' ? 'zero' : 'haiku')) === 'zero';
      this.bedrock = new BedrockRuntimeServer({ latency: zero ? ZERO_MODEL_LATENCY : HAIKU_CLASS_LATENCY, policy: frontDeskPolicy(), isAllowed: iam.isAllowed });
      Object.assign(model, { RESPONDER: 'bedrock', BEDROCK_ENDPOINT: await this.bedrock.start(), BEDROCK_MODEL_ID: DEFAULT_MODEL_ID });
    }
    this.appSecretArn = this.secrets.putSecret(APP_SECRET_NAME, JSON.stringify((this.appSecret = { voiceAgentToken: this.token, ...vendors.keys, ...twilio })));

    // The gateway needs an invoker before the runtime exists (the runtime needs the gateway's port): late-bound.
    const invoker: Invoker = { invoke: (name, event) => this.runtime!.invoke(name, event) };
    this.gateway = new WebSocketGateway({
      invoker,
      routes: ROUTES.map((r) => ({ routeKey: r.routeKey, functionName: r.name })),
      authorizer: { functionName: AUTHORIZER.name, identitySource: [...AUTHORIZER.identitySource] },
      stage: STAGE,
      port: o.port ?? Number(process.env.PORT ?? 8080),
      limits: o.gatewayLimits,
      throttle: o.stageThrottle === false ? undefined : (o.stageThrottle ?? LOCAL_STAGE_THROTTLE),
      accountId: ACCOUNT_ID,
      isAllowed: iam.isAllowed,
      httpRoutes: HTTP_ROUTES.map((r) => ({ method: r.method, path: r.path, functionName: r.name })),
      httpCors: HTTP_CORS,
      // The browser page, on the same origin as the token endpoint it calls (on AWS: an S3 bucket, lib/constructs/web-client.ts).
      staticRoot: path.join(ROOT, 'web'),
      customDomain: o.customDomain,
    });
    const { url, port } = await this.gateway.start();
    this.url = url;
    this.port = port;
    this.publicUrl = o.customDomain ? `ws://${o.customDomain.domainName}${o.customDomain.basePath ? `/${o.customDomain.basePath}` : ''}` : url;

    const env: Record<string, string> = {
      DYNAMODB_ENDPOINT: this.dynamoEndpoint,
      OFFLINE_SPEECH_URL: speech.ready.url,
      SECRETS_MANAGER_ENDPOINT: secretsEndpoint,
      ...vendors.env,
      ...model,
      POWERTOOLS_TRACE_ENABLED: 'false',
      POWERTOOLS_LOG_LEVEL: 'INFO',
      // Lambda runs nodejs22.x; this machine has Node 20, for which the SDK would warn in every environment.
      AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true',
      ...o.functionEnv,
    };
    const provisioned = o.provisioned ?? 2;
    const functions: FunctionConfig[] = ALL_FUNCTIONS.map((fn) => ({
      name: fn.name,
      bundlePath: bundlePath(fn.name),
      timeoutSeconds: fn.timeoutSeconds,
      memoryMb: fn.memoryMb,
      provisionedConcurrency: o.provisionedByFunction?.[fn.name] ?? (fn.hotPath ? provisioned : 0),
      environment: {
        ...env,
        // Its own identity (local/iam), as Lambda gives each function its role's credentials.
        ...functionCredentials(fn.name),
        // As on AWS, the table name goes to the functions that may use the table.
        ...(fn.permissions.table.length > 0 ? { CALLS_TABLE: TABLE_NAME } : {}),
        // As on AWS (lib/constructs/route-functions.ts), only the functions that may post to connections are told where.
        ...(fn.permissions.manageConnections ? { CONNECTIONS_ENDPOINT: `http://127.0.0.1:${port}/${STAGE}` } : {}),
        // Likewise only the functions that may read the secret are told which it is.
        ...(fn.permissions.appSecret ? { APP_SECRET_ID: this.appSecretArn } : {}),
        // Twilio's REST API is the stand-in here (functions/adapters/twilio-calls.ts); on AWS, api.twilio.com.
        ...(fn.permissions.appSecret && this.twilioRest ? { TWILIO_API_URL: this.twilioRest.url } : {}),
        // The HTTP routes point callers at this stage: the phone line's TwiML, the browser token's `url` (lib: the
        // WebSocket stage's wss:// URL, or its custom domain's).
        // The authorizer checks Twilio's signature against it when a caller came through its host.
        ...(HTTP_ROUTES.some((r) => r.name === fn.name) || fn.name === AUTHORIZER.name ? { VOICE_STREAM_URL: this.publicUrl } : {}),
      },
    }));
    this.runtime = new LambdaRuntime({
      functions,
      accountConcurrency: o.accountConcurrency ?? 1000,
      placement: o.placement,
      onLog: this.logs.write,
    });
    await this.runtime.start();
  }

  /** The vendor stand-ins (seed, zero) or the vendors' keys (cloud): what goes into the secret and the functions' env. */
  private async startVendors(providers: Providers, speechUrl: string): Promise<{ keys: Record<string, string>; env: Record<string, string> }> {
    if (providers === 'offline') return { keys: {}, env: {} };
    if (providers === 'cloud') {
      const deepgramApiKey = process.env.DEEPGRAM_API_KEY;
      const elevenLabsApiKey = process.env.ELEVENLABS_API_KEY;
      if (!deepgramApiKey || !elevenLabsApiKey) {
        throw new Error('PROVIDERS=cloud calls the real Deepgram and ElevenLabs: set DEEPGRAM_API_KEY and ELEVENLABS_API_KEY');
      }
      return { keys: { deepgramApiKey, elevenLabsApiKey }, env: { SPEECH_PROVIDERS: 'vendors' } };
    }
    const keys = { deepgramApiKey: randomBytes(20).toString('hex'), elevenLabsApiKey: randomBytes(20).toString('hex') };
    const child = await startChild<{ deepgramUrl: string; elevenLabsUrl: string; controlUrl: string }>(
      'vendors',
      process.execPath,
      ['--import', 'tsx', path.join(__dirname, 'vendors-process.ts')],
      {
        VENDOR_LATENCY: providers,
        VENDOR_AUDIO: this.options.vendorAudio ?? 'speech',
        SPEECH_URL: speechUrl,
        DEEPGRAM_API_KEY: keys.deepgramApiKey,
        ELEVENLABS_API_KEY: keys.elevenLabsApiKey,
        ...(this.options.vendorFaults ? { VENDOR_FAULTS: JSON.stringify(this.options.vendorFaults) } : {}),
      },
      120_000,
    );
    this.children.push(child);
    this.vendorControlUrl = child.ready.controlUrl;
    return {
      keys,
      env: { SPEECH_PROVIDERS: 'vendors', DEEPGRAM_BASE_URL: child.ready.deepgramUrl, ELEVENLABS_BASE_URL: child.ready.elevenLabsUrl },
    };
  }

  /** DynamoDB requests by operation since the stack started, with their bytes and injected faults (local/dynamo/dynalite-server.cjs). */
  async dynamoStats(): Promise<Record<string, { requests: number; requestBytes: number; responseBytes: number; faults: number }>> {
    const res = await fetch(`${this.dynamoEndpoint}/__local/stats`);
    return (await res.json()) as Record<string, { requests: number; requestBytes: number; responseBytes: number; faults: number }>;
  }

  /** Adds a DynamoDB fault rule (see DynamoFaultRule), or `{ clear: true }` removes them all. */
  async dynamoFaults(rule: DynamoFaultRule | { clear: true }): Promise<void> {
    await control(`${this.dynamoEndpoint}/__local/faults`, rule);
  }

  /** The DynamoDB fault rules in force and every fault injected since the stack started. */
  async dynamoFaultStats(): Promise<DynamoFaultStats> {
    return (await (await fetch(`${this.dynamoEndpoint}/__local/faults`)).json()) as DynamoFaultStats;
  }

  /**
   * Scripts vendor faults (providers seed or zero): the next `count` (default 1) requests of `vendor` (default both)
   * get `next`; `{ clear: true }` drops the scripted faults not yet taken (random ones from `vendorFaults` go on).
   */
  async vendorFaults(command: { next: Fault; count?: number; vendor?: Vendor } | { clear: true; vendor?: Vendor }): Promise<void> {
    await control(`${this.requireVendors()}/faults`, command);
  }

  /** Requests each vendor stand-in answered and the faults it injected, by kind. */
  async vendorFaultStats(): Promise<VendorFaultStats> {
    return (await (await fetch(`${this.requireVendors()}/stats`)).json()) as VendorFaultStats;
  }

  private requireVendors(): string {
    if (!this.vendorControlUrl) throw new Error("vendor faults need the vendor stand-ins: providers 'seed' or 'zero'");
    return this.vendorControlUrl;
  }

  /**
   * Fault injection: holds matching invocations of a function for `delayMs` before they reach an environment (a cold
   * start on AWS, a queue here), so later messages overtake them; e.g. one speech frame of a call:
   * `stack.delayInvocations({ functionName: 'media', match: (e) => …, delayMs: 800, count: 1 })`. The held invocation
   * counts toward concurrency and keeps the gateway's requestTimeEpoch. See local/runtime/types.ts (InvocationDelay).
   */
  delayInvocations(delay: InvocationDelay): DelayHandle {
    if (!this.runtime) throw new Error('the stack is not started');
    return this.runtime.delayInvocations(delay);
  }

  /**
   * Fault injection: refuses matching invocations of a function as Lambda refuses one over its concurrency
   * (`Throttled`): the event is lost and the gateway answers the caller `{"message": "Internal server error", …}`, as
   * API Gateway does. See local/runtime/types.ts (InvocationThrottle).
   */
  throttleInvocations(throttle: InvocationThrottle): ThrottleHandle {
    if (!this.runtime) throw new Error('the stack is not started');
    return this.runtime.throttleInvocations(throttle);
  }

  /** The stack's helper processes (dynamodb, speech, vendors) and their pids: where tools/cpu-breakdown.ts reads CPU. */
  childProcesses(): { name: string; pid: number }[] {
    return this.children.flatMap((c) => (c.process.pid !== undefined ? [{ name: c.name, pid: c.process.pid }] : []));
  }

  /** The browser page (web/), served by the gateway; it asks this origin for a short-lived token. */
  pageUrl(): string {
    return `http://127.0.0.1:${this.port}/`;
  }

  /** The URL a caller connects to (with its token). */
  callerUrl(): string {
    return `${this.url}?token=${encodeURIComponent(this.token)}`;
  }

  /** Stops every part that started, each whatever another one's stop did (a part left running outlives the stack). */
  async stop(): Promise<void> {
    const children = this.children.splice(0);
    const stopping = (name: string, stop: () => Promise<unknown>) =>
      stop().catch((err: unknown) => console.warn(`local stack: stopping ${name} failed: ${err instanceof Error ? err.message : String(err)}`));
    if (this.gateway) await stopping('gateway', () => this.gateway!.stop());
    if (this.runtime) await stopping('runtime', () => this.runtime!.stop());
    if (this.secrets) await stopping('secrets', () => this.secrets!.stop());
    if (this.twilioRest) await stopping('twilio-rest', () => this.twilioRest!.stop());
    if (this.bedrock) await stopping('bedrock', () => this.bedrock!.close());
    await Promise.all(children.map((c) => stopping(c.name, () => c.stop())));
    await this.logs.close();
    this.logScan = scanOwnLogs(this.logs, stackSecrets({ voiceAgentToken: this.token, twilioAuthToken: this.options.twilioAuthToken, ...this.appSecret })) ?? this.logScan;
  }
}

/** POSTs a command to a local control endpoint; throws with its error when refused. */
async function control(url: string, body: unknown): Promise<void> {
  const res = await fetch(url, { method: 'POST', headers: { 'content-type': 'application/json' }, body: JSON.stringify(body) });
  if (!res.ok) throw new Error(`${url}: ${res.status} ${await res.text()}`);
}

export function localClientConfig(endpoint: string) {
  return { endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } };
}
