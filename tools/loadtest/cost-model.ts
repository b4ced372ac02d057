/**
 * What a call-minute costs on AWS, from what a load test measured (MeasuredCounts), at public list prices: API
 * Gateway WebSocket messages and connection minutes, Lambda requests / duration / provisioned concurrency (arm64,
 * as lib/constructs/route-functions.ts deploys it), DynamoDB on-demand request units, and data transfer out. The
 * monthly figure scales the per-call-minute costs to a scenario (concurrent calls × hours a day × days a month)
 * and adds provisioned concurrency, which is billed by the hour whether calls come or not.
 *
 * Counts measured at different frame sizes (20 ms, 100 ms) are simply different inputs: nothing here assumes a
 * frame size. Free tiers, volume tiers beyond the first, and anything not metered by the load test (CloudWatch,
 * X-Ray, Secrets Manager, DynamoDB storage, the speech and language vendors) are left out; `assumptions` says so.
 */
import { ENVIRONMENT_CONFIG } from '../../lib/config';
import type { EnvName } from '../../lib/environments';
import { ALL_FUNCTIONS } from '../../functions/contracts/routes';
import type { MeasuredCounts } from './report-types';

// ---------------------------------------------------------------------------------------------------------------
// Prices
// ---------------------------------------------------------------------------------------------------------------

export interface PriceLine {
  readonly item: string;
  /** USD per `per` units of `unit`. */
  readonly usd: number;
  readonly per: number;
  readonly unit: string;
  /** The provider's own price page for this line. */
  readonly source: string;
  /** Where the number itself was read, when that was not the provider page's text (its rates render client-side). */
  readonly evidence?: string;
  /** The number was confirmed against a published source on `asOf`; false: best known value, not confirmed. */
  readonly verified: boolean;
  readonly note?: string;
}

export type PriceKey =
  | 'apigwMessages'
  | 'apigwConnectionMinutes'
  | 'lambdaRequests'
  | 'lambdaDuration'
  | 'lambdaProvisioned'
  | 'lambdaProvisionedDuration'
  | 'dynamodbWrites'
  | 'dynamodbReads'
  | 'dataTransferOut';

export interface PriceTable {
  readonly asOf: string;
  readonly region: 'us-east-1';
  readonly currency: 'USD';
  /** The Lambda architecture the prices are for: the stack's (lib/constructs/route-functions.ts, `Architecture.ARM_64`). */
  readonly lambdaArchitecture: 'arm64' | 'x86_64';
  readonly lines: Readonly<Record<PriceKey, PriceLine>>;
}

const APIGW_PAGE = 'https://aws.amazon.com/api-gateway/pricing/';
const LAMBDA_PAGE = 'https://aws.amazon.com/lambda/pricing/';
const DYNAMODB_PAGE = 'https://aws.amazon.com/dynamodb/pricing/on-demand/';
const EC2_DATA_TRANSFER_PAGE = 'https://aws.amazon.com/ec2/pricing/on-demand/';
/** A transcription of the API Gateway pricing page's worked examples (the page's rate table renders client-side). */
const APIGW_TRANSCRIPTION =
  'https://raw.githubusercontent.com/api-evangelist/amazon-web-services/refs/heads/main/plans/amazon-web-services-plans-pricing.yml';

