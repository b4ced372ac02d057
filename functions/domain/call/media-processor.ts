/**
 * The hot path: one 20 ms frame per invocation, 50 a second per call, in whichever environment Lambda picks.
 *
 * What a frame costs depends on the frame alone, never on how many environments share the call:
 * - a silent frame costs no request;
 * - a speech frame costs one PutItem (so whichever environment closes the utterance can read all of it);
 * - the frame that crosses each `tickMs` of stream time (every 10th at 20 ms) — whichever environment handles it —
 *   makes the call's one coordination read: the call and its newest speech frames, in one Query. From it that
 *   environment decides, for everyone, whether the caller is barging in and whether an utterance is ending. The tick
 *   that finds an utterance about to end becomes its watcher: it waits, inside its invocation, until the endpoint
 *   is due, reads the utterance, and claims it with a conditional write; the winner runs the turn inline.
 * No environment refreshes or polls on a clock of its own. See docs/ARCHITECTURE.md ("The hot path").
 */
import { randomUUID } from 'node:crypto';
import { durationMs, silence, toPcm16, isSpeech } from '../audio';
import { outbound, ProtocolError, type MediaMessage } from '../protocol';
import type { AudioFormat } from '../../contracts/audio-format';
import { assembleUtterance, type StoredFrame } from '../vad';
import { PREEMPT_SILENCE_MS, endOfTurnFor, longestEndpointSilence, type EndpointingConfig } from '../../contracts/turn-policy';
import { CallViewCache, type CallView } from './call-view';
import { Speculation } from './speculation';
import type { CallRecord, CallState, CallStore, ConnectionSender, EndOfTurn, FrameMeta, Telemetry } from './model';
import type { TurnRunner, UtteranceSource } from './turn-runner';

export interface MediaConfig extends EndpointingConfig {
  /**
   * The coordination schedule, in stream time: the frame that crosses each boundary makes the call's one read.
   * Scheduled by the frame's own timestamp, so a call costs the same whichever environments handle it.
   */
  readonly tickMs: number;
  /** Largest accepted audio payload per media message. */
  readonly maxFrameMs: number;
  /** How many times (20 ms apart) a frame that arrived before `start` landed waits for it. */
  readonly startWaitAttempts: number;
  /** The watcher looks this long after the endpoint is due on the wall clock (the caller's network jitter). */
  readonly endpointGraceMs: number;
  /**
   * …plus as long as its own frame waited to reach its handler (up to this): frames behind it are likely as late,
   * and the last words of the utterance may be among them.
   */
  readonly endpointMaxLagMs: number;
  /**
   * A watch is held this long past its wake-up (plus endpointMaxLagMs) before a later tick may take over from a
   * watcher that died; an utterance closed this far past its endpoint counts as overdue (EndpointsOverdue).
   */
  readonly endpointOverdueMs: number;
  /**
   * Preemptive generation: the watcher starts answering the utterance — transcript, reply, first audio — once it has
   * been silent this long, and delivers the answer if the endpoint follows. 0 turns it off.
   */
  readonly preemptSilenceMs: number;
  /**
   * The end of speech, seen up close: the silent frame that brings the silence after a speech frame this same
   * environment handled to this much makes the call's coordination read at once, instead of waiting for the next
   * tick (up to `tickMs` later). A hint from the warm cache, never needed for correctness: it fires at most once per
   * utterance end (only one frame reaches that silence), and never when a call's frames are spread so that no
   * environment sees both; the read decides, as a tick's does. 0 turns it off.
   */
  readonly speechEndTickMs: number;
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
  tickMs: 200,
  maxFrameMs: 1000,
  startWaitAttempts: 3,
  endpointGraceMs: 20,
  endpointMaxLagMs: 1000,
  endpointOverdueMs: 100,
  // One frame of silence: the words are transcribed as soon as the watcher knows the caller paused, so they can decide
  // the end of the turn (`endOfTurn`) and the answer is ready when it comes; a pause inside a sentence costs a
  // transcription thrown away (SpeculationsDiscarded). 0 turns it off.
  preemptSilenceMs: PREEMPT_SILENCE_MS,
  // Two 20 ms frames: one silent frame alone is often a gap inside a word.
  speechEndTickMs: 40,
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
  /**
   * The audio format the connection declared at connect and when it opened (API Gateway hands both to every message):
   * with them an environment decodes a call's frames without reading the call first, and its first read is a tick.
   */
  readonly declaredFormat?: AudioFormat;
  readonly connectedAt?: number;
}

