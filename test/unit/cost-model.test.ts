import { readFileSync } from 'node:fs';
import path from 'node:path';
import {
  daysPerWeek,
  estimateCost,
  estimateModelCost,
  gbSeconds,
  MODEL_PRICES,
  PRICES,
  provisionedConcurrencyFor,
  readUnits,
  renderCostMarkdown,
  renderModelCostMarkdown,
  SEED_COST_TABLE,
  writeUnits,
  type CostEstimate,
  type LineItemKey,
} from '../../tools/loadtest/cost-model';
import type { MeasuredCounts } from '../../tools/loadtest/report-types';

/** Relative comparison: the amounts span twelve orders of magnitude. */
const near = (actual: number, expected: number) => expect(Math.abs(actual - expected)).toBeLessThanOrEqual(Math.abs(expected) * 1e-12 + 1e-18);

const empty: MeasuredCounts = { callMinutes: 1, messagesIn: 0, messagesOut: 0, connectionMinutes: 0, lambda: {}, dynamodb: {}, bytesOut: 0 };
const counts = (c: Partial<MeasuredCounts>): MeasuredCounts => ({ ...empty, ...c });
const oneMinute = { concurrentCalls: 1, hoursPerDay: 1, daysPerMonth: 1 };
const item = (e: CostEstimate, key: LineItemKey) => e.lineItems.find((i) => i.key === key)!;