/** Public list prices, us-east-1, first volume tier. Re-check them (and `asOf`) before quoting a result. */
export const PRICES: PriceTable = {
  asOf: '2026-11-24',
  region: 'us-east-1',
  currency: 'USD',
  lambdaArchitecture: 'arm64',
  lines: {
    apigwMessages: {
      item: 'API Gateway WebSocket messages (sent + received)',
      usd: 1.0,
      per: 1_000_000,
      unit: 'messages',
      source: APIGW_PAGE,
      evidence: APIGW_TRANSCRIPTION,
      verified: true,
      note: 'First billion a month. Metered in 32 KB increments: a 33 KB message counts as two (stated on the page).',
    },
    apigwConnectionMinutes: {
      item: 'API Gateway WebSocket connection minutes',
      usd: 0.25,
      per: 1_000_000,
      unit: 'connection minutes',
      source: APIGW_PAGE,
      evidence: 'https://www.repost.aws/pt/questions/QU7IqgooGeQmqudOsmzTw5YQ/how-to-interpret-websocket-api-connection-minutes-pricing',
      verified: true,
    },
    lambdaRequests: {
      item: 'Lambda requests',
      usd: 0.2,
      per: 1_000_000,
      unit: 'requests',
      source: LAMBDA_PAGE,
      evidence: 'https://raw.githubusercontent.com/api-evangelist/aws-lambda/refs/heads/main/plans/aws-lambda-plans-pricing.yml',
      verified: true,
      note: 'Same price on arm64 and x86_64, with or without provisioned concurrency.',
    },
    lambdaDuration: {
      item: 'Lambda duration, arm64, on demand',
      usd: 0.0000133334,
      per: 1,
      unit: 'GB-second',
      source: LAMBDA_PAGE,
      evidence: 'https://app.unpkg.com/artillery@2.0.28/files/lib/platform/aws-lambda/prices.js',
      verified: true,
      note: 'First 7.5 billion GB-seconds a month (x86_64: $0.0000166667). Read from a load-testing tool that prices Lambda from the AWS page.',
    },
    lambdaProvisioned: {
      item: 'Lambda provisioned concurrency, arm64',
      usd: 0.0000033334,
      per: 1,
      unit: 'GB-second provisioned',
      source: LAMBDA_PAGE,
      verified: false,
      note:
        'Not confirmed: the AWS page renders this rate client-side. Best known value (x86_64 $0.0000041667 less the 20% arm64 discount); ' +
        'third-party transcriptions of the AWS Price List agree, but none could be cited by address.',
    },
    lambdaProvisionedDuration: {
      item: 'Lambda duration, arm64, while provisioned',
      usd: 0.0000077778,
      per: 1,
      unit: 'GB-second',
      source: LAMBDA_PAGE,
      verified: false,
      note:
        'Not confirmed: the AWS page renders this rate client-side. Best known value (x86_64 $0.0000097222 less 20%); ' +
        'replaces the on-demand duration rate for invocations served by provisioned environments.',
    },
    dynamodbWrites: {
      item: 'DynamoDB on-demand write request units',
      usd: 0.625,
      per: 1_000_000,
      unit: 'WRU',
      source: DYNAMODB_PAGE,
      evidence: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
      verified: true,
      note: 'Standard table class. Halved on 1 November 2024 (was $1.25); read from a secondary page, the AWS page renders it client-side.',
    },
    dynamodbReads: {
      item: 'DynamoDB on-demand read request units',
      usd: 0.125,
      per: 1_000_000,
      unit: 'RRU',
      source: DYNAMODB_PAGE,
      evidence: 'https://airbyte.com/data-engineering-resources/dynamodb-pricing',
      verified: true,
      note: 'Standard table class. Halved on 1 November 2024 (was $0.25).',
    },
    dataTransferOut: {
      item: 'Data transfer out to the internet',
      usd: 0.09,
      per: 1,
      unit: 'GB',
      source: EC2_DATA_TRANSFER_PAGE,
      evidence: APIGW_TRANSCRIPTION,
      verified: true,
      note: 'First 10 TB a month; the first 100 GB a month (account-wide) are free and not subtracted here. Rate as quoted in the API Gateway page example.',
    },
  },
};

// ---------------------------------------------------------------------------------------------------------------
// The seed study's monthly table
// ---------------------------------------------------------------------------------------------------------------

export interface SeedCostRow {
  readonly architecture: string;
  readonly compute: number;
  readonly externalApis: number;
  readonly infrastructure: number;
  readonly total: number;
}

export interface SeedCostTable {
  readonly source: string;
  readonly concurrentCalls: number;
  readonly hoursPerDay: number;
  readonly rows: readonly SeedCostRow[];
  /** The row whose external-API cost is carried over to the measured stack. */
  readonly serverlessRow: string;
}

/** The seed study's "Cost Analysis (Monthly, 100 concurrent calls, 8 hours/day)", as it states it (USD a month). */
export const SEED_COST_TABLE: SeedCostTable = {
  source: 'seed study, "Cost Analysis (Monthly, 100 concurrent calls, 8 hours/day)"',
  concurrentCalls: 100,
  hoursPerDay: 8,
  serverlessRow: 'Serverless',
  rows: [
    { architecture: 'Optimized', compute: 800, externalApis: 2000, infrastructure: 200, total: 3000 },
    { architecture: 'Monolithic', compute: 300, externalApis: 2000, infrastructure: 100, total: 2400 },
    { architecture: 'Serverless', compute: 1200, externalApis: 2000, infrastructure: 50, total: 3250 },
    { architecture: 'Kubernetes', compute: 1000, externalApis: 2000, infrastructure: 400, total: 3400 },
  ],
};

// ---------------------------------------------------------------------------------------------------------------
// Scenario
// ---------------------------------------------------------------------------------------------------------------

export interface ProvisionedConcurrencyScenario {
  /** Memory (MB) of each provisioned function. */
  readonly functionMemoryMb: Readonly<Record<string, number>>;
  /** Provisioned environments per function while the schedule is up. */
  readonly environments: Readonly<Record<string, number>>;
  /** Hours a day the schedule is up… */
  readonly hoursPerDay: number;
  /** …on this many days a month (default: the scenario's daysPerMonth). */
  readonly daysPerMonth?: number;
  /** Environments kept for the rest of the month (prod's floor outside business hours), and for how many hours. */
  readonly floor?: { readonly environments: Readonly<Record<string, number>>; readonly hoursPerMonth: number };
}

export interface CostScenario {
  readonly concurrentCalls: number;
  readonly hoursPerDay: number;
  readonly daysPerMonth: number;
  readonly provisionedConcurrency?: ProvisionedConcurrencyScenario;
}

const HOURS_PER_MONTH = 730;
const DAY_NAMES = ['SUN', 'MON', 'TUE', 'WED', 'THU', 'FRI', 'SAT'];

