/**
 * The on-call history (`GET /history`, functions/handlers/call-history.ts): what it answers, as the history page
 * (web/history.js) and the tests read it. A turn has the fields of the `voiceagent.turn` event (docs/PROTOCOL.md) plus
 * what was said, so one waterfall (web/waterfall.js) draws both the live call page and the history.
 */
import type { AudioFormat } from './audio-format';

export interface CallSummary {
  readonly callId: string;
  /** Epoch ms: the caller's connection opened. */
  readonly createdAt: number;
  /** Epoch ms: the stream started (Twilio's / the client's `start`); absent for a call that never started. */
  readonly startedAt?: number;
  readonly endedAt?: number;
  /** From the start (or the connection, without one) to the end; absent while the call is in progress. */
  readonly durationMs?: number;
  readonly status: 'connected' | 'streaming' | 'ended';
  /** Why it ended: `stop`, `disconnect`, `hangup`, `transfer`, `max-duration`, … */
  readonly endReason?: string;
  /** Turns recorded (each one finished: answered, failed, barged or superseded), the greeting included. */
  readonly turns: number;
  /** Turns that failed or carried a provider error. */
  readonly errors: number;
  /** Turns the caller talked over (barge-in). */
  readonly bargeIns: number;
  /** A phone call (through Twilio) rather than the browser page or the CLI. */
  readonly phoneCall: boolean;
  readonly encoding?: AudioFormat['encoding'];
}

export interface TurnView {
  readonly turn: number;
  readonly kind: 'greeting' | 'speech' | 'dtmf';
  readonly status: string;
  /** What the agent heard (speech turns). */
  readonly transcript?: string;
  /** What it answered. */
  readonly reply?: string;
  readonly intent?: string;
  readonly error?: string;
  readonly preempted?: boolean;
  /** End of caller speech (or the turn's start) → first agent audio. */
  readonly latencyMs?: number;
  readonly endOfTurn?: { readonly silenceMs: number; readonly heard?: string };
  /** Epoch ms of each stage (TurnTimings). */
  readonly timings: Readonly<Record<string, number | undefined>>;
  readonly providerMs?: Readonly<Record<string, number | undefined>>;
}

/** `GET /history`: the environment's calls, newest first; `next` pages on (`?before=<next>`). */
export interface HistoryPage {
  readonly environment: string;
  readonly calls: readonly CallSummary[];
  readonly next?: string;
}

/** `GET /history?call=<callId>`: one call, turn by turn. */
export interface CallDetail {
  readonly environment: string;
  readonly call: CallSummary;
  readonly turns: readonly TurnView[];
}

/** At most this many calls a page (default HISTORY_DEFAULT_LIMIT). */
export const HISTORY_MAX_LIMIT = 100;
export const HISTORY_DEFAULT_LIMIT = 25;
