/** Call state as the domain sees it. Stored in DynamoDB by the call store adapter; plain data. */
import type { AudioFormat } from '../../contracts/audio-format';
import type { MetricName } from '../../contracts/metrics';
import type { Completeness } from '../responder/completeness';
import type { ModelMessage } from '../language-model';
import type { DialogState } from '../responder/responder';
import type { StoredFrame } from '../vad';

export type CallStatus = 'connected' | 'streaming' | 'ended';

export interface CallRecord {
  readonly callId: string;
  readonly connectionId: string;
  readonly status: CallStatus;
  readonly createdAt: number;
  readonly streamSid?: string;
  readonly callSid?: string;
  readonly format?: AudioFormat;
  /** The client opted in to the extra voiceagent.* events. */
  readonly events: boolean;
  /** Chunk number of the last end of utterance: frames at or before it belong to closed utterances. */
  readonly lastEndpointChunk: number;
  /** Number of turns claimed so far (the greeting is turn 1). */
  readonly turnCount: number;
  readonly dialog?: DialogState;
  /** Turn whose reply last wrote `dialog` (an older turn finishing late must not overwrite a newer state). */
  readonly dialogTurn: number;
  /** The agent's audio of this turn may still be playing until `untilMs` (epoch ms). */
  readonly agent?: { readonly turn: number; readonly untilMs: number };
  /** What to do once the turn's audio has played (final mark received). */
  readonly pendingAction?: { readonly turn: number; readonly action: 'hangup' | 'transfer' };
  readonly lastDtmfSeq: number;
  /**
   * The utterance ending at speech chunk `chunk` has a watcher (media-processor.ts): it closes the utterance when its
   * endpoint is due. Ticks past the endpoint leave it alone until `untilMs`; `owner` names that one watch.
   */
  readonly watch?: { readonly chunk: number; readonly untilMs: number; readonly owner: string };
  readonly endedAt?: number;
  readonly endReason?: string;
}

/**
 * What a frame needs of its call, as an environment caches it: the fields fixed at start (format, stream, connection,
 * creation time) and the coordination fields the call's ticks refresh. Never the dialog state (a turn reads the
 * whole call from the write that claims it).
 */
export type CallState = Pick<
  CallRecord,
  'callId' | 'connectionId' | 'status' | 'createdAt' | 'streamSid' | 'format' | 'events' | 'lastEndpointChunk' | 'turnCount' | 'agent' | 'watch'
>;

/** A stored speech frame without its audio: what coordination decides from. */
export type FrameMeta = Omit<StoredFrame, 'audio'>;

/** One tick's read: the call's coordination state and its newest speech frames after a chunk, newest first. */
export interface TickRead {
  readonly call?: CallState;
  readonly frames: readonly FrameMeta[];
}

export type TurnKind = 'greeting' | 'speech' | 'dtmf';
export type TurnStatus = 'completed' | 'barged' | 'superseded' | 'failed' | 'ignored' | 'hungup';

/** Epoch milliseconds at which each stage of a turn happened. */
export interface TurnTimings {
  /** The gateway received the last speech frame of the utterance (speech turns). */
  speechEndAt?: number;
  /** The endpoint was decided (or the DTMF / start message arrived). */
  endpointAt: number;
  /** The gateway received the frame that completed the endpoint, and its handler started (dispatch = the difference). */
  endpointFrameAt?: number;
  endpointHandlerAt?: number;
  transcriptAt?: number;
  /** A language model's first text (streamed replies). */
  firstTokenAt?: number;
  /** The reply's first sentence was ready to synthesize (the whole reply, for responders that do not stream). */
  replyAt?: number;
  /** First text-to-speech bytes received. */
  ttsFirstByteAt?: number;
  /** First agent audio handed to the connection. */
  firstAudioAt?: number;
  lastAudioAt?: number;
  playedAt?: number;
}

export interface TurnRecord {
  readonly turn: number;
  readonly kind: TurnKind;
  readonly status: TurnStatus;
  readonly timings: TurnTimings;
  readonly transcript?: string;
  readonly reply?: string;
  readonly intent?: string;
  readonly fromChunk?: number;
  readonly toChunk?: number;
  readonly speechMs?: number;
  readonly audioMs?: number;
  readonly error?: string;
  /** Answered by preemptive generation (its provider work started before the endpoint). */
  readonly preempted?: boolean;
  /** How long each provider took on this turn (for preempted turns, before the endpoint: overlapped with it). */
  readonly providerMs?: { readonly stt?: number; readonly responder?: number; readonly modelFirstToken?: number; readonly ttsFirstByte?: number };
  /** Speech turns: the silence that ended the utterance, and what its words sounded like when it was chosen. */
  readonly endOfTurn?: EndOfTurn;
}

/** Turn latency: the caller's last speech frame reaching the gateway → the first agent audio handed back to it. */
export function turnLatency(record: Pick<TurnRecord, 'timings'>): number | undefined {
  const { speechEndAt, endpointAt, firstAudioAt } = record.timings;
  if (firstAudioAt === undefined) return undefined;
  return firstAudioAt - (speechEndAt ?? endpointAt);
}

/** How a speech turn's end was decided (docs/LATENCY.md, "End of turn"). */
export interface EndOfTurn {
  readonly silenceMs: number;
  /** `complete` / `incomplete` / `unsure`; absent when the words were not transcribed before the endpoint. */
  readonly heard?: Completeness;
}

export interface StartFields {
  readonly streamSid: string;
  readonly callSid?: string;
  readonly format: AudioFormat;
  readonly events: boolean;
  readonly dialog: DialogState;
  readonly startedAt: number;
}

