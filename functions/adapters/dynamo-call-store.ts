/** CallStore on DynamoDB: every state change is one conditional write, so concurrent environments cannot corrupt a call. */
import { ConditionalCheckFailedException, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, GetCommand, PutCommand, QueryCommand, UpdateCommand, type QueryCommandInput } from '@aws-sdk/lib-dynamodb';
import type { CallRecord, CallState, CallStore, StartFields, TickRead, TurnRecord } from '../domain/call/model';
import type { DialogState } from '../domain/responder/responder';
import type { ModelMessage } from '../domain/language-model';
import type { StoredFrame } from '../domain/vad';
import { keys, RETENTION } from '../contracts/table-schema';

const epochSeconds = (ms: number) => Math.floor(ms / 1000);

export interface CallStoreOptions {
  /** The deployment's environment: its calls are listed under it in the `calls-by-day` index. Default `local`. */
  readonly environment?: string;
  /** How long the call, its turns and its conversation are kept (TTL). Default RETENTION.callSeconds. */
  readonly callRetentionSeconds?: number;
}

export class DynamoCallStore implements CallStore {
  private readonly doc: DynamoDBDocumentClient;
  private readonly environment: string;
  private readonly callRetentionSeconds: number;

  constructor(
    private readonly tableName: string,
    client: DynamoDBClient,
    options: CallStoreOptions = {},
  ) {
    this.doc = DynamoDBDocumentClient.from(client, { marshallOptions: { removeUndefinedValues: true } });
    this.environment = options.environment ?? 'local';
    this.callRetentionSeconds = options.callRetentionSeconds ?? RETENTION.callSeconds;
  }

