/**
 * The on-call history against a real DynamoDB API (dynalite, the table and its `calls-by-day` index from the shared
 * schema): calls written by the call store as the functions write them, listed newest first across days and pages,
 * only the environment's own; one call turn by turn; and `GET /history` refusing without the token.
 */
import { GetItemCommand } from '@aws-sdk/client-dynamodb';
import type { Context } from 'aws-lambda';
import historyEvent from '../../events/call-history.json';
import { BadCursorError, DynamoCallHistory } from '../../functions/adapters/dynamo-call-history';
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { keys } from '../../functions/contracts/table-schema';
import type { CallDetail, HistoryPage } from '../../functions/contracts/history';
import type { TurnRecord } from '../../functions/domain/call/model';
import { SecretsManagerServer } from '../../local/secrets/secrets-manager-server';
import { startTestTable, type TestTable } from '../support/dynamo';

const HOUR = 3600_000;
/** 10:00 UTC today: the calls below fall on two UTC days, and `GET /history` (on the wall clock) still sees them all. */
const NOW = Math.floor(Date.now() / 86_400_000) * 86_400_000 + 10 * HOUR;
let table: TestTable;
let dev: DynamoCallStore;
let staging: DynamoCallStore;
let history: DynamoCallHistory;

const dialog = { name: 'start', slots: {}, misses: 0 };
const speechTurn = (turn: number, at: number, extra: Partial<TurnRecord> = {}): TurnRecord => ({
  turn,
  kind: 'speech',
  status: 'completed',
  transcript: 'what are your opening hours',
  reply: 'We are open from nine to five.',
  intent: 'hours',
  preempted: true,
  endOfTurn: { silenceMs: 300, heard: 'complete' },
  timings: { speechEndAt: at, endpointAt: at + 310, transcriptAt: at + 180, replyAt: at + 182, ttsFirstByteAt: at + 420, firstAudioAt: at + 425 },
  providerMs: { stt: 160, responder: 2, ttsFirstByte: 238 },
  ...extra,
});

/** A call as the functions leave it: connected, started, its turns finished, ended. */
async function call(store: DynamoCallStore, callId: string, at: number, turns: readonly TurnRecord[], end?: string): Promise<void> {
  expect(await store.createCall(callId, callId, at)).toBe(true);
  await store.startStream(callId, { streamSid: `MZ${callId}`, callSid: `CA${callId}`, format: { encoding: 'mulaw', sampleRate: 8000 }, events: false, dialog, startedAt: at + 100 });
  for (const t of turns) await store.finishTurn(callId, t, {});
  if (end) await store.endCall(callId, end, at + 60_000);
}

beforeAll(async () => {
  table = await startTestTable();
  dev = new DynamoCallStore(table.tableName, table.client, { environment: 'dev' });
  staging = new DynamoCallStore(table.tableName, table.client, { environment: 'staging' });
  history = new DynamoCallHistory(table.tableName, table.client, { environment: 'dev' });
  // Five dev calls over two UTC days (two yesterday), one staging call in between.
  await call(dev, 'dev-1', NOW - 30 * HOUR + HOUR * 10, [speechTurn(2, NOW - 20 * HOUR)], 'stop'); // 2026-12-06T04:00Z
  await call(dev, 'dev-2', NOW - 8 * HOUR - HOUR * 5, [speechTurn(2, NOW - 13 * HOUR), speechTurn(3, NOW - 13 * HOUR + 9000, { status: 'barged' })], 'disconnect'); // 12-06T21:00Z
  await call(staging, 'stg-1', NOW - 4 * HOUR, [speechTurn(2, NOW - 4 * HOUR)], 'stop');
  await call(dev, 'dev-3', NOW - 3 * HOUR, [speechTurn(2, NOW - 3 * HOUR, { status: 'failed', error: 'stt: timeout' })], 'stop');
  await call(dev, 'dev-4', NOW - 2 * HOUR, [], 'stop');
  await call(dev, 'dev-5', NOW - HOUR, [speechTurn(2, NOW - HOUR)]); // still in progress
});
afterAll(async () => table?.close());

