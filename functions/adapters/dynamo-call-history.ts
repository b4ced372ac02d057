/**
 * The on-call history on DynamoDB: an environment's recent calls from the sparse `calls-by-day` index (one Query per
 * UTC day, newest first, never a Scan), and one call with its turns. Reads only; off the hot path (an engineer's page).
 * Only the environment's own calls: the index partition is built from it, a page cursor must name it, and a call of
 * another environment is "not found".
 */
import type { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, QueryCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import { z } from 'zod';
import type { CallDetail, HistoryPage } from '../contracts/history';
import { CALLS_BY_DAY, keys, RETENTION } from '../contracts/table-schema';
import { summarize, turnView, type StoredCallSummary, type TurnOutcome } from '../domain/call/call-history';
import type { TurnRecord } from '../domain/call/model';

const DAY_MS = 24 * 3600 * 1000;

/** Where the next page starts: a day of the index and, within it, the last call returned. Opaque to clients. */
const Cursor = z
  .object({
    day: z.string().regex(/^\d{4}-\d{2}-\d{2}$/),
    after: z
      .object({ pk: z.string().regex(/^CALL#[A-Za-z0-9=_-]{1,128}$/), sk: z.literal('META'), callsDay: z.string(), createdAt: z.number().int().nonnegative() })
      .strict()
      .optional(),
  })
  .strict();
type Cursor = z.infer<typeof Cursor>;

/** A `before` the history cannot page from (malformed, another environment's, or outside the retention window). */
export class BadCursorError extends Error {}

export interface CallHistoryOptions {
  readonly environment: string;
  /** Calls older than this are gone (TTL): the listing looks no further back. */
  readonly callRetentionSeconds?: number;
}

export class DynamoCallHistory {
  private readonly doc: DynamoDBDocumentClient;
  private readonly retentionDays: number;

  constructor(
    private readonly tableName: string,
    client: DynamoDBClient,
    private readonly options: CallHistoryOptions,
  ) {
    this.doc = DynamoDBDocumentClient.from(client);
    // TTL deletes within days of expiry, not at once: a day more than the retention, so an expired call may still show.
    this.retentionDays = Math.ceil((options.callRetentionSeconds ?? RETENTION.callSeconds) / (24 * 3600)) + 1;
  }

  get environment(): string {
    return this.options.environment;
  }

  /** Up to `limit` calls, newest first, from `before` (a previous page's `next`) or from now. */
  async listCalls(limit: number, before: string | undefined, now = Date.now()): Promise<HistoryPage> {
    const oldestDay = dayOf(now - this.retentionDays * DAY_MS);
    const from = before ? this.parseCursor(before, now) : { day: dayOf(now) };
    // A page cursor the retention window has since moved past (midnight UTC came): nothing older is left.
    if (from.day < oldestDay) return { environment: this.environment, calls: [] };
    let cursor: Cursor = from;
    const found: StoredCallSummary[] = [];
    let next: Cursor | undefined;
    while (found.length < limit) {
      const out = await this.doc.send(
        new QueryCommand({
          TableName: this.tableName,
          IndexName: CALLS_BY_DAY.indexName,
          KeyConditionExpression: '#day = :day',
          ExpressionAttributeNames: { '#day': CALLS_BY_DAY.partitionKey, '#expires': 'expiresAt' },
          ExpressionAttributeValues: { ':day': this.partition(cursor.day), ':now': Math.floor(now / 1000) },
          // Calls past their retention that TTL has not deleted yet (it takes up to days) are not shown.
          FilterExpression: 'attribute_not_exists(#expires) OR #expires > :now',
          ScanIndexForward: false,
          Limit: limit - found.length,
          ...(cursor.after ? { ExclusiveStartKey: cursor.after } : {}),
        }),
      );
      found.push(...((out.Items ?? []) as StoredCallSummary[]));
      const previousDay = dayOf(Date.parse(`${cursor.day}T00:00:00Z`) - DAY_MS);
      if (out.LastEvaluatedKey) cursor = { day: cursor.day, after: out.LastEvaluatedKey as Cursor['after'] };
      else if (previousDay >= oldestDay) cursor = { day: previousDay };
      else {
        next = undefined;
        break;
      }
      next = cursor;
    }
    const calls = await Promise.all(found.map(async (call) => summarize(call, await this.turnOutcomes(call.callId))));
    return { environment: this.environment, calls, ...(next ? { next: encodeCursor(next) } : {}) };
  }

  /** One call of this environment with every turn, oldest first; undefined when there is none (or it is past retention). */
  async getCall(callId: string, now = Date.now()): Promise<CallDetail | undefined> {
    const [item, turns] = await Promise.all([
      this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.call(callId), ConsistentRead: true })),
      this.queryAll({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :turn)',
        ExpressionAttributeValues: { ':pk': keys.call(callId).pk, ':turn': 'TURN#' },
        ConsistentRead: true,
      }),
    ]);
    const call = item.Item as (StoredCallSummary & { callsDay?: string; expiresAt?: number }) | undefined;
    if (!call || call.callsDay !== keys.callsDay(this.environment, call.createdAt) || expired(call, now)) return undefined;
    const records = turns.filter((t) => !expired(t, now)) as unknown as TurnRecord[];
    return { environment: this.environment, call: summarize(call, records), turns: records.map(turnView) };
  }

  /** Every item a Query matches, page after page (a call's turns can pass the 1 MB a Query returns at once). */
  private async queryAll(input: QueryCommandInput): Promise<Record<string, unknown>[]> {
    const items: Record<string, unknown>[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...input, ...(start ? { ExclusiveStartKey: start } : {}) }));
      items.push(...(out.Items ?? []));
      start = out.LastEvaluatedKey;
    } while (start);
    return items;
  }

  /** What each turn of a call came to (status and error only: no transcripts are read for the list). */
  private async turnOutcomes(callId: string): Promise<TurnOutcome[]> {
    return (await this.queryAll({
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND begins_with(sk, :turn)',
      ExpressionAttributeNames: { '#status': 'status', '#error': 'error' },
      ExpressionAttributeValues: { ':pk': keys.call(callId).pk, ':turn': 'TURN#' },
      ProjectionExpression: '#status, #error',
    })) as unknown as TurnOutcome[];
  }

  /** The index partition of `day` (yyyy-mm-dd), as the call store writes it. */
  private partition(day: string): string {
    return keys.callsDay(this.environment, Date.parse(`${day}T00:00:00Z`));
  }

  private parseCursor(text: string, now: number): Cursor {
    let cursor: Cursor;
    try {
      cursor = Cursor.parse(JSON.parse(Buffer.from(text, 'base64url').toString('utf8')));
    } catch {
      throw new BadCursorError('before: not a cursor this history gave out');
    }
    if (cursor.day > dayOf(now)) throw new BadCursorError('before: a day that has not come yet');
    if (cursor.after && cursor.after.callsDay !== this.partition(cursor.day)) throw new BadCursorError('before: not a cursor of this environment');
    return cursor;
  }
}

/** Past its TTL (`expiresAt`, epoch seconds) but not deleted yet: DynamoDB deletes expired items within days. */
const expired = (item: { expiresAt?: unknown }, now: number): boolean => typeof item.expiresAt === 'number' && item.expiresAt <= Math.floor(now / 1000);
const dayOf = (epochMs: number): string => new Date(epochMs).toISOString().slice(0, 10);
const encodeCursor = (cursor: Cursor): string => Buffer.from(JSON.stringify(cursor), 'utf8').toString('base64url');
