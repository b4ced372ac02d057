/**
 * Everything that differs between environments, in one typed place. Constructs take these values as props and
 * never look at the environment name themselves.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { EnvName } from './environments';
import { DEFAULT_MODEL_ID } from '../functions/contracts/model';

/** Raises the provisioned floor during the hours calls come in; utilization scaling still works on top of it. */
export interface BusinessHours {
  /** IANA time zone the hours are in. */
  readonly timeZone: string;
  /** Cron day-of-week field, e.g. `MON-FRI`. */
  readonly weekDays: string;
  /** Hour (0–23) the floor is raised, and the hour it drops back to `provisioned`. */
  readonly startHour: number;
  readonly endHour: number;
  /** Provisioned environments per hot-path function during business hours. */
  readonly provisioned: number;
}

export interface HotPathConcurrency {
  /** Provisioned environments per latency-critical function at all times. */
  readonly provisioned: number;
  /** Upper bound of provisioned concurrency when utilization scaling raises it. */
  readonly maxProvisioned: number;
  /** Provisioned-concurrency utilization that scaling holds (0–1). */
  readonly utilizationTarget: number;
  readonly businessHours?: BusinessHours;
}

/** Alarm thresholds. Each alarm fires when `datapointsToAlarm` of the last `evaluationPeriods` minutes breach. */
export interface AlarmThresholds {
  /** Turn latency p95 (end of caller speech → first agent audio), ms. */
  readonly turnLatencyP95Ms: number;
  /** Provider errors as a percentage of turns. */
  readonly providerErrorRatePercent: number;
  /** Lambda errors (crashes, timeouts) plus handler failures caught and answered with 500, per minute. */
  readonly functionErrorsPerMinute: number;
  /** Throttled Lambda invocations per minute. */
  readonly throttlesPerMinute: number;
  /** Hot-path invocations that found no provisioned environment (cold starts) per minute. */
  readonly spilloverPerMinute: number;
  /** Throttled DynamoDB requests per minute. */
  readonly dynamoThrottlesPerMinute: number;
  /** Failed language-model calls as a percentage of model calls (responder `bedrock`). */
  readonly llmErrorRatePercent: number;
  readonly evaluationPeriods: number;
  readonly datapointsToAlarm: number;
}

/**
 * The WebSocket stage behind your own domain name (a Regional API Gateway domain name and an API mapping): callers,
 * and Twilio's <Stream url>, use `wss://<domainName>/<basePath>`. The ACM certificate must cover the name and live in
 * the stack's region; the DNS record (a CNAME to the `CustomDomainTarget` output) is yours to create. API Gateway
 * cannot put a WebSocket API on the same domain name as an HTTP API: the Twilio webhook keeps its own URL.
 */
export interface CustomDomain {
  readonly domainName: string;
  readonly certificateArn: string;
  /** The API mapping's path (one level: letters, digits and $-_.+!*'()); none maps the stage at the domain's root. */
  readonly basePath?: string;
}