/** Days a week a cron day-of-week field (`MON-FRI`, `MON,WED`, `*`) names. */
export function daysPerWeek(weekDays: string): number {
  if (weekDays.trim() === '*' || weekDays.trim() === '?') return 7;
  const days = new Set<number>();
  for (const part of weekDays.toUpperCase().split(',')) {
    const [from, to = from] = part.trim().split('-');
    const a = DAY_NAMES.indexOf(from!);
    const b = DAY_NAMES.indexOf(to!);
    if (a < 0 || b < 0) throw new Error(`unrecognised day-of-week field '${weekDays}'`);
    for (let d = a; ; d = (d + 1) % 7) {
      days.add(d);
      if (d === b) break;
    }
  }
  return days.size;
}

/**
 * An environment's provisioned concurrency as lib/config.ts and lib/constructs/route-functions.ts deploy it: every
 * hot-path function at its configured memory, `provisioned` environments at all times, raised to the business-hours
 * floor during business hours (prod: 30 from 8 to 18, MON-FRI; 10 otherwise). Utilization scaling above the floor
 * (up to `maxProvisioned`) is not included.
 */
export function provisionedConcurrencyFor(env: EnvName, hoursPerMonth = HOURS_PER_MONTH): ProvisionedConcurrencyScenario {
  const config = ENVIRONMENT_CONFIG[env];
  const hot = ALL_FUNCTIONS.filter((f) => f.hotPath);
  const functionMemoryMb = Object.fromEntries(hot.map((f) => [f.name, config.memoryMb[f.name] ?? f.memoryMb]));
  const each = (n: number) => Object.fromEntries(hot.map((f) => [f.name, n]));
  const hours = config.hotPath.businessHours;
  if (!hours) return { functionMemoryMb, environments: each(config.hotPath.provisioned), hoursPerDay: 24, daysPerMonth: hoursPerMonth / 24 };
  const hoursPerDay = hours.endHour - hours.startHour;
  const daysPerMonth = ((hoursPerMonth / 24) * daysPerWeek(hours.weekDays)) / 7;
  return {
    functionMemoryMb,
    environments: each(hours.provisioned),
    hoursPerDay,
    daysPerMonth,
    floor: { environments: each(config.hotPath.provisioned), hoursPerMonth: hoursPerMonth - hoursPerDay * daysPerMonth },
  };
}

// ---------------------------------------------------------------------------------------------------------------
// Estimate
// ---------------------------------------------------------------------------------------------------------------

export const LINE_ITEMS = [
  'apigwMessages',
  'apigwConnectionMinutes',
  'lambdaRequests',
  'lambdaDuration',
  'lambdaProvisioned',
  'dynamodbWrites',
  'dynamodbReads',
  'dataTransfer',
] as const;
export type LineItemKey = (typeof LINE_ITEMS)[number];

/** The seed table's columns: Lambda is compute; the gateway, the table and the network are infrastructure. */
export const LINE_ITEM_CATEGORY: Readonly<Record<LineItemKey, 'compute' | 'infrastructure'>> = {
  apigwMessages: 'infrastructure',
  apigwConnectionMinutes: 'infrastructure',
  lambdaRequests: 'compute',
  lambdaDuration: 'compute',
  lambdaProvisioned: 'compute',
  dynamodbWrites: 'infrastructure',
  dynamodbReads: 'infrastructure',
  dataTransfer: 'infrastructure',
};

export const LINE_ITEM_LABELS: Readonly<Record<LineItemKey, string>> = {
  apigwMessages: 'API Gateway messages',
  apigwConnectionMinutes: 'API Gateway connection minutes',
  lambdaRequests: 'Lambda requests',
  lambdaDuration: 'Lambda duration',
  lambdaProvisioned: 'Lambda provisioned concurrency',
  dynamodbWrites: 'DynamoDB writes',
  dynamodbReads: 'DynamoDB reads',
  dataTransfer: 'Data transfer out',
};

export interface LineItem {
  readonly key: LineItemKey;
  readonly label: string;
  readonly category: 'compute' | 'infrastructure';
  /** USD per call-minute (provisioned concurrency: its monthly cost spread over the month's call-minutes). */
  readonly perCallMinute: number;
  /** USD a month in the scenario. */
  readonly monthly: number;
}

export interface FunctionRates {
  readonly memoryMb: number;
  readonly invocationsPerCallMinute: number;
  readonly gbSecondsPerCallMinute: number;
  /** Environments busy on average at the scenario's concurrent calls (billed ms per minute / 60,000). */
  readonly meanConcurrency: number;
  /** Share of its duration billed at the provisioned rate (0 without provisioned concurrency). */
  readonly provisionedShare: number;
}

export interface DerivedRates {
  readonly messagesPerCallMinute: number;
  /** Messages as metered (32 KB increments). */
  readonly billedMessagesPerCallMinute: number;
  readonly connectionMinutesPerCallMinute: number;
  readonly invocationsPerCallMinute: number;
  readonly gbSecondsPerCallMinute: number;
  readonly wruPerCallMinute: number;
  readonly rruPerCallMinute: number;
  readonly gbOutPerCallMinute: number;
  readonly byFunction: Readonly<Record<string, FunctionRates>>;
  /** Request units per DynamoDB operation, per call-minute. */
  readonly byOperation: Readonly<Record<string, { readonly requestsPerCallMinute: number; readonly unitsPerCallMinute: number; readonly unit: 'WRU' | 'RRU' | 'unpriced' }>>;
}