/** The frame that crosses a `tickMs` boundary of stream time makes the call's coordination read. */
export function crossesTick(ts: number, frameMs: number, tickMs: number): boolean {
  return Math.floor(ts / tickMs) !== Math.floor((ts - frameMs) / tickMs);
}

/** Far beyond any chunk a call can reach (2 h of 20 ms frames is 360,000). */
const LAST_CHUNK = 9_999_999_999;

export interface MediaProcessorDeps {
  readonly store: CallStore;
  readonly sender: ConnectionSender;
  readonly turns: TurnRunner;
  readonly telemetry: Telemetry;
  readonly config: MediaConfig;
  readonly now: () => number;
}

export class MediaProcessor {
  private readonly store: CallStore;
  private readonly sender: ConnectionSender;
  private readonly turns: TurnRunner;
  private readonly telemetry: Telemetry;
  private readonly config: MediaConfig;
  private readonly now: () => number;
  /** What this environment learned of its calls: a warm cache, never state a correct answer depends on. */
  private readonly cache = new CallViewCache();

  constructor(deps: MediaProcessorDeps) {
    ({ store: this.store, sender: this.sender, turns: this.turns, telemetry: this.telemetry, config: this.config, now: this.now } = deps);
  }

  async process(ctx: MediaContext, message: MediaMessage): Promise<FrameOutcome> {
    const view = await this.viewFor(ctx, message);
    // Limits. The first frame in this environment past one asks the handler to end the call; the call's later frames
    // here are dropped quietly until the disconnect lands (ending is idempotent anyway).
    let limit = this.limitFor(view.call, ctx, message);
    if (limit && !view.verified) {
      // Ending the call is an effect: only a frame checked against the call may cause it (another stream's frame with
      // a timestamp far ahead must be refused, not end the call it names). Rare: one read, then the limit again.
      await this.firstLook(ctx.callId, view, message);
      limit = this.limitFor(view.call, ctx, message);
    }
    const call = view.call;
    if (limit || view.ending) {
      if (view.ending) return 'handled';
      view.ending = true;
      return limit!;
    }
    const format = call.format!;
    const audio = Buffer.from(message.media.payload, 'base64');
    const frameMs = durationMs(audio.byteLength, format);
    const malformed =
      audio.byteLength === 0
        ? 'media payload is empty'
        : frameMs > this.config.maxFrameMs
          ? `media payload longer than ${this.config.maxFrameMs} ms`
          : format.encoding === 'pcm16' && audio.byteLength % 2 !== 0
            ? 'pcm16 payload has an odd number of bytes'
            : undefined;
    if (malformed) {
      // The reason a frame is refused is the call's first (another stream's, before start, after stop), as in an
      // environment that has read the call: an unchecked view reads it before refusing (bad frames only).
      if (!view.verified) await this.firstLook(ctx.callId, view, message);
      throw new ProtocolError(malformed);
    }

    const chunk = message.media.chunk;
    const ts = message.media.timestamp;
    const speech = isSpeech(toPcm16(audio, format), this.config, format.sampleRate);
    const tick = this.crossesTick(ts, frameMs);
    if (speech) {
      // Stored even when it looks late (chunk at or before the last endpoint): the turn of its utterance merges it
      // while nothing has been sent, and counts it lost otherwise (TurnRunner, LateFrames).
      const frame: StoredFrame = { chunk, ts, durationMs: frameMs, audio, receivedAt: ctx.receivedAt };
      if (!view.lastSpeech || chunk > view.lastSpeech.chunk) view.lastSpeech = { chunk, endTs: ts + frameMs };
      if (!tick) {
        // A frame of a call this environment has not read yet is checked against the call before it is stored.
        if (!view.verified) await this.firstLook(ctx.callId, view, message);
        await this.store.putAudioFrame(ctx.callId, frame);
        return 'handled';
      }
      const window = this.bargeInWindow(frameMs);
      let read: FrameMeta[];
      if (view.verified) {
        // The write and the tick's read are independent: one round trip, not two.
        [, read] = await Promise.all([this.store.putAudioFrame(ctx.callId, frame), this.tickRead(ctx.callId, view, message, window)]);
      } else {
        // This environment has not read the call yet: a frame of a call that has not started (or has ended) is refused
        // before anything of it is stored.
        read = await this.tickRead(ctx.callId, view, message, window);
        await this.store.putAudioFrame(ctx.callId, frame);
      }
      await this.maybeBargeIn(ctx, view, [frame, ...read.filter((f) => f.chunk !== chunk)], chunk, frameMs);
      return 'handled';
    }
    const speechEnd = !tick && this.endsSpeech(view, chunk, ts, frameMs);
    if (!tick && !speechEnd) return 'handled'; // silence between ticks costs nothing
    const [newest] = await this.tickRead(ctx.callId, view, message, 1);
    if (!newest) return 'handled'; // no utterance open
    // A speech-end read whose hint was stale (the caller went on, in frames another environment handled) leaves the
    // utterance to the ticks.
    if (speechEnd && ts + frameMs - (newest.ts + newest.durationMs) < this.config.speechEndTickMs) return 'handled';
    await this.onUtteranceOpen(ctx, view, newest, ts);
    return 'handled';
  }