  async createCall(callId: string, connectionId: string, now: number): Promise<boolean> {
    return this.conditional(
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: {
            ...keys.call(callId),
            callId,
            connectionId,
            status: 'connected',
            createdAt: now,
            events: false,
            lastEndpointChunk: 0, // Twilio numbers chunks from 1
            turnCount: 0,
            dialogTurn: 0,
            lastDtmfSeq: -1,
            // Lists the call in the environment's history (the sparse `calls-by-day` index).
            callsDay: keys.callsDay(this.environment, now),
            expiresAt: epochSeconds(now) + this.callRetentionSeconds,
          },
          ConditionExpression: 'attribute_not_exists(pk)',
        }),
      ),
    ).then((r) => r !== undefined);
  }

  async getCall(callId: string): Promise<CallRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.call(callId), ConsistentRead: true }));
    return out.Item ? toCall(out.Item) : undefined;
  }

  async getHistory(callId: string): Promise<readonly ModelMessage[] | undefined> {
    const out = await this.doc.send(
      new GetCommand({ TableName: this.tableName, Key: keys.history(callId), ConsistentRead: true, ProjectionExpression: 'history' }),
    );
    return out.Item?.history as readonly ModelMessage[] | undefined;
  }

  async getCallState(callId: string): Promise<CallState | undefined> {
    const out = await this.doc.send(
      new GetCommand({
        TableName: this.tableName,
        Key: keys.call(callId),
        ConsistentRead: true,
        ProjectionExpression: STATE_PROJECTION,
        ExpressionAttributeNames: STATE_NAMES,
      }),
    );
    return out.Item ? toCallState(out.Item) : undefined;
  }

  async startStream(callId: string, f: StartFields): Promise<CallRecord | 'not-connected'> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression:
            'SET #status = :streaming, streamSid = :streamSid, callSid = :callSid, #format = :format, events = :events, dialog = :dialog, startedAt = :startedAt, turnCount = turnCount + :one',
          ConditionExpression: '#status = :connected',
          ExpressionAttributeNames: { '#status': 'status', '#format': 'format' },
          ExpressionAttributeValues: {
            ':streaming': 'streaming',
            ':connected': 'connected',
            ':streamSid': f.streamSid,
            ':callSid': f.callSid ?? '',
            ':format': f.format,
            ':events': f.events,
            ':dialog': f.dialog,
            ':startedAt': f.startedAt,
            ':one': 1,
          },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out?.Attributes ? toCall(out.Attributes) : 'not-connected';
  }

  async endCall(callId: string, reason: string, now: number): Promise<CallRecord | undefined> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'SET #status = :ended, endedAt = if_not_exists(endedAt, :now), endReason = if_not_exists(endReason, :reason) REMOVE #agent',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeNames: { '#status': 'status', '#agent': 'agent' },
          ExpressionAttributeValues: { ':ended': 'ended', ':now': now, ':reason': reason },
          ReturnValues: 'ALL_OLD',
        }),
      ),
    );
    return out?.Attributes ? toCall(out.Attributes) : undefined;
  }

  async putAudioFrame(callId: string, frame: StoredFrame): Promise<void> {
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: {
          ...keys.audio(callId, frame.chunk),
          ts: frame.ts,
          dur: frame.durationMs,
          at: frame.receivedAt,
          audio: frame.audio,
          expiresAt: epochSeconds(frame.receivedAt) + RETENTION.audioSeconds,
        },
      }),
    );
  }

  async tickRead(callId: string, afterChunk: number, frames: number): Promise<TickRead> {
    // The call item (sk META) sorts right after its speech frames (sk AUDIO#…): one descending Query returns the call
    // and its newest frames. Projected: neither the dialog state nor any audio crosses the wire.
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :meta',
        ExpressionAttributeValues: { ':pk': keys.call(callId).pk, ':from': keys.audioSk(afterChunk + 1), ':meta': keys.call(callId).sk },
        ExpressionAttributeNames: { ...STATE_NAMES, ...FRAME_NAMES },
        ProjectionExpression: `sk, ${STATE_PROJECTION}, #ts, #dur, #at`,
        ScanIndexForward: false,
        Limit: frames + 1,
        ConsistentRead: true,
      }),
    );
    const items = out.Items ?? [];
    const meta = items[0]?.sk === keys.call(callId).sk ? items[0] : undefined;
    return {
      call: meta ? toCallState(meta) : undefined,
      frames: items
        .filter((item) => item !== meta)
        .map((item) => ({ chunk: keys.chunkOf(item.sk), ts: item.ts, durationMs: item.dur, receivedAt: item.at }))
        .slice(0, frames),
    };
  }

  async framesBetween(callId: string, afterChunk: number, throughChunk: number): Promise<StoredFrame[]> {
    const frames: StoredFrame[] = [];
    let start: Record<string, unknown> | undefined;
    do {
      const out = await this.doc.send(new QueryCommand({ ...this.audioRange(callId, afterChunk, throughChunk), ExclusiveStartKey: start }));
      for (const item of out.Items ?? []) {
        frames.push({ chunk: keys.chunkOf(item.sk), ts: item.ts, durationMs: item.dur, receivedAt: item.at, audio: item.audio as Uint8Array });
      }
      start = out.LastEvaluatedKey;
    } while (start);
    return frames;
  }

  async countFramesBetween(callId: string, afterChunk: number, throughChunk: number): Promise<number> {
    const out = await this.doc.send(new QueryCommand({ ...this.audioRange(callId, afterChunk, throughChunk), Select: 'COUNT' }));
    return out.Count ?? 0;
  }

  async claimEndpoint(callId: string, prevEndpointChunk: number, endpointChunk: number, newTurn: boolean): Promise<CallRecord | undefined> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: newTurn ? 'SET lastEndpointChunk = :end, turnCount = turnCount + :one REMOVE #watch' : 'SET lastEndpointChunk = :end REMOVE #watch',
          ConditionExpression: '#status = :streaming AND lastEndpointChunk = :prev',
          ExpressionAttributeNames: { '#status': 'status', '#watch': 'watch' },
          ExpressionAttributeValues: { ':end': endpointChunk, ':prev': prevEndpointChunk, ':streaming': 'streaming', ...(newTurn ? { ':one': 1 } : {}) },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out?.Attributes ? toCall(out.Attributes) : undefined;
  }

  async claimWatch(callId: string, prevEndpointChunk: number, lastSpeechChunk: number, owner: string, untilMs: number, now: number): Promise<boolean> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'SET #watch = :watch',
          ConditionExpression:
            '#status = :streaming AND lastEndpointChunk = :prev AND (attribute_not_exists(#watch) OR #watch.#chunk < :chunk OR #watch.#until < :now)',
          ExpressionAttributeNames: { '#status': 'status', '#watch': 'watch', '#chunk': 'chunk', '#until': 'untilMs' },
          ExpressionAttributeValues: {
            ':watch': { chunk: lastSpeechChunk, untilMs, owner },
            ':streaming': 'streaming',
            ':prev': prevEndpointChunk,
            ':chunk': lastSpeechChunk,
            ':now': now,
          },
        }),
      ),
    );
    return out !== undefined;
  }

  async claimDtmfTurn(callId: string, sequenceNumber: number): Promise<CallRecord | undefined> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'SET lastDtmfSeq = :seq, turnCount = turnCount + :one',
          ConditionExpression: '#status = :streaming AND lastDtmfSeq < :seq',
          ExpressionAttributeNames: { '#status': 'status' },
          ExpressionAttributeValues: { ':seq': sequenceNumber, ':one': 1, ':streaming': 'streaming' },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out?.Attributes ? toCall(out.Attributes) : undefined;
  }

  async setAgentSpeaking(callId: string, turn: number, untilMs: number): Promise<void> {
    await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'SET #agent = :agent',
          ConditionExpression: '#status = :streaming AND turnCount = :turn',
          ExpressionAttributeNames: { '#status': 'status', '#agent': 'agent' },
          ExpressionAttributeValues: { ':agent': { turn, untilMs }, ':streaming': 'streaming', ':turn': turn },
        }),
      ),
    );
  }

  async claimBargeIn(callId: string, turn: number): Promise<boolean> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'SET bargedTurn = :turn REMOVE #agent',
          ConditionExpression: '#agent.#turn = :turn',
          ExpressionAttributeNames: { '#turn': 'turn', '#agent': 'agent' },
          ExpressionAttributeValues: { ':turn': turn },
        }),
      ),
    );
    return out !== undefined;
  }

  async finishTurn(
    callId: string,
    record: TurnRecord,
    update: { dialog?: DialogState; pendingAction?: 'hangup' | 'transfer'; agentUntilMs?: number },
  ): Promise<void> {
    const now = Date.now();
    await this.doc.send(
      new PutCommand({
        TableName: this.tableName,
        Item: { ...keys.turn(callId, record.turn), ...record, expiresAt: epochSeconds(now) + this.callRetentionSeconds },
      }),
    );
    // The conversation (a model responder's) goes to its own item, the rest of the dialog state to the call item; both
    // only from the newest turn to finish. The facts first: a turn that dies between the two leaves the history a turn
    // behind the facts, never ahead of them.
    const { history, ...dialog } = update.dialog ?? ({} as DialogState);
    const dialogUpdate = update.dialog || update.pendingAction ? this.dialogUpdate(record.turn, { ...update, dialog: update.dialog ? (dialog as DialogState) : undefined }) : undefined;

    const untilUpdate =
      update.agentUntilMs === undefined
        ? undefined
        : {
            UpdateExpression: 'SET #agent.untilMs = :until',
            ConditionExpression: '#agent.#turn = :turn',
            ExpressionAttributeNames: { '#turn': 'turn', '#agent': 'agent' },
            ExpressionAttributeValues: { ':until': update.agentUntilMs, ':turn': record.turn },
          };
    if (dialogUpdate && untilUpdate) {
      // The usual end of a turn: it is the newest to finish and its audio is still the one playing. One write for both;
      // when either condition fails (a barge-in, a newer turn), each is tried on its own, as its own condition allows.
      const both = await this.conditional(
        this.doc.send(
          new UpdateCommand({
            TableName: this.tableName,
            Key: keys.call(callId),
            UpdateExpression: `${dialogUpdate.UpdateExpression}, ${untilUpdate.UpdateExpression.slice('SET '.length)}`,
            ConditionExpression: `${dialogUpdate.ConditionExpression} AND ${untilUpdate.ConditionExpression}`,
            ExpressionAttributeNames: untilUpdate.ExpressionAttributeNames,
            ExpressionAttributeValues: { ...dialogUpdate.ExpressionAttributeValues, ...untilUpdate.ExpressionAttributeValues },
          }),
        ),
      );
      if (both) return this.saveHistory(callId, record.turn, history, now);
    }
    for (const one of [dialogUpdate, untilUpdate]) {
      if (one) await this.conditional(this.doc.send(new UpdateCommand({ TableName: this.tableName, Key: keys.call(callId), ...one })));
    }
    await this.saveHistory(callId, record.turn, history, now);
  }

  /** The conversation of turn `turn`, unless a newer turn's is already stored. */
  private async saveHistory(callId: string, turn: number, history: DialogState['history'], now: number): Promise<void> {
    if (!history) return;
    await this.conditional(
      this.doc.send(
        new PutCommand({
          TableName: this.tableName,
          Item: { ...keys.history(callId), turn, history, expiresAt: epochSeconds(now) + this.callRetentionSeconds },
          ConditionExpression: 'attribute_not_exists(#turn) OR #turn < :turn',
          ExpressionAttributeNames: { '#turn': 'turn' },
          ExpressionAttributeValues: { ':turn': turn },
        }),
      ),
    );
  }

  /** Only a newer turn may replace the dialog state: an older turn finishing late loses. */
  private dialogUpdate(turn: number, update: { dialog?: DialogState; pendingAction?: 'hangup' | 'transfer' }) {
    return {
      UpdateExpression: update.pendingAction ? 'SET dialog = :dialog, dialogTurn = :turn, pendingAction = :pending' : 'SET dialog = :dialog, dialogTurn = :turn',
      ConditionExpression: 'dialogTurn < :turn',
      ExpressionAttributeValues: {
        ':dialog': update.dialog,
        ':turn': turn,
        ...(update.pendingAction ? { ':pending': { turn, action: update.pendingAction } } : {}),
      } as Record<string, unknown>,
    };
  }

  async endOfTurnPlayed(callId: string, turn: number, streamSid: string): Promise<CallRecord | undefined> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'REMOVE #agent',
          ConditionExpression: '#status = :streaming AND streamSid = :sid AND #agent.#turn = :turn',
          ExpressionAttributeNames: { '#status': 'status', '#turn': 'turn', '#agent': 'agent' },
          ExpressionAttributeValues: { ':streaming': 'streaming', ':sid': streamSid, ':turn': turn },
          ReturnValues: 'ALL_NEW',
        }),
      ),
    );
    return out?.Attributes ? toCall(out.Attributes) : undefined;
  }

  async takePendingAction(callId: string, turn: number): Promise<boolean> {
    const out = await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.call(callId),
          UpdateExpression: 'REMOVE pendingAction',
          ConditionExpression: 'pendingAction.#turn = :turn',
          ExpressionAttributeNames: { '#turn': 'turn' },
          ExpressionAttributeValues: { ':turn': turn },
        }),
      ),
    );
    return out !== undefined;
  }

  async markPlayed(callId: string, turn: number, now: number): Promise<void> {
    await this.conditional(
      this.doc.send(
        new UpdateCommand({
          TableName: this.tableName,
          Key: keys.turn(callId, turn),
          UpdateExpression: 'SET timings.playedAt = if_not_exists(timings.playedAt, :now)',
          ConditionExpression: 'attribute_exists(pk)',
          ExpressionAttributeValues: { ':now': now },
        }),
      ),
    );
  }

  async getTurn(callId: string, turn: number): Promise<TurnRecord | undefined> {
    const out = await this.doc.send(new GetCommand({ TableName: this.tableName, Key: keys.turn(callId, turn), ConsistentRead: true }));
    return out.Item ? toTurn(out.Item) : undefined;
  }

  async listTurns(callId: string): Promise<TurnRecord[]> {
    const out = await this.doc.send(
      new QueryCommand({
        TableName: this.tableName,
        KeyConditionExpression: 'pk = :pk AND begins_with(sk, :turn)',
        ExpressionAttributeValues: { ':pk': keys.call(callId).pk, ':turn': 'TURN#' },
        ConsistentRead: true,
      }),
    );
    return (out.Items ?? []).map(toTurn);
  }

  async adjustCallsInProgress(delta: 1 | -1): Promise<number> {
    const out = await this.doc.send(
      new UpdateCommand({
        TableName: this.tableName,
        Key: keys.callsInProgress,
        UpdateExpression: 'ADD inProgress :delta',
        ExpressionAttributeValues: { ':delta': delta },
        ReturnValues: 'UPDATED_NEW',
      }),
    );
    return Number(out.Attributes?.inProgress ?? 0);
  }

  private audioRange(callId: string, afterChunk: number, throughChunk: number): QueryCommandInput {
    return {
      TableName: this.tableName,
      KeyConditionExpression: 'pk = :pk AND sk BETWEEN :from AND :to',
      ExpressionAttributeValues: {
        ':pk': keys.call(callId).pk,
        ':from': keys.audioSk(afterChunk + 1),
        ':to': keys.audioSk(throughChunk),
      },
      ConsistentRead: true,
    };
  }

  /** Resolves to undefined when the write's condition did not hold (someone else won, or the state moved on). */
  private async conditional<T>(write: Promise<T>): Promise<T | undefined> {
    try {
      return await write;
    } catch (err) {
      if (err instanceof ConditionalCheckFailedException || (err as Error).name === 'ConditionalCheckFailedException') return undefined;
      throw err;
    }
  }
}