export interface CostEstimate {
  readonly prices: PriceTable;
  readonly scenario: CostScenario;
  /** Call-minutes the counts were measured over. */
  readonly measuredCallMinutes: number;
  /** concurrentCalls × 60 × hoursPerDay × daysPerMonth. */
  readonly callMinutesPerMonth: number;
  readonly lineItems: readonly LineItem[];
  readonly perCallMinute: number;
  readonly monthly: number;
  readonly monthlyByCategory: { readonly compute: number; readonly infrastructure: number };
  readonly rates: DerivedRates;
  readonly assumptions: readonly string[];
}

const KB = 1024;
/** AWS meters data transfer in GB of 2^30 bytes. */
const GB = 1024 ** 3;
const MESSAGE_INCREMENT_BYTES = 32 * KB;

/**
 * DynamoDB request units. Writes: one WRU per 1 KB of the item written, rounded up. The true unit is the item's size
 * (for UpdateItem, the larger of the item before and after); the request's size approximates it for our small items
 * (a call record, a turn, a frame of audio), and under-counts an update that touches a few attributes of a large item.
 * Reads, strongly consistent (the store reads with ConsistentRead: true): one RRU per 4 KB returned, rounded up, at
 * least one per request. A Query is billed on the items it reads, which its response approximates — except
 * `Select: 'COUNT'`, which reads items it does not return.
 */
const WRITE_OPERATIONS: Readonly<Record<string, number>> = { PutItem: 1, UpdateItem: 1, DeleteItem: 1, BatchWriteItem: 1, TransactWriteItems: 2 };
const READ_OPERATIONS: Readonly<Record<string, number>> = { GetItem: 1, Query: 1, Scan: 1, BatchGetItem: 1, TransactGetItems: 2 };

export function writeUnits(requests: number, requestBytes: number): number {
  if (requests <= 0) return 0;
  return requests * Math.max(1, Math.ceil(requestBytes / requests / KB));
}

export function readUnits(requests: number, responseBytes: number): number {
  if (requests <= 0) return 0;
  return requests * Math.max(1, Math.ceil(responseBytes / requests / (4 * KB)));
}

/** GB-seconds of a function's billed duration: billedMs / 1000 × memoryMb / 1024. */
export const gbSeconds = (billedMs: number, memoryMb: number) => (billedMs / 1000) * (memoryMb / 1024);

const priceOf = (line: PriceLine, quantity: number) => (quantity * line.usd) / line.per;

