/** The call lifecycle routes: connect, start, dtmf, mark, stop, disconnect. Media is in media-processor.ts. */
import type { AudioFormat } from '../../contracts/audio-format';
import { connectFormatOf, EVENTS_OPT_IN_PARAMETER } from '../../contracts/connect-parameters';
import { formatOf, markName, outbound, ProtocolError, type DtmfMessage, type MarkMessage, type StartMessage, type StopMessage } from '../protocol';
import type { Responder } from '../responder/responder';
import type { CallRecord, CallStore, ConnectionSender, PhoneLine, Telemetry } from './model';
import type { TurnRunner } from './turn-runner';

export interface CallServiceDeps {
  readonly store: CallStore;
  readonly sender: ConnectionSender;
  readonly turns: TurnRunner;
  readonly responder: Responder;
  readonly telemetry: Telemetry;
  readonly now: () => number;
  /** The phone network behind Twilio calls (transfers to a person); none: the client is told instead. */
  readonly phoneLine?: PhoneLine;
}

export class CallService {
  private readonly store: CallStore;
  private readonly sender: ConnectionSender;
  private readonly turns: TurnRunner;
  private readonly responder: Responder;
  private readonly telemetry: Telemetry;
  private readonly now: () => number;
  private readonly phoneLine?: PhoneLine;

  constructor(deps: CallServiceDeps) {
    ({ store: this.store, sender: this.sender, turns: this.turns, responder: this.responder, telemetry: this.telemetry, now: this.now, phoneLine: this.phoneLine } = deps);
  }

  /** `$connect` (after the authorizer allowed it): the call exists from now on, in state `connected`. */
  async connect(callId: string, connectionId: string): Promise<void> {
    const created = await this.store.createCall(callId, connectionId, this.now());
    if (!created) this.telemetry.warn('connect for a call that already exists');
  }

  /**
   * `start`: the stream's metadata and audio format; then the greeting is turn 1. `declaredFormat`: what the connection
   * declared at connect. `phoneCall`: the stream is Twilio's (signed and ticketed), so its call SID is a real call on
   * the account that a transfer may redirect; any other caller's `callSid` is a label and is not kept.
   */
  async start(
    callId: string,
    message: StartMessage,
    receivedAt: number,
    options: { readonly declaredFormat?: AudioFormat; readonly phoneCall?: boolean } = {},
  ): Promise<void> {
    const { declaredFormat, phoneCall = false } = options;
    if (message.start.streamSid !== message.streamSid) throw new ProtocolError('start.streamSid does not match streamSid');
    const format = formatOf(message);
    // Frames are decoded with the format the connection declared before anything is read (media-processor.ts): the
    // stream must be in it.
    if (declaredFormat && declaredFormat.encoding !== format.encoding) {
      throw new ProtocolError(`start.mediaFormat does not match the format declared at connect (${connectFormatOf(declaredFormat)})`);
    }
    const result = await this.store.startStream(callId, {
      streamSid: message.streamSid,
      callSid: phoneCall ? message.start.callSid : undefined,
      format,
      events: message.start.customParameters?.[EVENTS_OPT_IN_PARAMETER] === 'true',
      dialog: this.responder.initialState(),
      startedAt: receivedAt,
    });
    if (result === 'not-connected') {
      const call = await this.store.getCall(callId);
      if (!call) throw new ProtocolError('start for an unknown call');
      throw new ProtocolError(call.status === 'ended' ? 'start after stop' : 'start twice');
    }
    this.telemetry.count('CallsStarted');
    await this.callsInProgress(+1);
    this.telemetry.info('call started', { streamSid: message.streamSid, callSid: message.start.callSid, phoneCall, format, events: result.events });
    await this.turns.run({ kind: 'greeting', turn: result.turnCount, call: result, timings: { endpointAt: receivedAt } });
  }

  /** `dtmf`: a key press is a turn of its own; it interrupts the agent. */
  async dtmf(callId: string, message: DtmfMessage, receivedAt: number): Promise<void> {
    const call = await this.streamingCall(callId, message.streamSid, 'dtmf');
    if (call.agent && this.now() < call.agent.untilMs && (await this.store.claimBargeIn(callId, call.agent.turn))) {
      this.telemetry.count('BargeIns');
      await this.sender.send(call.connectionId, outbound.clear(call.streamSid ?? ''));
    }
    const claimed = await this.store.claimDtmfTurn(callId, message.sequenceNumber);
    if (!claimed) {
      this.telemetry.info('duplicate or stale dtmf ignored', { sequenceNumber: message.sequenceNumber });
      return;
    }
    await this.turns.run({ kind: 'dtmf', turn: claimed.turnCount, call: claimed, dtmf: message.dtmf.digit, timings: { endpointAt: receivedAt } });
  }