  /**
   * A silent tick found speech after the last endpoint, the newest frame `last`. Too soon (silent for less than the
   * watch point) → nothing, a later tick looks again; otherwise, unless a live watcher already holds this utterance's
   * end, this invocation becomes its watcher. The first tick past the watch point normally does; a later one takes
   * over when the caller spoke again after the watcher looked, or the watcher died, or its tick frame was lost.
   */
  private async onUtteranceOpen(ctx: MediaContext, view: CallView, last: FrameMeta, ts: number): Promise<void> {
    const silentMs = ts - (last.ts + last.durationMs);
    if (silentMs < this.watchFromMs()) return; // (negative: a frame from before the newest speech, delivered late)
    const watch = view.call.watch;
    if (watch && watch.chunk >= last.chunk && watch.untilMs > this.now()) return; // its watcher is on it
    const { endpointSilenceMs, endpointOverdueMs } = this.config;
    await this.watch(ctx, view, last, ts, silentMs >= endpointSilenceMs, silentMs >= endpointSilenceMs + endpointOverdueMs);
  }

  /** Silence (stream time) at which a tick becomes the utterance's watcher: the preemption point, or one tick before the endpoint. */
  private watchFromMs(): number {
    const { endpointSilenceMs, tickMs } = this.config;
    // With preemption the watcher must be there when the preemption point comes, to start on time: the last tick before it.
    return Math.max(0, (this.preempts() ? this.config.preemptSilenceMs : endpointSilenceMs) - tickMs);
  }

  private preempts(): boolean {
    return this.config.preemptSilenceMs > 0 && this.config.preemptSilenceMs < this.config.endpointSilenceMs;
  }

  /**
   * The watcher. It reserves the utterance's end (one conditional write: one watcher per utterance, and ticks past the
   * endpoint leave a live one alone); with preemptive generation it starts answering the utterance (nothing is sent);
   * then waits until the endpoint is due on the wall clock — Twilio streams in real time: the frame at stream time t
   * reaches the gateway about t after this one did — and closes the utterance if the caller has not spoken since.
   */
  private async watch(ctx: MediaContext, view: CallView, last: FrameMeta, ts: number, due: boolean, overdue: boolean): Promise<void> {
    const prev = view.call.lastEndpointChunk;
    // The wall-clock instant at which the utterance will have been silent for `ms` (stream time): Twilio streams in real
    // time, so the frame at stream time t reaches the gateway about t after this one did. Frames behind this one are
    // likely as late as it was: wait as long again (bounded) for the last words among them.
    const lagMs = Math.min(this.config.endpointMaxLagMs, Math.max(0, (ctx.startedAt ?? ctx.receivedAt) - ctx.receivedAt));
    const silentFor = (ms: number) => ctx.receivedAt + (last.ts + last.durationMs + ms - ts) + lagMs;
    const wakeFor = (silenceMs: number) => Math.max(this.now(), silentFor(silenceMs) + this.config.endpointGraceMs);
    const owner = randomUUID();
    // Held until well after the latest wake-up the words may ask for (an overdue tick takes over only from a watcher
    // that died).
    const untilMs = wakeFor(longestEndpointSilence(this.config)) + this.config.endpointOverdueMs + this.config.endpointMaxLagMs;
    if (!(await this.store.claimWatch(ctx.callId, prev, last.chunk, owner, untilMs, this.now()))) return; // someone else watches
    // Counted by the tick that takes the utterance over, once: other overdue ticks racing it lost the claim.
    if (overdue) this.telemetry.count('EndpointsOverdue');
    let speculation: Speculation | undefined;
    if (this.preempts() && !due) {
      const preemptAt = silentFor(this.config.preemptSilenceMs);
      if (preemptAt > this.now()) {
        // Start exactly at the preemption point, unless the caller spoke again before it (one small read).
        await new Promise((resolve) => setTimeout(resolve, preemptAt - this.now()));
        const [newer] = (await this.store.tickRead(ctx.callId, last.chunk, 1)).frames;
        if (newer) {
          this.telemetry.count('EndpointWatchesAbandoned');
          return; // a later tick watches the utterance's new end
        }
      }
      speculation = await Speculation.start({ store: this.store, turns: this.turns, telemetry: this.telemetry, config: this.config }, ctx.callId, prev, last);
    }
    // End of turn by the words, once the speculation has transcribed them: finished words end the utterance sooner,
    // words that stop mid-phrase later. Waiting for them costs the answer nothing (it needs the transcript too); words
    // not transcribed by the longest silence: the ordinary one.
    let endOfTurn: EndOfTurn = { silenceMs: this.config.endpointSilenceMs };
    if (speculation && this.config.endOfTurn === 'adaptive') {
      endOfTurn = endOfTurnFor(this.config, await settledWithin(speculation.heard, wakeFor(longestEndpointSilence(this.config)) - this.now()));
      if (endOfTurn.heard === 'complete') this.telemetry.count('EndpointsShortened');
      if (endOfTurn.heard === 'incomplete') this.telemetry.count('EndpointsExtended');
    }
    const waitMs = wakeFor(endOfTurn.silenceMs) - this.now();
    if (waitMs > 0) await new Promise((resolve) => setTimeout(resolve, waitMs));
    await this.closeUtterance(ctx, view, prev, last, speculation, endOfTurn);
  }

