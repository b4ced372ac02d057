/**
 * The hot path: one 20 ms frame per invocation, 50 a second per call, in whichever environment Lambda picks.
 *
 * Per frame: silence costs no request at all; speech costs one PutItem (the frame, so whichever environment
 * detects the end of the utterance can read the whole utterance). Endpoint, barge-in and polling decisions read
 * DynamoDB only around utterance boundaries. See docs/ARCHITECTURE.md ("The hot path").
 */
import { randomUUID } from 'node:crypto';
import { durationMs, silence, toPcm16 } from '../audio';
import { outbound, ProtocolError, type MediaMessage } from '../protocol';
import { assembleUtterance, isEndpoint, isSpeech, type EndpointingConfig, type StoredFrame } from '../vad';
import { CallViewCache, isKnowledgeComplete, resetTracking, type CallView } from './call-view';
import type { CallRecord, CallStore, ConnectionSender, Telemetry } from './model';
import type { PreparedTurn, TurnRunner } from './turn-runner';

export interface MediaConfig extends EndpointingConfig {
  /** How stale the cached call may be when a speech frame needs to know whether the agent is talking. */
  readonly callRefreshMs: number;
  /** Any frame refreshes a cached call older than this, so a call ended elsewhere is noticed within it. */
  readonly callMaxAgeMs: number;
  /**
   * An environment without complete knowledge of a call looks for others' speech once per this much stream time.
   * Time, not chunks: counted in chunks, 100 ms chunks polled every second and endpoints came ~0.5 s late.
   */
  readonly pollEveryMs: number;
  /** Largest accepted audio payload per media message. */
  readonly maxFrameMs: number;
  /** How many times (20 ms apart) a frame that arrived before `start` landed waits for it. */
  readonly startWaitAttempts: number;
  /**
   * A silent frame handled this long after the gateway received it means the system is behind and earlier speech
   * frames may still be in flight: it leaves the endpoint to a later frame…
   */
  readonly endpointMaxLagMs: number;
  /** …but only until this much extra silence has passed, so a lasting lag cannot starve the turn. */
  readonly endpointMaxDeferMs: number;
  /**
   * Preemptive generation: after this much silence (less than endpointSilenceMs) one environment starts answering
   * the utterance — transcript, reply, first audio — and delivers it if the endpoint follows. 0 turns it off.
   */
  readonly preemptSilenceMs: number;
  /** How long a speculation holds the utterance beyond its expected endpoint before others answer it themselves. */
  readonly speculationSlackMs: number;
  /** How often the speculating environment looks for the endpoint's hand-off. */
  readonly handoffPollMs: number;
  /**
   * Longest call, from connect: a frame of an older call ends it (API Gateway's own cap is 2 hours). Checked on the
   * cached call, so it costs nothing per frame.
   */
  readonly maxCallMs: number;
  /**
   * A real caller's audio can never run ahead of the wall clock: a frame whose stream timestamp is this far ahead of
   * the time since connect comes from a client sending faster than real time (a flood, or a file streamed unpaced).
   * Stateless, so it holds however Lambda spreads the flood over environments — unlike a per-environment counter.
   */
  readonly maxAheadMs: number;
}

export const DEFAULT_MEDIA_CONFIG: Omit<MediaConfig, keyof EndpointingConfig> = {
  callRefreshMs: 300,
  callMaxAgeMs: 2000,
  pollEveryMs: 200,
  maxFrameMs: 1000,
  startWaitAttempts: 3,
  endpointMaxLagMs: 150,
  endpointMaxDeferMs: 1000,
  // Half the endpoint silence: early enough to hide most of speech-to-text and the first synthesized byte, late
  // enough that ordinary pauses inside a sentence rarely start work that is thrown away. 0 turns it off.
  preemptSilenceMs: 200,
  speculationSlackMs: 400,
  handoffPollMs: 20,
  maxCallMs: 30 * 60 * 1000,
  maxAheadMs: 3000,
};

/** What became of a frame, when the handler has something left to do. */
export type FrameOutcome = 'handled' | 'over-max-duration' | 'faster-than-real-time';

export interface MediaContext {
  readonly callId: string;
  /** When the gateway received the frame, and when this handler started on it. */
  readonly receivedAt: number;
  readonly startedAt?: number;
}