  /** `mark`: the caller's side has played our audio up to this mark. The end mark of a turn settles it. */
  async mark(callId: string, message: MarkMessage): Promise<void> {
    const mark = markName.parse(message.mark.name);
    if (!mark) throw new ProtocolError('mark name was not sent by this agent');
    if (!mark.end) return; // segment marks: playback progress only, nothing to store
    // The usual end mark (this stream's call, streaming, the turn still playing) is settled by one conditional write;
    // anything else reads the call, and is refused before it changes anything if the call is not this stream's or
    // not streaming.
    const call = (await this.store.endOfTurnPlayed(callId, mark.turn, message.streamSid)) ?? (await this.streamingCall(callId, message.streamSid, 'mark'));
    await this.store.markPlayed(callId, mark.turn, this.now());
    const pending = call.pendingAction;
    if (!pending || pending.turn !== mark.turn) return;
    // A duplicated end mark sees the same pending action: exactly one of them acts on it.
    if (!(await this.store.takePendingAction(callId, pending.turn))) return;
    let reason: string = pending.action;
    if (pending.action === 'transfer' && call.callSid && this.phoneLine) {
      // The "connecting you" line has played: Twilio redirects the live call to <Dial> the person and ends our stream.
      try {
        await this.phoneLine.transfer(call.callSid);
        this.telemetry.count('Transfers');
        this.telemetry.info('call transferred to a person');
      } catch (err) {
        reason = 'transfer-failed';
        this.telemetry.count('TransferFailures');
        this.telemetry.error('transfer failed: ending the call', { error: (err as Error).message });
      }
    } else {
      this.telemetry.info('ending the call after the final reply played', { action: pending.action });
    }
    if (call.events) await this.sender.send(call.connectionId, outbound.extra(call.streamSid ?? '', pending.action, { turn: mark.turn, ...(reason !== pending.action ? { failed: true } : {}) }));
    const before = await this.store.endCall(callId, reason, this.now());
    await this.ended(before);
    await this.sender.close(call.connectionId);
  }

  /** `stop`: the caller's side ended the stream. */
  async stop(callId: string, message: StopMessage): Promise<void> {
    // The stream is checked before anything is written: a stop naming another stream must not end this call.
    const current = await this.store.getCall(callId);
    if (!current) throw new ProtocolError('stop for an unknown call');
    if (current.streamSid !== undefined && current.streamSid !== message.streamSid) {
      throw new ProtocolError('streamSid does not match the call');
    }
    const before = await this.store.endCall(callId, 'stop', this.now());
    if (!before) throw new ProtocolError('stop for an unknown call');
    if (before.status === 'ended') {
      // A caller that sends stop and closes races its own $disconnect (API Gateway runs both at once), and a call
      // we ended (goodbye, a limit) may still get the caller's stop: neither is bad input. A second stop is.
      if (before.endReason === 'stop') throw new ProtocolError('stop after the call ended');
      this.telemetry.debug('stop for a call already ended', { endReason: before.endReason });
      return;
    }
    await this.ended(before);
    this.telemetry.info('call stopped by the caller', { turns: before.turnCount });
  }

  /**
   * The call crossed a limit (its maximum duration, or its client streams faster than real time): end it and close
   * the connection (API Gateway then runs $disconnect, which finds it ended). Idempotent: only the invocation that
   * ends it counts it and closes.
   */
  async endForLimit(callId: string, limit: 'over-max-duration' | 'faster-than-real-time'): Promise<void> {
    const before = await this.store.endCall(callId, limit, this.now());
    if (!before || before.status === 'ended') return;
    this.telemetry.count(limit === 'over-max-duration' ? 'CallsOverMaxDuration' : 'ConnectionsClosedForFlooding');
    this.telemetry.warn('call ended: limit crossed', { limit, turns: before.turnCount });
    await this.ended(before);
    if (before.events && before.streamSid) await this.sender.send(before.connectionId, outbound.extra(before.streamSid, 'hangup', { reason: limit }));
    await this.sender.close(before.connectionId);
  }

  /** `$disconnect`: the socket is gone (hang-up, idle, or our own close). Idempotent. */
  async disconnect(callId: string, reason: string): Promise<void> {
    const before = await this.store.endCall(callId, reason, this.now());
    if (before && before.status !== 'ended') {
      await this.ended(before);
      this.telemetry.info('call ended by disconnect', { reason, turns: before.turnCount });
    }
  }

  /** Counts the end of a call; `before` is the call as it was when this invocation ended it. */
  private async ended(before: CallRecord | undefined): Promise<void> {
    if (!before || before.status === 'ended') return;
    this.telemetry.count('CallsEnded');
    if (before.status === 'streaming') await this.callsInProgress(-1);
  }

  /** A dashboard level, not a correctness input: a failure to count never fails the call. */
  private async callsInProgress(delta: 1 | -1): Promise<void> {
    try {
      this.telemetry.gauge('CallsInProgress', await this.store.adjustCallsInProgress(delta));
    } catch (err) {
      this.telemetry.warn('calls-in-progress counter not updated', { error: (err as Error).message });
    }
  }

  private async streamingCall(callId: string, streamSid: string, what: string): Promise<CallRecord> {
    const call = await this.store.getCall(callId);
    if (!call) throw new ProtocolError(`${what} for an unknown call`);
    if (call.status === 'connected') throw new ProtocolError(`${what} before start`);
    if (call.status === 'ended') throw new ProtocolError(`${what} after stop`);
    if (call.streamSid !== streamSid) throw new ProtocolError('streamSid does not match the call');
    return call;
  }
}