/**
 * The phone network behind a Twilio call (functions/adapters/twilio-calls.ts: TwilioPhoneLine): handing the caller to a person.
 */
export interface PhoneLine {
  /** Whether phone calls can be transferred: a number to transfer to, and the credentials to ask Twilio. */
  canTransfer(): Promise<boolean>;
  /** Redirects the live call to the transfer number (Twilio ends the stream). Rejects when it cannot. */
  transfer(callSid: string): Promise<void>;
}

/** Persistence of call state. Every method that changes state is a conditional write: safe under races. */
export interface CallStore {
  /** False when the call already exists. */
  createCall(callId: string, connectionId: string, now: number): Promise<boolean>;
  /** Strongly consistent read. */
  getCall(callId: string): Promise<CallRecord | undefined>;
  /** connected → streaming, and claims turn 1 (the greeting). Fails when the call is not in `connected`. */
  startStream(callId: string, fields: StartFields): Promise<CallRecord | 'not-connected'>;
  /** Marks the call ended (idempotent); returns the record before the change, or undefined if unknown. */
  endCall(callId: string, reason: string, now: number): Promise<CallRecord | undefined>;

  /** Only what a frame needs (CallState): an environment's first look at a call. Strongly consistent. */
  getCallState(callId: string): Promise<CallState | undefined>;

  putAudioFrame(callId: string, frame: StoredFrame): Promise<void>;
  /**
   * A tick's one request: the call's coordination state and up to `frames` newest speech frames after `afterChunk`
   * (newest first, without audio). Strongly consistent.
   */
  tickRead(callId: string, afterChunk: number, frames: number): Promise<TickRead>;
  framesBetween(callId: string, afterChunk: number, throughChunk: number): Promise<StoredFrame[]>;
  countFramesBetween(callId: string, afterChunk: number, throughChunk: number): Promise<number>;

  /**
   * Closes the utterance after `prevEndpointChunk` at `endpointChunk`. Exactly one caller wins per previous
   * endpoint. With `newTurn` the turn counter is incremented (the winner runs that turn).
   */
  claimEndpoint(callId: string, prevEndpointChunk: number, endpointChunk: number, newTurn: boolean): Promise<CallRecord | undefined>;
  /**
   * Makes `owner` the watcher of the utterance ending at `lastSpeechChunk` until `untilMs`: one winner per utterance
   * end; a newer end, or an expired watch, can be taken over.
   */
  claimWatch(callId: string, prevEndpointChunk: number, lastSpeechChunk: number, owner: string, untilMs: number, now: number): Promise<boolean>;
  /** Claims a turn for a DTMF digit; duplicates (same or older sequence number) lose. */
  claimDtmfTurn(callId: string, sequenceNumber: number): Promise<CallRecord | undefined>;
  setAgentSpeaking(callId: string, turn: number, untilMs: number): Promise<void>;
  /** Wins once per agent turn; clears the speaking state. */
  claimBargeIn(callId: string, turn: number): Promise<boolean>;
  /**
   * A model responder's conversation as the newest finished turn stored it (kept apart from the call: finishTurn
   * stores `dialog.history` there, and the call's own dialog state never carries it).
   */
  getHistory(callId: string): Promise<readonly ModelMessage[] | undefined>;
  /** Records the turn and, when this turn is the newest to finish, its dialog state and pending action. */
  finishTurn(callId: string, record: TurnRecord, update: { dialog?: DialogState; pendingAction?: 'hangup' | 'transfer'; agentUntilMs?: number }): Promise<void>;
  /**
   * The final mark of a turn came back on a streaming call's own stream while that turn's audio was the one playing:
   * clears the speaking state and returns the call after the change. Undefined when any of that does not hold (the
   * caller barged in, a newer turn speaks, or the mark is bad input): one conditional write either way.
   */
  endOfTurnPlayed(callId: string, turn: number, streamSid: string): Promise<CallRecord | undefined>;
  /** Takes the call's pending action (hang up, transfer) of `turn`: true for exactly one caller. */
  takePendingAction(callId: string, turn: number): Promise<boolean>;
  /** Records when the turn's audio finished playing (the first end mark wins). */
  markPlayed(callId: string, turn: number, now: number): Promise<void>;
  getTurn(callId: string, turn: number): Promise<TurnRecord | undefined>;
  listTurns(callId: string): Promise<TurnRecord[]>;
  /** Calls streaming right now, across the table, after adding delta (+1 at start, −1 at the end of a started call). */
  adjustCallsInProgress(delta: 1 | -1): Promise<number>;
}

/** The way back to the caller (API Gateway Management API). */
export interface ConnectionSender {
  /** 'gone' when the caller has hung up (GoneException). */
  send(connectionId: string, data: string): Promise<'ok' | 'gone'>;
  close(connectionId: string): Promise<void>;
}

/** What the domain reports; handlers bind it to Powertools Logger and Metrics. */
export interface Telemetry {
  debug(message: string, extra?: Record<string, unknown>): void;
  info(message: string, extra?: Record<string, unknown>): void;
  warn(message: string, extra?: Record<string, unknown>): void;
  error(message: string, extra?: Record<string, unknown>): void;
  count(metric: MetricName, value?: number): void;
  milliseconds(metric: MetricName, value: number): void;
  /** The current value of a level (e.g. calls in progress), read with the Maximum statistic. */
  gauge(metric: MetricName, value: number): void;
}

/** The call's audio format on the wire (Twilio's μ-law 8 kHz until `start` says otherwise). */
export function audioFormatOf(call: CallRecord): AudioFormat {
  return call.format ?? { encoding: 'mulaw', sampleRate: 8000 };
}