export class MediaProcessor {
  constructor(
    private readonly store: CallStore,
    private readonly sender: ConnectionSender,
    private readonly turns: TurnRunner,
    private readonly telemetry: Telemetry,
    private readonly config: MediaConfig,
    private readonly now: () => number,
    private readonly cache = new CallViewCache(),
  ) {}

  async process(ctx: MediaContext, message: MediaMessage): Promise<FrameOutcome> {
    const view = await this.viewFor(ctx.callId, message);
    const call = view.call;
    // Limits. The first frame in this environment past one asks the handler to end the call; the call's later frames
    // here are dropped quietly until the disconnect lands (ending is idempotent anyway).
    const limit =
      this.now() - call.createdAt >= this.config.maxCallMs
        ? 'over-max-duration'
        : message.media.timestamp - (ctx.receivedAt - call.createdAt) > this.config.maxAheadMs
          ? 'faster-than-real-time'
          : undefined;
    if (limit || view.ending) {
      if (view.ending) return 'handled';
      view.ending = true;
      return limit!;
    }
    const format = call.format!;
    const audio = Buffer.from(message.media.payload, 'base64');
    const frameMs = durationMs(audio.byteLength, format);
    if (audio.byteLength === 0) throw new ProtocolError('media payload is empty');
    if (frameMs > this.config.maxFrameMs) throw new ProtocolError(`media payload longer than ${this.config.maxFrameMs} ms`);
    if (format.encoding === 'pcm16' && audio.byteLength % 2 !== 0) throw new ProtocolError('pcm16 payload has an odd number of bytes');

    const chunk = message.media.chunk;
    const ts = message.media.timestamp;
    const speech = isSpeech(toPcm16(audio, format), this.config, format.sampleRate);
    if (chunk <= call.lastEndpointChunk) {
      // Behind an utterance that was already closed. Silence there changes nothing; speech is lost to that turn.
      if (speech) this.telemetry.count('LateFrames');
      return 'handled';
    }
    view.seenSince++;

    if (speech) {
      await this.onSpeech(ctx, view, { chunk, ts, durationMs: frameMs, audio, receivedAt: ctx.receivedAt });
    } else {
      await this.onSilence(ctx, view, chunk, ts, frameMs);
    }
    return 'handled';
  }

  private async onSpeech(
    ctx: MediaContext,
    view: CallView,
    frame: { chunk: number; ts: number; durationMs: number; audio: Uint8Array; receivedAt: number },
  ): Promise<void> {
    // The frame write and a stale cache's refresh are independent: one round trip, not two.
    const stale = this.now() - view.fetchedAt > this.config.callRefreshMs;
    await Promise.all([this.store.putAudioFrame(ctx.callId, frame), stale ? this.refresh(ctx.callId, view) : undefined]);
    const endTs = frame.ts + frame.durationMs;
    if (!view.lastSpeech || frame.chunk > view.lastSpeech.chunk) {
      view.lastSpeech = { chunk: frame.chunk, endTs, receivedAt: frame.receivedAt };
    }
    const agent = view.call.agent;
    if (agent && this.now() < agent.untilMs) await this.maybeBargeIn(ctx, view, frame.chunk, frame.durationMs, agent.turn);
  }

  private async onSilence(ctx: MediaContext, view: CallView, chunk: number, ts: number, frameMs: number): Promise<void> {
    const open = view.lastSpeech && view.lastSpeech.chunk > view.call.lastEndpointChunk;
    if (open && isEndpoint(view.lastSpeech!.endTs, ts, this.config)) {
      const lagging = this.now() - ctx.receivedAt > this.config.endpointMaxLagMs;
      const deferredLongEnough = ts - view.lastSpeech!.endTs >= this.config.endpointSilenceMs + this.config.endpointMaxDeferMs;
      if (lagging && !deferredLongEnough) {
        this.telemetry.count('EndpointsDeferred');
        return;
      }
      await this.tryEndpoint(ctx, view, chunk, ts);
      return;
    }
    if (open && this.shouldSpeculate(view, ts)) {
      await this.speculate(ctx, view, chunk, ts);
      return;
    }
    // The frame that crosses each pollEveryMs boundary of stream time polls (every 10th at 20 ms, every 2nd at 100 ms).
    const crossesPollBoundary = Math.floor(ts / this.config.pollEveryMs) !== Math.floor((ts - frameMs) / this.config.pollEveryMs);
    if (!isKnowledgeComplete(view, chunk) && crossesPollBoundary) {
      // Other environments may have stored speech this one never saw: look once, then know.
      this.telemetry.count('EndpointPolls');
      const latest = await this.store.latestFrameAfter(ctx.callId, view.call.lastEndpointChunk);
      resetTracking(view, chunk);
      if (!latest) return;
      view.lastSpeech = { chunk: latest.chunk, endTs: latest.ts + latest.durationMs, receivedAt: latest.receivedAt };
      if (isEndpoint(view.lastSpeech.endTs, ts, this.config)) await this.tryEndpoint(ctx, view, chunk, ts);
    }
  }