  /**
   * Reads the utterance after `prev` and, when no speech came after `last`, claims its endpoint (one conditional
   * write: exactly one claimant wins); the winner runs the turn inline. A speculation is delivered when it heard
   * every frame the endpoint did, and discarded unsent otherwise.
   */
  private async closeUtterance(ctx: MediaContext, view: CallView, prev: number, last: FrameMeta, speculation: Speculation | undefined, endOfTurn: EndOfTurn): Promise<void> {
    const { silenceMs } = endOfTurn;
    const discard = () => speculation?.discard();
    let stored: StoredFrame[];
    try {
      stored = await this.store.framesBetween(ctx.callId, prev, LAST_CHUNK);
    } catch (err) {
      discard();
      throw err;
    }
    // Speech within the endpoint silence after `last` means the caller went on: not the end of the utterance, and a
    // later tick watches its new end. Speech after it (a watcher that woke late finds the next utterance begun) is the
    // next utterance's: this one still ends here.
    const silenceEndsTs = last.ts + last.durationMs + silenceMs;
    if (stored.some((f) => f.chunk > last.chunk && f.ts < silenceEndsTs)) {
      this.telemetry.count('EndpointWatchesAbandoned');
      discard();
      return;
    }
    const frames = stored.filter((f) => f.chunk <= last.chunk);
    const format = view.call.format!;
    const utterance = assembleUtterance(frames, (ms) => silence(ms, format), this.config);
    const isTurn = utterance.speechMs >= this.config.minSpeechMs;
    // Frames up to the endpoint belong to this utterance, however late they arrive; the next one starts after it.
    const endpointChunk = last.chunk + Math.ceil(silenceMs / Math.max(1, last.durationMs));
    const endpointAt = this.now();
    const claimed = frames.length > 0 ? await this.store.claimEndpoint(ctx.callId, prev, endpointChunk, isTurn) : undefined;
    if (!claimed) {
      discard(); // someone else closed it (or the call ended): the next tick brings this environment up to date
      return;
    }
    view.call = stateOf(claimed);
    if (!isTurn) {
      discard();
      this.telemetry.count('TurnsIgnored');
      return;
    }
    // Undefined when a frame of the utterance arrived after the speculation read it: the whole utterance is answered.
    const prepared = await speculation?.deliverFor(frames);
    await this.turns.run({
      kind: 'speech',
      turn: claimed.turnCount,
      call: claimed,
      audio: utterance.audio,
      timings: { speechEndAt: last.receivedAt, endpointAt, endpointFrameAt: ctx.receivedAt, endpointHandlerAt: ctx.startedAt },
      fromChunk: frames[0]?.chunk,
      toChunk: last.chunk,
      speechMs: utterance.speechMs,
      prepared,
      utterance: this.lateFrames(ctx.callId, prev, endpointChunk, frames, format),
      endOfTurn,
    });
  }

