/**
 * A call and its turns as the on-call history shows them (functions/contracts/history.ts): plain data in, plain data
 * out. What counts as an error or a barge-in is decided here, once, for the list and the call page alike.
 */
import type { CallSummary, TurnView } from '../../contracts/history';
import { turnLatency, type CallStatus, type TurnRecord } from './model';

/** The stored call fields a summary needs (what the `calls-by-day` index projects). */
export interface StoredCallSummary {
  readonly callId: string;
  readonly createdAt: number;
  readonly status: CallStatus;
  readonly startedAt?: number;
  readonly endedAt?: number;
  readonly endReason?: string;
  readonly callSid?: string;
  readonly format?: { readonly encoding?: string };
}

/** Enough of a turn to count it. */
export type TurnOutcome = Pick<TurnRecord, 'status' | 'error'>;

/** A failed turn, or one a provider error touched (answered with a fallback, for instance). */
export const isErrorTurn = (t: TurnOutcome): boolean => t.status === 'failed' || Boolean(t.error);

export function summarize(call: StoredCallSummary, turns: readonly TurnOutcome[]): CallSummary {
  const from = call.startedAt ?? call.createdAt;
  return {
    callId: call.callId,
    createdAt: call.createdAt,
    ...(call.startedAt !== undefined ? { startedAt: call.startedAt } : {}),
    ...(call.endedAt !== undefined ? { endedAt: call.endedAt, durationMs: Math.max(0, call.endedAt - from) } : {}),
    status: call.status,
    ...(call.endReason ? { endReason: call.endReason } : {}),
    turns: turns.length,
    errors: turns.filter(isErrorTurn).length,
    bargeIns: turns.filter((t) => t.status === 'barged').length,
    phoneCall: Boolean(call.callSid),
    ...(call.format?.encoding ? { encoding: call.format.encoding as CallSummary['encoding'] } : {}),
  };
}

/** A stored turn as the page shows it: the `voiceagent.turn` fields plus what was heard and answered. */
export function turnView(record: TurnRecord): TurnView {
  const latencyMs = turnLatency(record);
  return {
    turn: record.turn,
    kind: record.kind,
    status: record.status,
    ...(record.transcript !== undefined ? { transcript: record.transcript } : {}),
    ...(record.reply !== undefined ? { reply: record.reply } : {}),
    ...(record.intent !== undefined ? { intent: record.intent } : {}),
    ...(record.error !== undefined ? { error: record.error } : {}),
    ...(record.preempted ? { preempted: true } : {}),
    ...(latencyMs !== undefined ? { latencyMs } : {}),
    ...(record.endOfTurn ? { endOfTurn: record.endOfTurn } : {}),
    timings: { ...record.timings },
    ...(record.providerMs ? { providerMs: { ...record.providerMs } } : {}),
  };
}