export function estimateCost(counts: MeasuredCounts, scenario: CostScenario, prices: PriceTable = PRICES): CostEstimate {
  const minutes = counts.callMinutes;
  if (!(minutes > 0)) throw new Error(`counts.callMinutes must be positive (got ${minutes}): nothing to divide the costs by`);
  const { concurrentCalls, hoursPerDay, daysPerMonth } = scenario;
  if (!(concurrentCalls > 0 && hoursPerDay > 0 && daysPerMonth > 0)) throw new Error('scenario: concurrentCalls, hoursPerDay and daysPerMonth must be positive');
  const callMinutesPerMonth = concurrentCalls * 60 * hoursPerDay * daysPerMonth;
  const p = prices.lines;
  const perMinute = (x: number) => x / minutes;
  const assumptions: string[] = [];

  // API Gateway. Messages are metered per 32 KB; only outbound sizes are measured (bytesOut), so the outbound
  // count is scaled by its average size (a lower bound when sizes vary); inbound frames are far below 32 KB.
  const outAverage = counts.messagesOut > 0 ? counts.bytesOut / counts.messagesOut : 0;
  const outIncrements = Math.max(1, Math.ceil(outAverage / MESSAGE_INCREMENT_BYTES));
  const billedMessages = counts.messagesIn + counts.messagesOut * outIncrements;
  assumptions.push(
    `API Gateway meters messages in 32 KB increments. Outbound messages averaged ${Math.round(outAverage)} bytes ` +
      `(${outIncrements} increment${outIncrements > 1 ? 's' : ''} each, from their average size); inbound messages (caller frames and events) count one each.`,
  );

  // Lambda.
  const pc = scenario.provisionedConcurrency;
  const callHoursPerMonth = hoursPerDay * daysPerMonth;
  const scheduleHoursPerMonth = pc ? pc.hoursPerDay * (pc.daysPerMonth ?? daysPerMonth) : 0;
  /** Share of call time inside the provisioned schedule; the rest falls on the floor (if any). */
  const onSchedule = pc ? Math.min(1, scheduleHoursPerMonth / callHoursPerMonth) : 0;
  const byFunction: Record<string, FunctionRates> = {};
  let invocations = 0;
  let totalGbSeconds = 0;
  let durationUsd = 0;
  for (const [name, fn] of Object.entries(counts.lambda)) {
    const gbs = gbSeconds(fn.billedMs, fn.memoryMb);
    const meanConcurrency = (perMinute(fn.billedMs) * concurrentCalls) / 60_000;
    let provisionedShare = 0;
    if (pc && (pc.environments[name] ?? 0) + (pc.floor?.environments[name] ?? 0) > 0) {
      const served = (envs: number) => (meanConcurrency > 0 ? Math.min(1, envs / meanConcurrency) : 1);
      provisionedShare = onSchedule * served(pc.environments[name] ?? 0) + (1 - onSchedule) * served(pc.floor?.environments[name] ?? 0);
    }
    invocations += fn.invocations;
    totalGbSeconds += gbs;
    durationUsd += priceOf(p.lambdaProvisionedDuration, gbs * provisionedShare) + priceOf(p.lambdaDuration, gbs * (1 - provisionedShare));
    byFunction[name] = {
      memoryMb: fn.memoryMb,
      invocationsPerCallMinute: perMinute(fn.invocations),
      gbSecondsPerCallMinute: perMinute(gbs),
      meanConcurrency,
      provisionedShare,
    };
  }
  assumptions.push(
    `Lambda on ${prices.lambdaArchitecture} (lib/constructs/route-functions.ts), first duration tier; GB-seconds = billed ms / 1000 × memory MB / 1024 per function.`,
  );

  let provisionedMonthly = 0;
  if (pc) {
    let gbHours = 0;
    const names = new Set([...Object.keys(pc.environments), ...Object.keys(pc.floor?.environments ?? {})]);
    for (const name of names) {
      const memoryMb = pc.functionMemoryMb[name] ?? counts.lambda[name]?.memoryMb;
      if (memoryMb === undefined) throw new Error(`provisioned concurrency: no memory size for function '${name}'`);
      const envHours = (pc.environments[name] ?? 0) * scheduleHoursPerMonth + (pc.floor?.environments[name] ?? 0) * (pc.floor?.hoursPerMonth ?? 0);
      gbHours += (memoryMb / 1024) * envHours;
    }
    provisionedMonthly = priceOf(p.lambdaProvisioned, gbHours * 3600);
    const floor = pc.floor ? `, and ${describeEnvironments(pc.floor.environments)} for the other ${round(pc.floor.hoursPerMonth)} h` : '';
    assumptions.push(
      `Provisioned concurrency: ${describeEnvironments(pc.environments)} for ${round(pc.hoursPerDay)} h a day on ${round(pc.daysPerMonth ?? daysPerMonth)} days a month${floor}; ` +
        'billed whether or not calls come, spread over the month\'s call-minutes. Utilization scaling above these floors is not included.',
      'Invocations of a provisioned function are billed at the provisioned duration rate for the share its mean concurrency (billed ms per minute ÷ 60,000 at the ' +
        'scenario\'s concurrent calls) fits in the provisioned environments; the rest at the on-demand rate. Bursts above the mean are not modelled.',
    );
  } else {
    assumptions.push('No provisioned concurrency in this scenario: all duration at the on-demand rate.');
  }

  // DynamoDB.
  let wru = 0;
  let rru = 0;
  const byOperation: Record<string, DerivedRates['byOperation'][string]> = {};
  const unpriced: string[] = [];
  for (const [op, c] of Object.entries(counts.dynamodb)) {
    if (WRITE_OPERATIONS[op] !== undefined) {
      const units = writeUnits(c.requests, c.requestBytes) * WRITE_OPERATIONS[op];
      wru += units;
      byOperation[op] = { requestsPerCallMinute: perMinute(c.requests), unitsPerCallMinute: perMinute(units), unit: 'WRU' };
    } else if (READ_OPERATIONS[op] !== undefined) {
      const units = readUnits(c.requests, c.responseBytes) * READ_OPERATIONS[op];
      rru += units;
      byOperation[op] = { requestsPerCallMinute: perMinute(c.requests), unitsPerCallMinute: perMinute(units), unit: 'RRU' };
    } else {
      byOperation[op] = { requestsPerCallMinute: perMinute(c.requests), unitsPerCallMinute: 0, unit: 'unpriced' };
      if (c.requests > 0) unpriced.push(op);
    }
  }
  assumptions.push(
    'DynamoDB on demand: a write costs ceil(request bytes per request / 1 KB) WRU, at least 1 — the request size stands in for the item size, ' +
      'which is what DynamoDB bills (for UpdateItem, the larger of the item before and after), so an update to a large item is under-counted.',
    'DynamoDB reads are strongly consistent (ConsistentRead: true): ceil(response bytes per request / 4 KB) RRU, at least 1; a Query with ' +
      "Select: 'COUNT' reads more than it returns and is under-counted. BatchWriteItem/BatchGetItem requests are counted per item; transactions cost double.",
  );
  if (unpriced.length > 0) assumptions.push(`DynamoDB operations not priced: ${unpriced.join(', ')}.`);

  // Data transfer.
  const gbOut = counts.bytesOut / GB;
  assumptions.push(
    'Data transfer out is the payload bytes sent to callers (WebSocket and TLS framing not included), at the internet rate, 1 GB = 2^30 bytes; the 100 GB free each month is not subtracted.',
    'No free tiers, list prices only (no Savings Plans). Not included: CloudWatch logs, metrics and alarms, X-Ray, Secrets Manager, DynamoDB storage and backups, ' +
      'and the speech and language vendors (external APIs).',
  );

  const perCallMinuteOf: Record<LineItemKey, number> = {
    apigwMessages: perMinute(priceOf(p.apigwMessages, billedMessages)),
    apigwConnectionMinutes: perMinute(priceOf(p.apigwConnectionMinutes, counts.connectionMinutes)),
    lambdaRequests: perMinute(priceOf(p.lambdaRequests, invocations)),
    lambdaDuration: perMinute(durationUsd),
    lambdaProvisioned: provisionedMonthly / callMinutesPerMonth,
    dynamodbWrites: perMinute(priceOf(p.dynamodbWrites, wru)),
    dynamodbReads: perMinute(priceOf(p.dynamodbReads, rru)),
    dataTransfer: perMinute(priceOf(p.dataTransferOut, gbOut)),
  };
  const lineItems: LineItem[] = LINE_ITEMS.map((key) => ({
    key,
    label: LINE_ITEM_LABELS[key],
    category: LINE_ITEM_CATEGORY[key],
    perCallMinute: perCallMinuteOf[key],
    monthly: key === 'lambdaProvisioned' ? provisionedMonthly : perCallMinuteOf[key] * callMinutesPerMonth,
  }));
  const sum = (items: readonly LineItem[], f: (i: LineItem) => number) => items.reduce((a, i) => a + f(i), 0);

  return {
    prices,
    scenario,
    measuredCallMinutes: minutes,
    callMinutesPerMonth,
    lineItems,
    perCallMinute: sum(lineItems, (i) => i.perCallMinute),
    monthly: sum(lineItems, (i) => i.monthly),
    monthlyByCategory: {
      compute: sum(lineItems.filter((i) => i.category === 'compute'), (i) => i.monthly),
      infrastructure: sum(lineItems.filter((i) => i.category === 'infrastructure'), (i) => i.monthly),
    },
    rates: {
      messagesPerCallMinute: perMinute(counts.messagesIn + counts.messagesOut),
      billedMessagesPerCallMinute: perMinute(billedMessages),
      connectionMinutesPerCallMinute: perMinute(counts.connectionMinutes),
      invocationsPerCallMinute: perMinute(invocations),
      gbSecondsPerCallMinute: perMinute(totalGbSeconds),
      wruPerCallMinute: perMinute(wru),
      rruPerCallMinute: perMinute(rru),
      gbOutPerCallMinute: perMinute(gbOut),
      byFunction,
      byOperation,
    },
    assumptions,
  };
}