  /** Reads the utterance, confirms the silence, and claims the endpoint; the winner runs the turn inline. */
  private async tryEndpoint(ctx: MediaContext, view: CallView, chunk: number, ts: number): Promise<void> {
    const call = view.call;
    const frames = await this.store.framesBetween(ctx.callId, call.lastEndpointChunk, chunk);
    const last = frames.reduce<(typeof frames)[number] | undefined>((a, f) => (!a || f.chunk > a.chunk ? f : a), undefined);
    if (!last) {
      view.lastSpeech = undefined;
      return;
    }
    view.lastSpeech = { chunk: last.chunk, endTs: last.ts + last.durationMs, receivedAt: last.receivedAt };
    if (!isEndpoint(view.lastSpeech.endTs, ts, this.config)) return; // another environment stored newer speech
    const format = call.format!;
    const utterance = assembleUtterance(frames, (ms) => silence(ms, format), this.config);
    const isTurn = utterance.speechMs >= this.config.minSpeechMs;
    const endpointAt = this.now();
    if (isTurn && this.config.preemptSilenceMs > 0) {
      // An environment already answering this utterance delivers it: hand the endpoint over instead of redoing it.
      const dispatch = { frameAt: ctx.receivedAt, handlerAt: ctx.startedAt ?? ctx.receivedAt };
      const handedOff = await this.store.claimEndpointForSpeculation(ctx.callId, call.lastEndpointChunk, chunk, last.chunk, frames.length, endpointAt, dispatch);
      if (handedOff) {
        view.call = handedOff;
        view.fetchedAt = endpointAt;
        view.lastSpeech = undefined;
        resetTracking(view, chunk);
        return;
      }
    }
    const claimed = await this.store.claimEndpoint(ctx.callId, call.lastEndpointChunk, chunk, isTurn);
    if (!claimed) {
      await this.refresh(ctx.callId, view); // someone else closed it, or the call ended
      return;
    }
    view.call = claimed;
    view.fetchedAt = endpointAt;
    view.lastSpeech = undefined;
    resetTracking(view, chunk);
    if (!isTurn) {
      this.telemetry.count('TurnsIgnored');
      return;
    }
    await this.turns.run({
      kind: 'speech',
      turn: claimed.turnCount,
      call: claimed,
      audio: utterance.audio,
      timings: { speechEndAt: last.receivedAt, endpointAt, endpointFrameAt: ctx.receivedAt, endpointHandlerAt: ctx.startedAt },
      fromChunk: frames[0]?.chunk,
      toChunk: last.chunk,
      speechMs: utterance.speechMs,
    });
  }

  private shouldSpeculate(view: CallView, ts: number): boolean {
    const preempt = this.config.preemptSilenceMs;
    const last = view.lastSpeech!;
    return preempt > 0 && preempt < this.config.endpointSilenceMs && ts - last.endTs >= preempt && view.speculatedChunk !== last.chunk;
  }