  /** The turn's view of frames of its utterance that arrive after it was read (TurnRunner merges or counts them). */
  private lateFrames(callId: string, prev: number, endpointChunk: number, read: readonly StoredFrame[], format: CallState['format'] & {}): UtteranceSource {
    let heard = read.length;
    return {
      refresh: async () => {
        if ((await this.store.countFramesBetween(callId, prev, endpointChunk)) <= heard) return undefined;
        const frames = await this.store.framesBetween(callId, prev, endpointChunk);
        this.telemetry.count('LateFramesMerged', frames.length - heard);
        heard = frames.length;
        const utterance = assembleUtterance(frames, (ms) => silence(ms, format), this.config);
        return { audio: utterance.audio, speechMs: utterance.speechMs, fromChunk: frames[0]?.chunk };
      },
      lost: async () => Math.max(0, (await this.store.countFramesBetween(callId, prev, endpointChunk)) - heard),
    };
  }

  /** Frames of speech in the barge-in window (1.5 × bargeInMs). */
  private bargeInWindow(frameMs: number): number {
    return Math.max(1, Math.ceil((this.config.bargeInMs * 1.5) / frameMs));
  }

  /** A speech tick: while the agent's audio plays, enough recent caller speech clears it (one winner per agent turn). */
  private async maybeBargeIn(ctx: MediaContext, view: CallView, recent: readonly FrameMeta[], chunk: number, frameMs: number): Promise<void> {
    const agent = view.call.agent;
    if (!agent || this.now() >= agent.untilMs) return;
    const window = this.bargeInWindow(frameMs);
    const speechMs = recent.filter((f) => f.chunk > chunk - window && f.chunk <= chunk && f.chunk > view.call.lastEndpointChunk).reduce((ms, f) => ms + f.durationMs, 0);
    if (speechMs < this.config.bargeInMs) return;
    if (!(await this.store.claimBargeIn(ctx.callId, agent.turn))) return;
    this.telemetry.count('BargeIns');
    this.telemetry.info('barge-in: clearing the agent audio', { turn: agent.turn });
    view.call = { ...view.call, agent: undefined };
    await this.sender.send(view.call.connectionId, outbound.clear(view.call.streamSid ?? ''));
  }

  /**
   * The tick's read: brings this environment's view up to date (and checks the frame against it), and returns the
   * newest speech after the last endpoint, newest first.
   */
  private async tickRead(callId: string, view: CallView, message: MediaMessage, frames: number): Promise<FrameMeta[]> {
    let read = await this.store.tickRead(callId, view.call.lastEndpointChunk, frames);
    // Twilio's first frame (a tick: timestamp 0) follows `start` by 20 ms, in another environment: wait for start's write.
    for (let attempt = 0; read.call?.status === 'connected' && attempt < this.config.startWaitAttempts; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      read = await this.store.tickRead(callId, view.call.lastEndpointChunk, frames);
    }
    if (!read.call) {
      this.cache.delete(callId);
      throw new ProtocolError('media for an unknown call');
    }
    const call = read.call;
    if (call.status === 'connected') {
      // Not started yet: keep nothing, so this environment's next frame of the call is not refused on a stale view.
      this.cache.delete(callId);
      throw new ProtocolError('media before start');
    }
    view.call = call;
    view.verified = true;
    this.check(view, message);
    return read.frames.filter((f) => f.chunk > call.lastEndpointChunk);
  }

  private async viewFor(ctx: MediaContext, message: MediaMessage): Promise<CallView> {
    const { callId } = ctx;
    let view = this.cache.get(callId);
    if (!view && ctx.declaredFormat) {
      // This environment's first frame of a connection that declared its format: what the frame needs before it is
      // known (format, connection, open time), so nothing is read yet. The call is read, and the frame checked against
      // it, before anything of a frame is stored: by a tick's read, or by a first look before a speech frame between
      // ticks. Silence between ticks stores nothing and reads nothing, however many environments share the call.
      view = {
        call: {
          callId,
          connectionId: callId,
          status: 'streaming',
          createdAt: ctx.connectedAt ?? ctx.receivedAt,
          streamSid: message.streamSid,
          format: ctx.declaredFormat,
          events: false,
          lastEndpointChunk: 0,
          turnCount: 0,
        },
        verified: false,
      };
      this.cache.set(callId, view);
    } else if (!view) {
      // This environment's first frame of the call, of a connection that did not declare its format: it reads the call
      // first (one GetItem, once per environment and call), so that a frame that contradicts the call (its stream, its
      // status) is refused before it has any effect.
      view = { call: (await this.callAfterStart(callId)) ?? this.unknownCall(callId), verified: true };
      this.check(view, message);
      this.cache.set(callId, view);
    }
    if (view.verified) this.check(view, message);
    return view;
  }