describe('prices', () => {
  it('are dated, for us-east-1, with a source per line; unconfirmed ones say why', () => {
    expect(PRICES.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    expect(PRICES.region).toBe('us-east-1');
    for (const line of Object.values(PRICES.lines)) {
      expect(line.source).toMatch(/^https:\/\//);
      if (!line.verified) expect(line.note).toMatch(/confirm/i);
    }
    // The November 2024 on-demand reduction halved these.
    expect(PRICES.lines.dynamodbWrites.usd).toBe(0.625);
    expect(PRICES.lines.dynamodbReads.usd).toBe(0.125);
  });

  it('are for the architecture the stack deploys', () => {
    const construct = readFileSync(path.join(__dirname, '../../lib/constructs/route-functions.ts'), 'utf8');
    const arch = /architecture:\s*Architecture\.(\w+)/.exec(construct)?.[1];
    expect(arch).toBe('ARM_64');
    expect(PRICES.lambdaArchitecture).toBe('arm64');
  });
});

describe('API Gateway', () => {
  it('prices 1,000,000 messages at exactly the per-million price', () => {
    const e = estimateCost(counts({ messagesIn: 600_000, messagesOut: 400_000, bytesOut: 400_000 * 300 }), oneMinute);
    near(item(e, 'apigwMessages').perCallMinute, 1.0);
    expect(e.rates.messagesPerCallMinute).toBe(1_000_000);
    expect(e.rates.billedMessagesPerCallMinute).toBe(1_000_000);
  });

  it('meters outbound messages in 32 KB increments', () => {
    const e = estimateCost(counts({ messagesOut: 10, bytesOut: 10 * 40 * 1024 }), oneMinute);
    expect(e.rates.billedMessagesPerCallMinute).toBe(20);
    near(item(e, 'apigwMessages').perCallMinute, 20 / 1_000_000);
  });

  it('prices connection minutes per million', () => {
    const e = estimateCost(counts({ callMinutes: 4, connectionMinutes: 4 }), oneMinute);
    near(item(e, 'apigwConnectionMinutes').perCallMinute, 0.25 / 1_000_000);
  });
});

describe('DynamoDB request units', () => {
  it('counts a 1.5 KB write as 2 WRU and a 100-byte write as 1', () => {
    expect(writeUnits(1, 1536)).toBe(2);
    expect(writeUnits(1000, 1000 * 1536)).toBe(2000);
    expect(writeUnits(3, 300)).toBe(3);
    expect(writeUnits(1, 1024)).toBe(1);
    expect(writeUnits(1, 1025)).toBe(2);
  });

  it('counts a 5 KB query response as 2 RRU, and an empty one as 1', () => {
    expect(readUnits(1, 5 * 1024)).toBe(2);
    expect(readUnits(10, 0)).toBe(10);
    expect(readUnits(1, 4096)).toBe(1);
  });

  it('prices writes and reads by operation', () => {
    const e = estimateCost(
      counts({
        callMinutes: 10,
        dynamodb: {
          PutItem: { requests: 100, requestBytes: 100 * 1536, responseBytes: 0 }, // 200 WRU
          UpdateItem: { requests: 50, requestBytes: 50 * 200, responseBytes: 50 * 100 }, // 50 WRU
          Query: { requests: 20, requestBytes: 20 * 300, responseBytes: 20 * 5 * 1024 }, // 40 RRU
          GetItem: { requests: 30, requestBytes: 30 * 100, responseBytes: 30 * 800 }, // 30 RRU
          DescribeTable: { requests: 1, requestBytes: 10, responseBytes: 500 },
        },
      }),
      oneMinute,
    );
    expect(e.rates.wruPerCallMinute).toBe(25);
    expect(e.rates.rruPerCallMinute).toBe(7);
    near(item(e, 'dynamodbWrites').perCallMinute, (25 * 0.625) / 1_000_000);
    near(item(e, 'dynamodbReads').perCallMinute, (7 * 0.125) / 1_000_000);
    expect(e.rates.byOperation.Query).toEqual({ requestsPerCallMinute: 2, unitsPerCallMinute: 4, unit: 'RRU' });
    expect(e.assumptions.join('\n')).toContain('not priced: DescribeTable');
  });
});

describe('Lambda', () => {
  it('GB-seconds = billedMs / 1000 × memoryMb / 1024', () => {
    expect(gbSeconds(2_000_000, 1769)).toBe(3455.078125);
    expect(gbSeconds(1000, 1024)).toBe(1);
  });

  it('prices requests and on-demand duration without provisioned concurrency', () => {
    const e = estimateCost(
      counts({
        callMinutes: 100,
        lambda: {
          media: { invocations: 300_000, billedMs: 2_000_000, memoryMb: 1769 },
          mark: { invocations: 100_000, billedMs: 512_000, memoryMb: 512 }, // 256 GB-s
        },
      }),
      oneMinute,
    );
    expect(e.rates.invocationsPerCallMinute).toBe(4000);
    near(e.rates.gbSecondsPerCallMinute, (3455.078125 + 256) / 100);
    near(item(e, 'lambdaRequests').perCallMinute, (400_000 * 0.2) / 1_000_000 / 100);
    near(item(e, 'lambdaDuration').perCallMinute, ((3455.078125 + 256) * 0.0000133334) / 100);
    expect(item(e, 'lambdaProvisioned').monthly).toBe(0);
  });

  it('bills provisioned environments by the hour and the duration they serve at the lower rate', () => {
    // media: 600 billed ms per call-minute → at 100 calls, 600 × 100 / 60,000 = 1 environment busy on average.
    const measured = counts({ callMinutes: 60, lambda: { media: { invocations: 3000, billedMs: 36_000, memoryMb: 1024 } } });
    const pc = { functionMemoryMb: { media: 1024 }, environments: { media: 2 }, hoursPerDay: 10 };
    const e = estimateCost(measured, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 20, provisionedConcurrency: pc });
    // 2 environments × 1 GB × 10 h × 20 days × 3600 s = 1,440,000 GB-s provisioned.
    near(item(e, 'lambdaProvisioned').monthly, 1_440_000 * 0.0000033334);
    near(item(e, 'lambdaProvisioned').perCallMinute, (1_440_000 * 0.0000033334) / (100 * 60 * 8 * 20));
    expect(e.rates.byFunction.media!.meanConcurrency).toBe(1);
    expect(e.rates.byFunction.media!.provisionedShare).toBe(1);
    near(item(e, 'lambdaDuration').perCallMinute, (36 * 0.0000077778) / 60);

    // Four busy on average, two provisioned: half the duration at each rate.
    const busy = counts({ callMinutes: 60, lambda: { media: { invocations: 3000, billedMs: 144_000, memoryMb: 1024 } } });
    const half = estimateCost(busy, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 20, provisionedConcurrency: pc });
    expect(half.rates.byFunction.media!.provisionedShare).toBe(0.5);
    near(item(half, 'lambdaDuration').perCallMinute, (72 * 0.0000077778 + 72 * 0.0000133334) / 60);
  });

  it('adds the floor kept outside the schedule', () => {
    const pc = { functionMemoryMb: { media: 2048 }, environments: { media: 3 }, hoursPerDay: 10, daysPerMonth: 20, floor: { environments: { media: 1 }, hoursPerMonth: 530 } };
    const e = estimateCost(counts({}), { ...oneMinute, provisionedConcurrency: pc });
    // 2 GB × (3 × 200 h + 1 × 530 h) × 3600 s.
    near(item(e, 'lambdaProvisioned').monthly, 2 * (600 + 530) * 3600 * 0.0000033334);
  });

  it("derives prod's schedule from lib/config.ts: 30 environments 8–18 on weekdays, 10 otherwise", () => {
    expect(daysPerWeek('MON-FRI')).toBe(5);
    expect(daysPerWeek('SAT-SUN')).toBe(2);
    expect(daysPerWeek('MON,WED')).toBe(2);
    const prod = provisionedConcurrencyFor('prod');
    expect(prod.environments).toEqual({ start: 30, media: 30, dtmf: 30, mark: 30 });
    expect(prod.functionMemoryMb).toEqual({ start: 1024, media: 1769, dtmf: 1769, mark: 512 });
    expect(prod.hoursPerDay).toBe(10);
    near(prod.daysPerMonth!, (730 / 24) * (5 / 7));
    expect(prod.floor!.environments.media).toBe(10);
    near(prod.floor!.hoursPerMonth + prod.hoursPerDay * prod.daysPerMonth!, 730);
    const dev = provisionedConcurrencyFor('dev');
    expect(dev.floor).toBeUndefined();
    expect(dev.environments.media).toBe(1);
    expect(dev.hoursPerDay * dev.daysPerMonth!).toBe(730);
  });
});