  /**
   * Preemptive generation. The utterance has been silent for preemptSilenceMs: reserve it, and answer it now —
   * transcript, reply, first audio — while the rest of the endpoint silence passes. When the endpoint is decided
   * (by whichever environment sees the silent frame that completes it) it is handed to this reservation, and the
   * prepared audio goes out at once. If the caller speaks again, or the hand-off does not come in time, the work
   * is discarded unsent; the turn then runs the ordinary way.
   */
  private async speculate(ctx: MediaContext, view: CallView, chunk: number, ts: number): Promise<void> {
    const last = view.lastSpeech!;
    view.speculatedChunk = last.chunk;
    const prev = view.call.lastEndpointChunk;
    const remainingMs = Math.max(0, last.endTs + this.config.endpointSilenceMs - ts);
    const untilMs = this.now() + remainingMs + this.config.speculationSlackMs;
    const owner = randomUUID();
    const reserved = await this.store.claimSpeculation(ctx.callId, prev, last.chunk, owner, untilMs, this.now());
    if (!reserved) return; // another environment is on it, or the endpoint moved
    let frames: StoredFrame[];
    try {
      frames = await this.store.framesBetween(ctx.callId, prev, chunk);
    } catch (err) {
      await this.store.releaseSpeculation(ctx.callId, owner).catch(() => undefined);
      throw err;
    }
    const newest = frames.reduce((n, f) => Math.max(n, f.chunk), -1);
    const format = reserved.format!;
    const utterance = assembleUtterance(frames, (ms) => silence(ms, format), this.config);
    if (newest !== last.chunk || utterance.speechMs < this.config.minSpeechMs) {
      // Not this environment's to answer after all: release it, or the endpoint would be handed to nobody.
      if (!(await this.store.releaseSpeculation(ctx.callId, owner))) {
        // Handed off between the reservation and here: the turn is this environment's to deliver after all.
        const handedOff = await this.handedOffCall(ctx.callId, prev, owner);
        if (handedOff) await this.deliverHandoff(ctx, view, handedOff, prev, frames, last, undefined, undefined);
      }
      return; // the ordinary path decides
    }

    const abort = new AbortController();
    const preparing = this.turns.prepare(reserved, utterance.audio, abort.signal);
    preparing.catch(() => undefined); // observed below; never an unhandled rejection
    const handedOff = await this.awaitHandoff(ctx.callId, prev, owner, untilMs);
    if (!handedOff) {
      abort.abort();
      void preparing.then((p) => p.discard(), () => undefined);
      this.telemetry.count('SpeculationsDiscarded');
      return;
    }
    await this.deliverHandoff(ctx, view, handedOff, prev, frames, last, preparing, abort);
  }

  /** Runs the turn whose endpoint was handed to this speculation, with its prepared answer when that is still right. */
  private async deliverHandoff(
    ctx: MediaContext,
    view: CallView,
    handedOff: CallRecord,
    prev: number,
    frames: StoredFrame[],
    last: { chunk: number; receivedAt: number },
    preparing: Promise<PreparedTurn> | undefined,
    abort: AbortController | undefined,
  ): Promise<void> {
    const format = handedOff.format!;
    const endpointAt = this.now();
    view.call = handedOff;
    view.fetchedAt = endpointAt;
    view.lastSpeech = undefined;
    resetTracking(view, handedOff.lastEndpointChunk);
    let prepared: PreparedTurn | undefined;
    let heard = { frames, utterance: assembleUtterance(frames, (ms) => silence(ms, format), this.config) };
    if (!preparing || (handedOff.handoffFrames !== undefined && handedOff.handoffFrames !== frames.length)) {
      // A speech frame of this utterance was stored after the speculation read it (it arrived late), or nothing was
      // prepared: answer the whole utterance the ordinary way.
      abort?.abort();
      if (preparing) {
        void preparing.then((p) => p.discard(), () => undefined);
        this.telemetry.count('SpeculationsDiscarded');
      }
      const all = await this.store.framesBetween(ctx.callId, prev, handedOff.lastEndpointChunk);
      heard = { frames: all, utterance: assembleUtterance(all, (ms) => silence(ms, format), this.config) };
    } else {
      try {
        prepared = await preparing;
      } catch (err) {
        this.telemetry.warn('preemptive generation failed; answering the ordinary way', { error: (err as Error).message });
      }
    }
    if (prepared) this.telemetry.count('TurnsPreempted');
    await this.turns.run({
      kind: 'speech',
      turn: handedOff.turnCount,
      call: handedOff,
      audio: heard.utterance.audio,
      timings: {
        speechEndAt: last.receivedAt,
        endpointAt,
        endpointFrameAt: handedOff.handoffDispatch?.frameAt,
        endpointHandlerAt: handedOff.handoffDispatch?.handlerAt,
      },
      fromChunk: heard.frames[0]?.chunk,
      toChunk: last.chunk,
      speechMs: heard.utterance.speechMs,
      prepared,
    });
  }