function describeEnvironments(environments: Readonly<Record<string, number>>): string {
  const entries = Object.entries(environments).filter(([, n]) => n > 0);
  if (entries.length === 0) return 'no environments';
  const counts = new Set(entries.map(([, n]) => n));
  if (counts.size === 1) return `${entries[0]![1]} environments each of ${entries.map(([f]) => f).join(', ')}`;
  return entries.map(([f, n]) => `${n} × ${f}`).join(', ');
}

const round = (x: number) => (Number.isInteger(x) ? String(x) : x.toFixed(1));

// ---------------------------------------------------------------------------------------------------------------
// Markdown
// ---------------------------------------------------------------------------------------------------------------

const usdSmall = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumSignificantDigits: 3 });
const usdCents = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', minimumFractionDigits: 2, maximumFractionDigits: 2 });
const usdWhole = new Intl.NumberFormat('en-US', { style: 'currency', currency: 'USD', maximumFractionDigits: 0 });
const num = new Intl.NumberFormat('en-US', { maximumSignificantDigits: 4 });
const int = new Intl.NumberFormat('en-US', { maximumFractionDigits: 0 });

/** A per-call-minute amount: three significant digits, never in exponent form. */
export const formatPerMinute = (usd: number) => (usd === 0 ? '$0' : usdSmall.format(usd));
/** A monthly amount: cents. */
export const formatMonthly = (usd: number) => usdCents.format(usd);