describe('data transfer', () => {
  it('prices 1 GB (2^30 bytes) out at the per-GB price', () => {
    const e = estimateCost(counts({ messagesOut: 1, bytesOut: 1024 ** 3 }), oneMinute);
    near(item(e, 'dataTransfer').perCallMinute, 0.09);
  });
});

describe('monthly scaling', () => {
  const measured = counts({
    callMinutes: 50,
    messagesIn: 150_000,
    messagesOut: 50_000,
    bytesOut: 50_000 * 1200,
    connectionMinutes: 51,
    lambda: { media: { invocations: 150_000, billedMs: 900_000, memoryMb: 1769 } },
    dynamodb: { PutItem: { requests: 40_000, requestBytes: 40_000 * 700, responseBytes: 0 } },
  });

  it('call-minutes a month = concurrent calls × 60 × hours a day × days a month', () => {
    const e = estimateCost(measured, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 22 });
    expect(e.callMinutesPerMonth).toBe(1_056_000);
    for (const i of e.lineItems) near(i.monthly, i.perCallMinute * 1_056_000);
    near(e.monthly, e.perCallMinute * 1_056_000);
    near(e.monthlyByCategory.compute + e.monthlyByCategory.infrastructure, e.monthly);
    // 150,000 + 50,000 messages over 50 call-minutes = 4,000 a call-minute; × 1,056,000 = 4,224 million a month.
    near(item(e, 'apigwMessages').monthly, 4224);
  });

  it('works from whatever counts it gets: 100 ms frames send a fifth of the messages', () => {
    const at20 = estimateCost(measured, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 22 });
    const at100 = estimateCost({ ...measured, messagesIn: measured.messagesIn / 5 }, { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 22 });
    near(at100.rates.messagesPerCallMinute, (30_000 + 50_000) / 50);
    expect(at100.monthly).toBeLessThan(at20.monthly);
  });

  it('refuses counts with no call-minutes', () => {
    expect(() => estimateCost(counts({ callMinutes: 0 }), oneMinute)).toThrow(/callMinutes/);
  });
});

describe('markdown', () => {
  const e = estimateCost(
    counts({ callMinutes: 10, messagesIn: 30_000, messagesOut: 5000, bytesOut: 5000 * 1200, connectionMinutes: 10 }),
    { concurrentCalls: 100, hoursPerDay: 8, daysPerMonth: 30, provisionedConcurrency: provisionedConcurrencyFor('prod') },
  );
  const md = renderCostMarkdown(e, SEED_COST_TABLE);

  it('carries the price date, the seed totals and the external APIs carried over', () => {
    expect(md).toContain(PRICES.asOf);
    expect(md).toContain('$3,250');
    expect(md).toContain('$3,000');
    expect(md).toContain("$2,000 (seed's, carried over)");
    expect(md).toContain('| Serverless (seed) | $1,200 | $2,000 | $50 | $3,250 |');
    expect(md).not.toContain('Not the same scenario');
  });

  it('lists every line item, every price and every assumption', () => {
    for (const i of e.lineItems) expect(md).toContain(`| ${i.label} |`);
    for (const line of Object.values(PRICES.lines)) expect(md).toContain(line.source);
    for (const a of e.assumptions) expect(md).toContain(a);
    expect(md).toContain('| **Total** |');
    expect(md).not.toMatch(/\de-\d/); // no exponent notation
  });

  it('says so when the scenario is not the seed’s', () => {
    const other = estimateCost(counts({}), { concurrentCalls: 10, hoursPerDay: 8, daysPerMonth: 22 });
    expect(renderCostMarkdown(other)).toContain('Not the same scenario');
  });
});

describe('the language model', () => {
  it('prices input and output tokens per call-minute, discarded speculations included in the totals', () => {
    const model = { calls: 30, inputTokens: 60_000, outputTokens: 2_000, speculationCalls: 4 };
    const e = estimateModelCost(counts({ callMinutes: 2, model }), 1000)!;
    near(e.inputTokensPerCallMinute, 30_000);
    near(e.outputTokensPerCallMinute, 1_000);
    near(e.callsPerCallMinute, 15);
    near(e.speculationCallsPerCallMinute, 2);
    near(e.perCallMinute, (30_000 * MODEL_PRICES.lines.input.usd + 1_000 * MODEL_PRICES.lines.output.usd) / 1_000_000);
    near(e.monthly, e.perCallMinute * 1000);
    expect(renderModelCostMarkdown(e)).toContain('| Input tokens | 30,000 |');
  });

  it('has no estimate without model counts (the rules answered)', () => {
    expect(estimateModelCost(counts({ callMinutes: 2 }), 1000)).toBeUndefined();
  });

  it('dates its prices and says they were read from a secondary source', () => {
    expect(MODEL_PRICES.asOf).toMatch(/^\d{4}-\d{2}-\d{2}$/);
    for (const line of Object.values(MODEL_PRICES.lines)) expect({ verified: line.verified, evidence: Boolean(line.evidence) }).toEqual({ verified: false, evidence: true });
  });
});