  /**
   * Waits (bounded by untilMs) for the endpoint of this utterance; the call if it was handed to this speculation.
   * At the deadline the reservation is withdrawn with a conditional write, which is the one decision both sides
   * see: a hand-off written after the last poll but before the withdrawal is still delivered, never dropped.
   */
  private async awaitHandoff(callId: string, prev: number, owner: string, untilMs: number): Promise<CallRecord | undefined> {
    while (this.now() < untilMs) {
      await new Promise((resolve) => setTimeout(resolve, this.config.handoffPollMs));
      const state = await this.store.getEndpointState(callId);
      if (!state || state.status !== 'streaming') return undefined;
      if (state.lastEndpointChunk !== prev) return state.handoffTo === owner ? this.store.getCall(callId) : undefined;
    }
    if (await this.store.releaseSpeculation(callId, owner)) return undefined;
    return this.handedOffCall(callId, prev, owner);
  }

  /** The call, when its endpoint after `prev` was handed to `owner`. */
  private async handedOffCall(callId: string, prev: number, owner: string): Promise<CallRecord | undefined> {
    const call = await this.store.getCall(callId);
    return call && call.status === 'streaming' && call.lastEndpointChunk !== prev && call.handoffTo === owner ? call : undefined;
  }

  private async maybeBargeIn(ctx: MediaContext, view: CallView, chunk: number, frameMs: number, turn: number): Promise<void> {
    const now = this.now();
    if (now - view.lastBargeCheckAt < frameMs * 3) return;
    view.lastBargeCheckAt = now;
    const window = Math.ceil((this.config.bargeInMs * 1.5) / frameMs);
    const speechFrames = await this.store.countFramesBetween(ctx.callId, Math.max(chunk - window, view.call.lastEndpointChunk), chunk);
    if (speechFrames * frameMs < this.config.bargeInMs) return;
    if (!(await this.store.claimBargeIn(ctx.callId, turn))) return;
    this.telemetry.count('BargeIns');
    this.telemetry.info('barge-in: clearing the agent audio', { turn });
    view.call = { ...view.call, agent: undefined };
    await this.sender.send(view.call.connectionId, outbound.clear(view.call.streamSid ?? ''));
  }

  private async viewFor(callId: string, message: MediaMessage): Promise<CallView> {
    let view = this.cache.get(callId);
    if (view && view.call.status !== 'connected' && this.now() - view.fetchedAt > this.config.callMaxAgeMs) {
      await this.refresh(callId, view);
      view = this.cache.get(callId);
    }
    if (!view || view.call.status === 'connected') {
      const call = await this.callAfterStart(callId);
      if (!call) throw new ProtocolError('media for an unknown call');
      view = view ?? {
        call,
        fetchedAt: this.now(),
        trackFrom: call.lastEndpointChunk,
        seenSince: 0,
        lastBargeCheckAt: 0,
      };
      view.call = call;
      view.fetchedAt = this.now();
      this.cache.set(callId, view);
    }
    const call: CallRecord = view.call;
    if (call.status === 'connected') throw new ProtocolError('media before start');
    if (call.status === 'ended') throw new ProtocolError('media after stop');
    if (message.streamSid !== call.streamSid) throw new ProtocolError('streamSid does not match the call');
    return view;
  }

  /**
   * Twilio sends the first frame 20 ms after `start`, and the two run in different environments: the frame may be
   * handled before start's write lands. While the call is still `connected`, wait briefly for it (bounded) rather
   * than refuse a frame the caller sent in order.
   */
  private async callAfterStart(callId: string): Promise<CallRecord | undefined> {
    let call = await this.store.getCall(callId);
    for (let attempt = 0; call?.status === 'connected' && attempt < this.config.startWaitAttempts; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      call = await this.store.getCall(callId);
    }
    return call;
  }

  private async refresh(callId: string, view: CallView): Promise<void> {
    const call = await this.store.getCall(callId);
    view.fetchedAt = this.now();
    if (!call) {
      this.cache.delete(callId);
      return;
    }
    if (call.lastEndpointChunk !== view.call.lastEndpointChunk) resetTracking(view, call.lastEndpointChunk);
    view.call = call;
  }

  /** Forget a call (e.g. it ended). */
  forget(callId: string): void {
    this.cache.delete(callId);
  }
}