/** The fields of CallState, projected (names that are DynamoDB reserved words go through placeholders). */
const STATE_NAMES = { '#status': 'status', '#format': 'format', '#agent': 'agent', '#events': 'events', '#watch': 'watch' };
const FRAME_NAMES = { '#ts': 'ts', '#dur': 'dur', '#at': 'at' };
const STATE_PROJECTION = 'callId, connectionId, #status, createdAt, streamSid, #format, #events, lastEndpointChunk, turnCount, #agent, #watch';

function toCallState(item: Record<string, unknown>): CallState {
  const { callId, connectionId, status, createdAt, streamSid, format, events, lastEndpointChunk, turnCount, agent, watch } = item as unknown as CallState;
  return { callId, connectionId, status, createdAt, streamSid, format, events, lastEndpointChunk, turnCount, ...(agent ? { agent } : {}), ...(watch ? { watch } : {}) };
}

function toCall(item: Record<string, unknown>): CallRecord {
  const { pk: _pk, sk: _sk, expiresAt: _e, bargedTurn: _b, startedAt: _s, callsDay: _d, ...rest } = item;
  const call = rest as unknown as CallRecord & { callSid?: string };
  return call.callSid === '' ? { ...call, callSid: undefined } : call;
}

function toTurn(item: Record<string, unknown>): TurnRecord {
  const { pk: _pk, sk: _sk, expiresAt: _e, ...rest } = item;
  return rest as unknown as TurnRecord;
}