  /** An unverified view's first read of its call (one GetItem): the frame is checked against it. */
  private async firstLook(callId: string, view: CallView, message: MediaMessage): Promise<void> {
    const call = await this.callAfterStart(callId);
    if (!call || call.status === 'connected') {
      // Unknown, or not started yet: keep nothing, so this environment's next frame of the call is not refused on a stale view.
      this.cache.delete(callId);
      if (!call) this.unknownCall(callId);
    }
    view.call = call!;
    view.verified = true;
    this.check(view, message);
  }

  private unknownCall(callId: string): never {
    this.cache.delete(callId);
    throw new ProtocolError('media for an unknown call');
  }

  /**
   * Whether this silent frame is the one that brings the silence after the last speech frame this environment handled
   * to `speechEndTickMs` (speechEndTickMs): consecutive chunks of one stream, so exactly one frame can be it.
   */
  private endsSpeech(view: CallView, chunk: number, ts: number, frameMs: number): boolean {
    const { speechEndTickMs } = this.config;
    const last = view.lastSpeech;
    if (speechEndTickMs <= 0 || !last || chunk <= last.chunk || frameMs <= 0) return false;
    return chunk === last.chunk + Math.max(1, Math.ceil(speechEndTickMs / frameMs)) && ts + frameMs - last.endTs >= speechEndTickMs;
  }

  private crossesTick(ts: number, frameMs: number): boolean {
    return crossesTick(ts, frameMs, this.config.tickMs);
  }

  /** Whether a frame is a tick, by the connection's declared format (its payload's length, without decoding it). */
  private isTick(message: MediaMessage, format: AudioFormat): boolean {
    return this.crossesTick(message.media.timestamp, durationMs(Buffer.byteLength(message.media.payload, 'base64'), format));
  }

  /** The limit a frame takes the call past, if any: its whole duration, or audio sent faster than real time. */
  private limitFor(call: CallState, ctx: MediaContext, message: MediaMessage): Exclude<FrameOutcome, 'handled'> | undefined {
    if (this.now() - call.createdAt >= this.config.maxCallMs) return 'over-max-duration';
    if (message.media.timestamp - (ctx.receivedAt - call.createdAt) > this.config.maxAheadMs) return 'faster-than-real-time';
    return undefined;
  }

  /** The frame against what this environment knows of its call. */
  private check(view: CallView, message: MediaMessage): void {
    const { status, streamSid } = view.call;
    if (status === 'connected') throw new ProtocolError('media before start');
    if (status === 'ended') throw new ProtocolError('media after stop');
    if (message.streamSid !== streamSid) throw new ProtocolError('streamSid does not match the call');
  }

  /**
   * Twilio sends the first frame 20 ms after `start`, and the two run in different environments: the frame may be
   * handled before start's write lands. While the call is still `connected`, wait briefly for it (bounded) rather
   * than refuse a frame the caller sent in order.
   */
  private async callAfterStart(callId: string): Promise<CallState | undefined> {
    let call = await this.store.getCallState(callId);
    for (let attempt = 0; call?.status === 'connected' && attempt < this.config.startWaitAttempts; attempt++) {
      await new Promise((resolve) => setTimeout(resolve, 20));
      call = await this.store.getCallState(callId);
    }
    return call;
  }

  /** Forget a call (e.g. it ended). */
  forget(callId: string): void {
    this.cache.delete(callId);
  }
}

/** The promise's value if it settles within `ms`, else undefined (the timer is cleared either way). */
async function settledWithin<T>(promise: Promise<T>, ms: number): Promise<T | undefined> {
  if (ms <= 0) return Promise.race([promise, Promise.resolve(undefined)]);
  let timer: ReturnType<typeof setTimeout> | undefined;
  try {
    return await Promise.race([promise, new Promise<undefined>((resolve) => (timer = setTimeout(() => resolve(undefined), ms)))]);
  } finally {
    clearTimeout(timer);
  }
}

function stateOf(call: CallRecord): CallState {
  const { callId, connectionId, status, createdAt, streamSid, format, events, lastEndpointChunk, turnCount, agent, watch } = call;
  return { callId, connectionId, status, createdAt, streamSid, format, events, lastEndpointChunk, turnCount, ...(agent ? { agent } : {}), ...(watch ? { watch } : {}) };
}