/** Refuses a custom domain API Gateway would refuse at deploy time. */
export function checkCustomDomain(domain: CustomDomain): void {
  if (!/^(?=.{1,253}$)([a-z0-9]([a-z0-9-]{0,61}[a-z0-9])?\.)+[a-z]{2,63}$/.test(domain.domainName)) {
    throw new Error(`customDomain.domainName ${domain.domainName}: a lower-case DNS name such as voice.example.com`);
  }
  if (!/^arn:aws[a-z-]*:acm:[a-z0-9-]+:\d{12}:certificate\/[A-Za-z0-9-]+$/.test(domain.certificateArn)) {
    throw new Error(`customDomain.certificateArn ${domain.certificateArn}: an ACM certificate ARN (arn:aws:acm:<region>:<account>:certificate/<id>)`);
  }
  if (domain.basePath !== undefined && !/^[A-Za-z0-9$\-_.+!*'()]{1,300}$/.test(domain.basePath)) {
    throw new Error(`customDomain.basePath ${domain.basePath}: one level of letters, digits and $-_.+!*'() (API Gateway's API mapping rules)`);
  }
}

/**
 * Who answers callers: the front desk's rules (no model access needed: the default, so a first deploy works on any
 * account), or the front desk agent on a language model in Amazon Bedrock (functions/domain/responder/front-desk-agent.ts),
 * the rules remaining its fallback. The account must have access to the model (Bedrock console → Model access).
 */
export interface ResponderSettings {
  readonly kind: 'rules' | 'bedrock';
  /** Model id, inference profile id (e.g. `us.…`) or ARN; IAM allows exactly this one. */
  readonly modelId: string;
  readonly maxTokens: number;
  readonly temperature: number;
}

export const DEFAULT_RESPONDER: ResponderSettings = { kind: 'rules', modelId: DEFAULT_MODEL_ID, maxTokens: 300, temperature: 0.3 };

export interface EnvironmentConfig {
  /** The per-turn latency budget the dashboard draws and the latency alarm defaults to (ms). */
  readonly latencyBudgetMs: number;
  /** Memory (MB) per function name, where it differs from the route table's default (functions/contracts/routes.ts). */
  readonly memoryMb: Readonly<Partial<Record<string, number>>>;
  readonly hotPath: HotPathConcurrency;
  /** Stage-wide API Gateway throttling: steady messages/s and burst. Twilio sends 50 messages/s per call. */
  readonly stageThrottle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Per-route API Gateway metrics (costs one set of CloudWatch metrics per route). */
  readonly detailedRouteMetrics: boolean;
  readonly table: {
    /** Keep the table (and its data) when the stack is deleted. */
    readonly retain: boolean;
    /** Refuse DeleteTable until switched off. */
    readonly deletionProtection: boolean;
    /**
     * How long a call and its turns are kept (hours; DynamoDB TTL). Transcripts are personal data: keep them no longer
     * than the on-call history needs. Caller audio is kept an hour regardless (table-schema.ts RETENTION).
     */
    readonly callRetentionHours: number;
  };
  readonly logs: { readonly retention: RetentionDays; readonly retain: boolean };
  readonly alarms: AlarmThresholds;
  /** Where alarm notifications go (an SNS e-mail subscription); `-c alarmEmail=…` overrides. None: topic only. */
  readonly alarmEmail?: string;
  /**
   * Sets the account's API Gateway CloudWatch Logs role (an account-wide, per-region setting WebSocket access
   * logging requires). Switch off when the account already has one.
   */
  readonly manageApiGatewayLogRole: boolean;
  /** Serve the WebSocket stage at your own domain name (none: API Gateway's execute-api address). */
  readonly customDomain?: CustomDomain;
  /** Who answers; `-c responder=bedrock` and `-c modelId=…` override. */
  readonly responder: ResponderSettings;
}

/** The seed study's target for a turn (docs/ARCHITECTURE.md). */
const SEED_BUDGET_MS = 600;

export const ENVIRONMENT_CONFIG: Readonly<Record<EnvName, EnvironmentConfig>> = {
  dev: {
    latencyBudgetMs: SEED_BUDGET_MS,
    memoryMb: {},
    // media runs turns inline: about one environment per turn in flight plus one or two for frames (docs/ARCHITECTURE.md).
    hotPath: { provisioned: 1, maxProvisioned: 4, utilizationTarget: 0.7 },
    stageThrottle: { rateLimit: 500, burstLimit: 1000 }, // ~10 calls
    detailedRouteMetrics: false,
    table: { retain: false, deletionProtection: false, callRetentionHours: 24 },
    logs: { retention: RetentionDays.ONE_WEEK, retain: false },
    alarms: {
      turnLatencyP95Ms: 1000,
      providerErrorRatePercent: 20,
      functionErrorsPerMinute: 5,
      throttlesPerMinute: 5,
      spilloverPerMinute: 100,
      dynamoThrottlesPerMinute: 5,
      llmErrorRatePercent: 20,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    },
    manageApiGatewayLogRole: true,
    responder: DEFAULT_RESPONDER,
  },
  staging: {
    latencyBudgetMs: SEED_BUDGET_MS,
    memoryMb: {},
    hotPath: { provisioned: 2, maxProvisioned: 20, utilizationTarget: 0.7 },
    stageThrottle: { rateLimit: 2500, burstLimit: 5000 }, // ~50 calls
    detailedRouteMetrics: true,
    table: { retain: false, deletionProtection: false, callRetentionHours: 72 },
    logs: { retention: RetentionDays.TWO_WEEKS, retain: false },
    alarms: {
      turnLatencyP95Ms: SEED_BUDGET_MS,
      providerErrorRatePercent: 5,
      functionErrorsPerMinute: 1,
      throttlesPerMinute: 1,
      spilloverPerMinute: 50,
      dynamoThrottlesPerMinute: 1,
      llmErrorRatePercent: 5,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    },
    manageApiGatewayLogRole: true,
    responder: DEFAULT_RESPONDER,
  },
  prod: {
    latencyBudgetMs: SEED_BUDGET_MS,
    // The turn path's CPU work (codec, VAD, JSON) scales with memory: Lambda gives one full vCPU at 1769 MB.
    memoryMb: { media: 1769, dtmf: 1769 },
    hotPath: {
      provisioned: 10,
      maxProvisioned: 120,
      utilizationTarget: 0.6,
      businessHours: { timeZone: 'America/New_York', weekDays: 'MON-FRI', startHour: 8, endHour: 18, provisioned: 30 },
    },
    // 100 concurrent calls at 50 messages/s plus marks, with headroom; within the account's default 10,000/s.
    stageThrottle: { rateLimit: 7500, burstLimit: 10000 },
    detailedRouteMetrics: true,
    // A week: an alarm on Friday night is still explainable on Monday, and no longer.
    table: { retain: true, deletionProtection: true, callRetentionHours: 168 },
    logs: { retention: RetentionDays.ONE_MONTH, retain: true },
    alarms: {
      turnLatencyP95Ms: SEED_BUDGET_MS,
      providerErrorRatePercent: 2,
      functionErrorsPerMinute: 1,
      throttlesPerMinute: 1,
      spilloverPerMinute: 20,
      dynamoThrottlesPerMinute: 1,
      llmErrorRatePercent: 5,
      evaluationPeriods: 5,
      datapointsToAlarm: 3,
    },
    manageApiGatewayLogRole: true,
    responder: DEFAULT_RESPONDER,
  },
};

/** What `-c key=value` may change for one deploy (bin/app.ts): settings that depend on the target account. */
export interface DeployOverrides {
  readonly config: EnvironmentConfig;
  /** The account's unreserved Lambda concurrency, when the deployer states it (`npm run preflight` prints it). */
  readonly accountConcurrency?: number;
}

/**
 * `alarmEmail=…`; `provisioned=off` (no provisioned concurrency: an account whose quota has none to give);
 * `manageApiGatewayLogRole=false` (the account already has API Gateway's CloudWatch Logs role); `accountConcurrency=N`;
 * `responder=rules|bedrock` and `modelId=…` (who answers).
 * Anything else under those keys is refused, naming the key.
 */
export function withDeployOverrides(base: EnvironmentConfig, context: (key: string) => unknown): DeployOverrides {
  let config = base;
  const text = (key: string): string | undefined => {
    const value = context(key);
    return value === undefined || value === null || value === '' ? undefined : String(value);
  };
  const alarmEmail = text('alarmEmail');
  if (alarmEmail) config = { ...config, alarmEmail };
  const provisioned = text('provisioned');
  if (provisioned !== undefined) {
    if (provisioned !== 'off') throw new Error(`-c provisioned=${provisioned}: only "off" is understood (the amounts live in lib/config.ts)`);
    config = { ...config, hotPath: { provisioned: 0, maxProvisioned: 0, utilizationTarget: config.hotPath.utilizationTarget } };
  }
  const logRole = text('manageApiGatewayLogRole');
  if (logRole !== undefined) {
    if (logRole !== 'true' && logRole !== 'false') throw new Error(`-c manageApiGatewayLogRole=${logRole}: true or false`);
    config = { ...config, manageApiGatewayLogRole: logRole === 'true' };
  }
  const responder = text('responder');
  if (responder !== undefined) {
    if (responder !== 'rules' && responder !== 'bedrock') throw new Error(`-c responder=${responder}: rules or bedrock`);
    config = { ...config, responder: { ...config.responder, kind: responder } };
  }
  const modelId = text('modelId');
  if (modelId !== undefined) {
    if (!/^(arn:aws[a-z-]*:bedrock:[a-z0-9-]+:\d{0,12}:[a-z-]+\/)?[A-Za-z0-9._:-]+$/.test(modelId)) throw new Error(`-c modelId=${modelId}: a Bedrock model id, inference profile id or ARN`);
    config = { ...config, responder: { ...config.responder, modelId } };
  }
  const concurrency = text('accountConcurrency');
  if (concurrency === undefined) return { config };
  const n = Number(concurrency);
  if (!Number.isInteger(n) || n < 0) throw new Error(`-c accountConcurrency=${concurrency}: a whole number (the account's unreserved Lambda concurrency)`);
  return { config, accountConcurrency: n };
}