describe('listing', () => {
  it('lists the environment\'s calls newest first, across days, with turns, errors, barge-ins and duration', async () => {
    const page = await history.listCalls(25, undefined, NOW);
    expect(page.environment).toBe('dev');
    expect(page.calls.map((c) => c.callId)).toEqual(['dev-5', 'dev-4', 'dev-3', 'dev-2', 'dev-1']);
    const byId = Object.fromEntries(page.calls.map((c) => [c.callId, c]));
    expect(byId['dev-4']).toMatchObject({ turns: 0 });
    expect(byId['dev-5']).toMatchObject({ status: 'streaming', turns: 1, errors: 0, bargeIns: 0, phoneCall: true, encoding: 'mulaw' });
    expect(byId['dev-5']!.durationMs).toBeUndefined();
    expect(byId['dev-3']).toMatchObject({ status: 'ended', endReason: 'stop', errors: 1, bargeIns: 0 });
    expect(byId['dev-2']).toMatchObject({ errors: 0, bargeIns: 1, durationMs: 60_000 - 100 });
    expect(page.next).toBeUndefined(); // nothing older within the retention window
  });

  it('pages through every call exactly once, whatever the page size', async () => {
    for (const limit of [1, 2, 3]) {
      const seen: string[] = [];
      let before: string | undefined;
      for (let pages = 0; pages < 20; pages++) {
        const page: HistoryPage = await history.listCalls(limit, before, NOW);
        expect(page.calls.length).toBeLessThanOrEqual(limit);
        seen.push(...page.calls.map((c) => c.callId));
        if (!page.next) break;
        before = page.next;
      }
      expect(seen).toEqual(['dev-5', 'dev-4', 'dev-3', 'dev-2', 'dev-1']);
    }
  });

  it('never lists another environment\'s calls, even from a cursor made for them', async () => {
    const stagingHistory = new DynamoCallHistory(table.tableName, table.client, { environment: 'staging' });
    expect((await stagingHistory.listCalls(25, undefined, NOW)).calls.map((c) => c.callId)).toEqual(['stg-1']);
    const page = await stagingHistory.listCalls(1, undefined, NOW - HOUR * 3.5);
    // A staging cursor handed to the dev history is refused, as are garbage and days outside the window.
    const stagingCursor = Buffer.from(JSON.stringify({ day: '2026-12-07', after: { pk: 'CALL#stg-1', sk: 'META', callsDay: keys.callsDay('staging', NOW), createdAt: NOW - 4 * HOUR } })).toString('base64url');
    const cursor = (c: unknown) => Buffer.from(JSON.stringify(c)).toString('base64url');
    const tomorrow = new Date(NOW + 24 * HOUR).toISOString().slice(0, 10);
    const edited = cursor({ day: new Date(NOW).toISOString().slice(0, 10), after: { pk: '', sk: 'META', callsDay: keys.callsDay('dev', NOW), createdAt: NOW } });
    for (const bad of [stagingCursor, 'not-a-cursor', cursor({ day: tomorrow }), edited]) {
      await expect(history.listCalls(5, bad, NOW)).rejects.toBeInstanceOf(BadCursorError);
    }
    // A cursor the retention window has moved past (midnight came between two pages): an empty last page, not an error.
    expect(await history.listCalls(5, cursor({ day: '2020-01-01' }), NOW)).toEqual({ environment: 'dev', calls: [] });
    expect(page.calls.map((c) => c.callId)).toEqual(['stg-1']);
    expect(await history.getCall('stg-1', NOW)).toBeUndefined();
  });
});

describe('retention', () => {
  it('keeps a call and its turns as long as the environment says (TTL), caller audio an hour', async () => {
    const store = new DynamoCallStore(table.tableName, table.client, { environment: 'dev', callRetentionSeconds: 7 * 24 * 3600 });
    await call(store, 'dev-kept-a-week', NOW - 5 * HOUR, [speechTurn(2, NOW - 5 * HOUR)], 'stop');
    await store.putAudioFrame('dev-kept-a-week', { chunk: 7, ts: 140, durationMs: 20, receivedAt: NOW - 5 * HOUR, audio: new Uint8Array(160) });
    const raw = await Promise.all(
      [keys.call('dev-kept-a-week'), keys.turn('dev-kept-a-week', 2), keys.audio('dev-kept-a-week', 7)].map(async (key) => {
        const out = await table.client.send(new GetItemCommand({ TableName: table.tableName, Key: { pk: { S: key.pk }, sk: { S: key.sk } } }));
        return Number(out.Item!.expiresAt!.N);
      }),
    );
    const createdS = Math.floor((NOW - 5 * HOUR) / 1000);
    expect(raw[0]).toBe(createdS + 7 * 24 * 3600);
    expect(raw[1]! - Math.floor(Date.now() / 1000)).toBeGreaterThan(7 * 24 * 3600 - 60); // written now, kept a week
    expect(raw[2]).toBe(createdS + 3600);
  });
});

