/**
 * The one call table, as both the CDK stack and the local stack create it: single-table design keyed by call.
 *   pk = CALL#<callId>   sk = META                 the call (status, format, turn counter, dialog state, …)
 *                        sk = AUDIO#<chunk:10>     one caller speech frame (silence is never stored); short TTL
 *                        sk = TURN#<turn:6>        one turn: transcript, reply, per-stage timings
 *   pk = STATS             sk = CALLS                calls in progress (a counter for the dashboard; two writes a call)
 * One sparse index, `calls-by-day` (CALLS_BY_DAY): only call items carry its partition key `callsDay`
 * (`CALLS#<environment>#<yyyy-mm-dd>`, the UTC day the call connected), sorted by `createdAt`. The on-call history
 * (functions/handlers/call-history.ts) lists an environment's recent calls from it without a Scan. It projects only
 * the fields of a call's summary, none of which a turn or a frame changes: the hot path's writes do not reach it.
 * Sort order matters: AUDIO#… sorts right below META, so one descending Query from META returns the call and its
 * newest speech frames (a tick's read, DynamoCallStore.tickRead). No other item kind may sort between them.
 */
import type { CreateTableCommandInput } from '@aws-sdk/client-dynamodb';

export const CALL_TABLE_SCHEMA = {
  partitionKey: 'pk',
  sortKey: 'sk',
  timeToLiveAttribute: 'expiresAt',
} as const;

export const keys = {
  call: (callId: string) => ({ pk: `CALL#${callId}`, sk: 'META' }),
  audioSk: (chunk: number) => `AUDIO#${String(Math.max(0, chunk)).padStart(10, '0')}`,
  audio: (callId: string, chunk: number) => ({ pk: `CALL#${callId}`, sk: keys.audioSk(chunk) }),
  turnSk: (turn: number) => `TURN#${String(turn).padStart(6, '0')}`,
  turn: (callId: string, turn: number) => ({ pk: `CALL#${callId}`, sk: keys.turnSk(turn) }),
  /**
   * A model responder's conversation, apart from the call item: every read and write of the call item is billed on its
   * whole size (a tick reads it five times a second), so the history lives where only the turn reads it. Its sort key
   * must sort after `META`: a tick reads the call and its newest frames in one descending range `AUDIO#… → META`,
   * and must find nothing else there (`HISTORY` would; a stack test caught it). Nor may it begin with `TURN#`.
   */
  history: (callId: string) => ({ pk: `CALL#${callId}`, sk: 'TALK' }),
  callsInProgress: { pk: 'STATS', sk: 'CALLS' },
  /** The `calls-by-day` partition of the calls `environment` connected on the UTC day of `epochMs`. */
  callsDay: (environment: string, epochMs: number) => `CALLS#${environment}#${new Date(epochMs).toISOString().slice(0, 10)}`,
  chunkOf: (audioSk: string) => Number(audioSk.slice('AUDIO#'.length)),
};

/**
 * How long items live (DynamoDB TTL, seconds). Caller audio is kept only as long as a turn needs it. Calls and their
 * turns (transcripts: personal data) by default a day; each environment sets its own (lib/config.ts
 * `callRetentionHours`, the functions' CALL_RETENTION_HOURS).
 */
export const RETENTION = {
  callSeconds: 24 * 3600,
  audioSeconds: 3600,
};

/**
 * The index of calls by the day they connected. Projected: what a call's summary in the history needs (status, times,
 * how it ended, phone or not, format, and its expiry: calls past retention that TTL has not deleted yet are not listed), nothing a turn, tick or frame writes (`turnCount`, `watch`, `agent`,
 * `lastEndpointChunk`, `dialog`), so the index is written three times a call (connect, start, end), never per frame
 * or turn.
 */
export const CALLS_BY_DAY = {
  indexName: 'calls-by-day',
  partitionKey: 'callsDay',
  sortKey: 'createdAt',
  projected: ['callId', 'status', 'startedAt', 'endedAt', 'endReason', 'callSid', 'format', 'expiresAt'],
} as const;

export function createTableInput(tableName: string): CreateTableCommandInput {
  return {
    TableName: tableName,
    BillingMode: 'PAY_PER_REQUEST',
    AttributeDefinitions: [
      { AttributeName: CALL_TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
      { AttributeName: CALL_TABLE_SCHEMA.sortKey, AttributeType: 'S' },
      { AttributeName: CALLS_BY_DAY.partitionKey, AttributeType: 'S' },
      { AttributeName: CALLS_BY_DAY.sortKey, AttributeType: 'N' },
    ],
    KeySchema: [
      { AttributeName: CALL_TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
      { AttributeName: CALL_TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
    ],
    GlobalSecondaryIndexes: [
      {
        IndexName: CALLS_BY_DAY.indexName,
        KeySchema: [
          { AttributeName: CALLS_BY_DAY.partitionKey, KeyType: 'HASH' },
          { AttributeName: CALLS_BY_DAY.sortKey, KeyType: 'RANGE' },
        ],
        Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...CALLS_BY_DAY.projected] },
      },
    ],
  };
}