export function renderCostMarkdown(estimate: CostEstimate, seed: SeedCostTable = SEED_COST_TABLE): string {
  const { scenario, prices, rates } = estimate;
  const out: string[] = [];
  out.push(`## Cost per call-minute (AWS list prices, ${prices.region}, as of ${prices.asOf})`, '');
  out.push(
    `Measured over ${num.format(estimate.measuredCallMinutes)} call-minutes. Scenario: ${int.format(scenario.concurrentCalls)} concurrent calls × ` +
      `${round(scenario.hoursPerDay)} h a day × ${round(scenario.daysPerMonth)} days = ${int.format(estimate.callMinutesPerMonth)} call-minutes a month.`,
    '',
  );

  out.push('| Line item | Column | Per call-minute | Per month |', '|---|---|---:|---:|');
  for (const item of estimate.lineItems) {
    out.push(`| ${item.label} | ${item.category} | ${formatPerMinute(item.perCallMinute)} | ${formatMonthly(item.monthly)} |`);
  }
  out.push(`| **Total** | | **${formatPerMinute(estimate.perCallMinute)}** | **${formatMonthly(estimate.monthly)}** |`, '');

  out.push('### Rates measured, per call-minute', '');
  out.push('| Rate | Per call-minute |', '|---|---:|');
  out.push(`| Gateway messages, in + out | ${num.format(rates.messagesPerCallMinute)} |`);
  out.push(`| Gateway messages as metered (32 KB increments) | ${num.format(rates.billedMessagesPerCallMinute)} |`);
  out.push(`| Connection minutes | ${num.format(rates.connectionMinutesPerCallMinute)} |`);
  out.push(`| Lambda invocations | ${num.format(rates.invocationsPerCallMinute)} |`);
  out.push(`| Lambda GB-seconds | ${num.format(rates.gbSecondsPerCallMinute)} |`);
  out.push(`| DynamoDB write request units | ${num.format(rates.wruPerCallMinute)} |`);
  out.push(`| DynamoDB read request units | ${num.format(rates.rruPerCallMinute)} |`);
  out.push(`| Data out, MB | ${num.format((rates.gbOutPerCallMinute * GB) / 1024 ** 2)} |`, '');

  const functions = Object.entries(rates.byFunction);
  if (functions.length > 0) {
    out.push(`| Function | Memory MB | Invocations / call-minute | GB-s / call-minute | Mean concurrency at ${int.format(scenario.concurrentCalls)} calls | Duration on provisioned |`);
    out.push('|---|---:|---:|---:|---:|---:|');
    for (const [name, f] of functions) {
      out.push(
        `| ${name} | ${f.memoryMb} | ${num.format(f.invocationsPerCallMinute)} | ${num.format(f.gbSecondsPerCallMinute)} | ${num.format(f.meanConcurrency)} | ${Math.round(f.provisionedShare * 100)}% |`,
      );
    }
    out.push('');
  }

  const carried = seed.rows.find((r) => r.architecture === seed.serverlessRow) ?? seed.rows[0];
  const externalApis = carried?.externalApis ?? 0;
  const ours = estimate.monthlyByCategory;
  out.push(`### Beside the seed's monthly estimate (${seed.concurrentCalls} concurrent calls, ${seed.hoursPerDay} h a day)`, '');
  if (scenario.concurrentCalls !== seed.concurrentCalls || scenario.hoursPerDay !== seed.hoursPerDay) {
    out.push(
      `**Not the same scenario:** the measured row is for ${scenario.concurrentCalls} concurrent calls, ${round(scenario.hoursPerDay)} h a day; the seed's rows are for ` +
        `${seed.concurrentCalls} and ${seed.hoursPerDay}.`,
      '',
    );
  }
  out.push('| Architecture | Compute | External APIs | Infrastructure | Total |', '|---|---:|---:|---:|---:|');
  for (const r of seed.rows) {
    out.push(`| ${r.architecture} (seed) | ${usdWhole.format(r.compute)} | ${usdWhole.format(r.externalApis)} | ${usdWhole.format(r.infrastructure)} | ${usdWhole.format(r.total)} |`);
  }
  out.push(
    `| **This stack, measured** (${round(scenario.daysPerMonth)} days) | ${usdWhole.format(ours.compute)} | ${usdWhole.format(externalApis)} (seed's, carried over) | ` +
      `${usdWhole.format(ours.infrastructure)} | ${usdWhole.format(ours.compute + externalApis + ours.infrastructure)} |`,
    '',
  );
  out.push(
    `Compute is Lambda (requests, duration, provisioned concurrency); infrastructure is API Gateway, DynamoDB and data transfer. ` +
      `External APIs (speech-to-text, the language model, text-to-speech) are the same vendors whichever architecture calls them, and this model does not ` +
      `measure them: the seed's ${usdWhole.format(externalApis)} (${carried?.architecture ?? 'seed'} row) is carried over unchanged. Source: ${seed.source}.`,
    '',
  );

  out.push(`### Prices (${prices.region}, ${prices.currency}, as of ${prices.asOf}; Lambda ${prices.lambdaArchitecture})`, '');
  out.push('| Price | USD | Per | Verified | Source | Note |', '|---|---:|---|---|---|---|');
  for (const line of Object.values(prices.lines)) {
    const per = line.per === 1 ? line.unit : `${int.format(line.per)} ${line.unit}`;
    const source = line.evidence ? `${line.source} (number read at ${line.evidence})` : line.source;
    out.push(`| ${line.item} | ${line.usd} | ${per} | ${line.verified ? 'yes' : '**no**'} | ${source} | ${line.note ?? ''} |`);
  }
  out.push('');

  out.push('### Assumptions', '');
  for (const a of estimate.assumptions) out.push(`- ${a}`);
  out.push('');
  return out.join('\n');
}

// ---------------------------------------------------------------------------------------------------------------
// The language model (responder bedrock)
// ---------------------------------------------------------------------------------------------------------------

export interface ModelPriceTable {
  readonly asOf: string;
  readonly model: string;
  readonly lines: { readonly input: PriceLine; readonly output: PriceLine; readonly cacheRead: PriceLine; readonly cacheWrite: PriceLine };
}