describe('one call', () => {
  it('gives each turn what was heard and answered, its status, end of turn and stage timings as stored', async () => {
    const detail = (await history.getCall('dev-2', NOW)) as CallDetail;
    expect(detail.call).toMatchObject({ callId: 'dev-2', turns: 2, bargeIns: 1 });
    expect(detail.turns.map((t) => [t.turn, t.status])).toEqual([
      [2, 'completed'],
      [3, 'barged'],
    ]);
    const stored = speechTurn(2, NOW - 13 * HOUR);
    expect(detail.turns[0]).toEqual({
      turn: 2,
      kind: 'speech',
      status: 'completed',
      transcript: stored.transcript,
      reply: stored.reply,
      intent: 'hours',
      preempted: true,
      latencyMs: 425,
      endOfTurn: { silenceMs: 300, heard: 'complete' },
      timings: stored.timings,
      providerMs: stored.providerMs,
    });
    expect(await history.getCall('no-such-call', NOW)).toBeUndefined();
    // Past its retention (TTL has not deleted it yet): neither shown nor listed.
    const dayLater = NOW + 25 * HOUR;
    expect(await history.getCall('dev-2', dayLater)).toBeUndefined();
    expect((await history.listCalls(25, undefined, dayLater)).calls.map((c) => c.callId)).not.toContain('dev-2');
  });
});

/** `GET /history` in-process, the app secret from the local Secrets Manager, the table above. */
describe('GET /history', () => {
  const SECRET = 'voice-agent/history-test';
  const secrets = new SecretsManagerServer();
  const saved = { ...process.env };
  const context = { functionName: 'call-history', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 } as unknown as Context;
  const logged: string[] = [];
  const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => jest.spyOn(console, m));

  beforeAll(async () => {
    jest.resetModules();
    Object.assign(process.env, {
      POWERTOOLS_DEV: 'true',
      APP_SECRET_ID: SECRET,
      SECRETS_MANAGER_ENDPOINT: await secrets.start(),
      SECRETS_MAX_AGE_SECONDS: '0',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'local-call-history',
      AWS_SECRET_ACCESS_KEY: 'local',
      CALLS_TABLE: table.tableName,
      DYNAMODB_ENDPOINT: table.endpoint,
      VOICE_AGENT_ENV: 'dev',
    });
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'EXAMPLE-TOKEN' }));
    for (const spy of spies) spy.mockImplementation(((line: string) => void logged.push(String(line))) as never);
  });
  afterAll(async () => {
    for (const spy of spies) spy.mockRestore();
    process.env = saved;
    await secrets.stop();
  });

  const get = async (query: Record<string, string> | undefined, authorization: string | null = 'Bearer EXAMPLE-TOKEN') => {
    const { handler } = await import('../../functions/handlers/call-history');
    const event = structuredClone(historyEvent) as { headers: Record<string, string>; queryStringParameters?: Record<string, string> };
    if (authorization === null) delete event.headers.authorization;
    else event.headers.authorization = authorization;
    if (query) event.queryStringParameters = query;
    else delete event.queryStringParameters;
    const res = await handler(event as never, context);
    return { ...res, json: JSON.parse(res.body!) as Record<string, unknown> };
  };

  it('refuses without the token or with a wrong one (401), and says nothing of any call', async () => {
    for (const auth of [null, 'Bearer WRONG-TOKEN', 'EXAMPLE-TOKEN', 'Basic RVhBTVBMRS1UT0tFTg==']) {
      const res = await get(undefined, auth);
      expect(res.statusCode).toBe(401);
      expect(res.body).not.toContain('dev-');
      expect(res.headers).toMatchObject({ 'access-control-allow-origin': '*', 'cache-control': 'no-store' });
    }
    expect((await get({ call: 'dev-2' }, null)).statusCode).toBe(401);
  });

  it('lists this environment\'s calls and shows one call; 404 for another environment\'s or an unknown one', async () => {
    const list = await get(undefined);
    expect(list.statusCode).toBe(200);
    expect(list.json.environment).toBe('dev');
    const ids = (list.json.calls as { callId: string }[]).map((c) => c.callId);
    expect(ids).toContain('dev-5');
    expect(ids).not.toContain('stg-1');
    const one = await get({ call: 'dev-3' });
    expect(one.statusCode).toBe(200);
    expect((one.json.turns as { error?: string }[])[0]!.error).toBe('stt: timeout');
    expect((await get({ call: 'stg-1' })).statusCode).toBe(404);
    expect((await get({ call: 'nope' })).statusCode).toBe(404);
  });

  it('answers 400 to bad parameters', async () => {
    for (const query of <Record<string, string>[]>[{ limit: '0' }, { limit: '101' }, { limit: 'many' }, { call: '../../etc' }, { before: 'garbage' }, { sort: 'asc' }]) {
      const res = await get(query);
      expect([res.statusCode, query]).toEqual([400, query]);
      expect(typeof res.json.message).toBe('string');
    }
  });

  it('logs no transcript, reply or token', async () => {
    logged.length = 0;
    await get({ call: 'dev-2' });
    await get(undefined);
    const text = logged.join('\n');
    expect(text).toContain('history: one call');
    expect(text).not.toMatch(/opening hours|nine to five|EXAMPLE-TOKEN/);
  });
});