const BEDROCK_PAGE = 'https://aws.amazon.com/bedrock/pricing/';
const HAIKU_45_EVIDENCE = 'https://clauder-navi.com/en/bedrock-claude-cost/';
const HAIKU_45_NOTE =
  'Claude Haiku 4.5 lists at $1 / $5 per million input / output tokens on the global endpoint; in-Region and geographic (us.) endpoints cost 10 % more, ' +
  'which is applied here (the default model is the us. profile). Read from a secondary page: the AWS page renders its rates client-side.';

/** Claude Haiku 4.5 on Amazon Bedrock, us. geographic inference profile (functions/contracts/model.ts DEFAULT_MODEL_ID). */
export const MODEL_PRICES: ModelPriceTable = {
  asOf: '2026-12-07',
  model: 'Claude Haiku 4.5 (us.anthropic.claude-haiku-4-5-20251001-v1:0)',
  lines: {
    input: { item: 'input tokens', usd: 1.1, per: 1_000_000, unit: 'tokens', source: BEDROCK_PAGE, evidence: HAIKU_45_EVIDENCE, verified: false, note: HAIKU_45_NOTE },
    output: { item: 'output tokens', usd: 5.5, per: 1_000_000, unit: 'tokens', source: BEDROCK_PAGE, evidence: HAIKU_45_EVIDENCE, verified: false, note: HAIKU_45_NOTE },
    cacheRead: {
      item: 'cached input tokens (read)',
      usd: 0.11,
      per: 1_000_000,
      unit: 'tokens',
      source: BEDROCK_PAGE,
      evidence: HAIKU_45_EVIDENCE,
      verified: false,
      note: '0.1 × the input rate. The agent sets no cache checkpoint yet (Haiku 4.5 caches prefixes of 4,096 tokens or more; the front desk prompt is far shorter), so none is measured.',
    },
    cacheWrite: { item: 'cached input tokens (write)', usd: 1.375, per: 1_000_000, unit: 'tokens', source: BEDROCK_PAGE, evidence: HAIKU_45_EVIDENCE, verified: false, note: '1.25 × the input rate.' },
  },
};

export interface ModelCostEstimate {
  readonly prices: ModelPriceTable;
  readonly callsPerCallMinute: number;
  readonly inputTokensPerCallMinute: number;
  readonly outputTokensPerCallMinute: number;
  /** Model calls of discarded speculations per call-minute (their tokens are in the totals). */
  readonly speculationCallsPerCallMinute: number;
  readonly perCallMinute: number;
  readonly monthly: number;
}

/** The model's cost per call-minute from the tokens billed (the stand-in counts them as the service bills them). */
export function estimateModelCost(counts: MeasuredCounts, callMinutesPerMonth: number, prices: ModelPriceTable = MODEL_PRICES): ModelCostEstimate | undefined {
  const m = counts.model;
  if (!m || !(counts.callMinutes > 0)) return undefined;
  const perMinute = (x: number) => x / counts.callMinutes;
  const perCallMinute = perMinute(priceOf(prices.lines.input, m.inputTokens) + priceOf(prices.lines.output, m.outputTokens));
  return {
    prices,
    callsPerCallMinute: perMinute(m.calls),
    inputTokensPerCallMinute: perMinute(m.inputTokens),
    outputTokensPerCallMinute: perMinute(m.outputTokens),
    speculationCallsPerCallMinute: perMinute(m.speculationCalls),
    perCallMinute,
    monthly: perCallMinute * callMinutesPerMonth,
  };
}

export function renderModelCostMarkdown(e: ModelCostEstimate): string {
  const out: string[] = [];
  out.push(`### The language model (${e.prices.model}, list prices as of ${e.prices.asOf})`, '');
  out.push('| Rate | Per call-minute |', '|---|---:|');
  out.push(`| Model calls (a tool round trip is one more) | ${num.format(e.callsPerCallMinute)} |`);
  out.push(`| … of which for discarded speculations | ${num.format(e.speculationCallsPerCallMinute)} |`);
  out.push(`| Input tokens | ${num.format(e.inputTokensPerCallMinute)} |`);
  out.push(`| Output tokens | ${num.format(e.outputTokensPerCallMinute)} |`);
  out.push(`| **Cost** | **${formatPerMinute(e.perCallMinute)}** (${formatMonthly(e.monthly)} a month in the scenario) |`, '');
  out.push('| Price | USD | Per | Verified | Source | Note |', '|---|---:|---|---|---|---|');
  for (const line of Object.values(e.prices.lines)) {
    out.push(`| ${line.item} | ${line.usd} | ${int.format(line.per)} ${line.unit} | ${line.verified ? 'yes' : 'no'} | ${line.source} (number read at ${line.evidence}) | ${line.note ?? ''} |`);
  }
  out.push(
    '',
    'Tokens are counted by the local Bedrock stand-in as the service bills them (input when a model runs on a request, output as streamed), at about 4 ' +
      'characters a token; its answers are the front desk policy\'s, not a model\'s, so a real model\'s replies (longer or shorter) move the output count.',
    '',
  );
  return out.join('\n');
}
