/**
 * One turn: (speech-to-text →) responder → streaming text-to-speech → agent audio out through the connection,
 * with a mark after each sentence. Runs in the invocation that claimed the turn; never throws.
 */
import { outbound, type ExtraEventType } from '../protocol';
import type { DialogState, Reply, Responder, ResponderInput } from '../responder/responder';
import type { HeardWords } from '../../contracts/turn-policy';
import { describeError, type SpeechToText, type TextToSpeech } from '../speech';
import { audioFormatOf, turnLatency, type CallRecord, type CallStore, type ConnectionSender, type EndOfTurn, type PhoneLine, type Telemetry, type TurnKind, type TurnRecord, type TurnStatus, type TurnTimings } from './model';
import { sentencesOf, splitSentences } from './sentences';
export { turnLatency } from './model';
import { Speaker, type PreparedHead, type SpeakOutcome, type SpeakerConfig } from './speaker';
import { onFirst, prepend, withStreamTimeout, withTimeout } from './streams';

export interface TurnRunnerConfig extends SpeakerConfig {
  readonly sttTimeoutMs: number;
}

export const DEFAULT_TURN_CONFIG: TurnRunnerConfig = {
  sttTimeoutMs: 5000,
  ttsTimeoutMs: 5000,
  maxMessageAudioMs: 400,
  fallbackText: "Sorry, I didn't catch that. Could you say it again?",
};

export interface TurnInput {
  readonly kind: TurnKind;
  readonly turn: number;
  /** The call as returned by the claim that won this turn. */
  readonly call: CallRecord;
  readonly audio?: Uint8Array;
  readonly dtmf?: string;
  readonly timings: Pick<TurnTimings, 'speechEndAt' | 'endpointAt' | 'endpointFrameAt' | 'endpointHandlerAt'>;
  readonly fromChunk?: number;
  readonly toChunk?: number;
  readonly speechMs?: number;
  /** Work done before the endpoint was certain (preemptive generation): used instead of redoing it. */
  readonly prepared?: PreparedTurn;
  /** Speech turns: frames of the utterance that arrive after it was read, merged while nothing has been sent. */
  readonly utterance?: UtteranceSource;
  /** Speech turns: how the utterance's end was decided. */
  readonly endOfTurn?: EndOfTurn;
}

/**
 * The utterance a speech turn answers, as it keeps arriving: a frame delayed past the endpoint (a cold start on AWS,
 * a queue here) still belongs to it.
 */
export interface UtteranceSource {
  /** The whole utterance again when frames of it were stored since it was read; undefined when nothing new came. */
  refresh(): Promise<{ audio: Uint8Array; speechMs: number; fromChunk?: number } | undefined>;
  /** Speech frames of the utterance stored too late to be heard (after the answer began). */
  lost(): Promise<number>;
}

/**
 * A speech turn answered ahead of its endpoint: the transcript, the reply, and the first sentence's synthesis
 * already streaming. Nothing of it reached the caller or the table; `discard()` releases it if it is not used.
 */
export interface PreparedTurn {
  readonly transcript: string;
  /** The reply, for the dialog state of `dialogTurn`; undefined when the transcript is empty or the reply streams. */
  readonly reply?: Reply;
  /** A streamed reply (a language model): its sentences from the first, still arriving, and the whole reply. */
  readonly answer?: StreamedAnswer;
  readonly dialogTurn: number;
  readonly sttMs: number;
  /** To the first sentence of the reply (streamed replies) or the whole reply. */
  readonly responderMs?: number;
  readonly firstTokenMs?: number;
  /** The first sentence of the reply, its synthesis already open, and when its first byte arrived. */
  readonly head?: PreparedHead;
  discard(): void;
}

/** A reply as a streaming responder produces it: sentences the moment each is complete, then the whole reply. */
export interface StreamedAnswer {
  readonly sentences: AsyncIterable<string>;
  readonly reply: Promise<Reply>;
}

export interface TurnDeps {
  readonly store: CallStore;
  readonly sender: ConnectionSender;
  readonly stt: SpeechToText;
  readonly tts: TextToSpeech;
  readonly responder: Responder;
  readonly telemetry: Telemetry;
  readonly config: TurnRunnerConfig;
  readonly now: () => number;
  /** The phone network behind Twilio calls (transfers); none: a phone call cannot be transferred. */
  readonly phoneLine?: PhoneLine;
}

/** What the caller said and what to answer; `head` is a prepared first sentence already synthesizing. */
interface Understood {
  transcript?: string;
  reply?: Reply;
  /** A streamed reply: `reply` is set once it is complete. */
  answer?: StreamedAnswer;
  /** When the streamed reply was asked for. */
  askedAt?: number;
  error?: string;
  status: TurnStatus;
  head?: PreparedHead;
}

export class TurnRunner {
  private readonly speaker: Speaker;

  constructor(private readonly deps: TurnDeps) {
    this.speaker = new Speaker(deps);
  }

  /**
   * Preemptive generation: transcribe the utterance as it stands, reply, and open the first sentence's synthesis —
   * sending nothing. `signal` aborts it. Rejects on a provider error (the turn is then run the ordinary way).
   * `onHeard` learns, as soon as the transcript is in, whether the words sound finished (the endpoint waits on it).
   */
  async prepare(call: CallRecord, audio: Uint8Array, signal: AbortSignal, onHeard?: (heard: HeardWords | undefined) => void): Promise<PreparedTurn> {
    const { now, config } = this.deps;
    const dialog = await this.dialogOf(call);
    const sttStarted = now();
    const result = await withTimeout(
      (timeoutSignal) => this.deps.stt.transcribe(audio, audioFormatOf(call), { context: dialog.name, signal: AbortSignal.any([signal, timeoutSignal]) }),
      config.sttTimeoutMs,
      this.deps.stt.name,
    );
    const sttMs = now() - sttStarted;
    const transcript = result.text.trim();
    const completeness = transcript === '' ? undefined : this.deps.responder.completeness?.(transcript, dialog);
    onHeard?.(completeness && { completeness, ...(result.confidence !== undefined ? { confidence: result.confidence } : {}) });
    const base = { transcript, dialogTurn: call.dialogTurn, sttMs, discard: () => undefined };
    if (transcript === '' || signal.aborted) return base;
    const replyStarted = now();
    const responderInput: ResponderInput = { text: transcript, canTransfer: await this.canTransfer(call) };
    let reply: Reply | undefined;
    let answer: StreamedAnswer | undefined;
    let firstTokenMs: number | undefined;
    let text: string;
    if (this.deps.responder.stream) {
      // A streamed reply: its first sentence is synthesized ahead, the rest keeps coming while the endpoint waits.
      const streamed = this.deps.responder.stream(responderInput, dialog, { signal });
      const sentences = sentencesOf(onFirst(streamed.text, () => (firstTokenMs = now() - replyStarted)))[Symbol.asyncIterator]();
      const first = await sentences.next();
      if (first.done) {
        reply = await streamed.reply;
        text = splitSentences(reply.text)[0]!;
      } else {
        text = first.value;
        const rest = prepend(first, sentences);
        answer = { sentences: { [Symbol.asyncIterator]: () => rest }, reply: streamed.reply };
      }
    } else {
      reply = await this.deps.responder.respond(responderInput, dialog);
      text = splitSentences(reply.text)[0]!;
    }
    const responderMs = now() - replyStarted;
    const ttsStarted = now();
    const stream = withStreamTimeout((s) => this.deps.tts.synthesize(text, audioFormatOf(call), { signal: AbortSignal.any([signal, s]) }), config.ttsTimeoutMs, this.deps.tts.name)[
      Symbol.asyncIterator
    ]();
    // Wait for the first byte: that is the latency taken off the turn. The chunk is put back in front of the stream.
    const first = await stream.next();
    const ttsFirstByteMs = now() - ttsStarted;
    const replay = prepend(first, stream);
    return {
      ...base,
      reply,
      answer,
      responderMs,
      firstTokenMs,
      head: { text, stream: replay, ttsFirstByteMs },
      discard: () => {
        void replay.return?.(undefined)?.catch(() => undefined);
        if (answer) void this.discardAnswer(answer);
      },
    };
  }

  async run(input: TurnInput): Promise<TurnRecord> {
    const { store, telemetry } = this.deps;
    const { call, turn } = input;
    const timings: TurnTimings = { ...input.timings };
    const dialog = await this.dialogOf(call, input.kind !== 'greeting');
    const preempted = input.prepared !== undefined;
    const providerMs: { stt?: number; responder?: number; modelFirstToken?: number; ttsFirstByte?: number } = {};
    let heard: { audio?: Uint8Array; speechMs?: number; fromChunk?: number } = { audio: input.audio, speechMs: input.speechMs, fromChunk: input.fromChunk };
    let understood!: Understood;
    let spoken: SpeakOutcome = { status: 'completed', audioMs: 0 };
    for (let attempt = 0; ; attempt++) {
      understood = await this.understand(input, heard.audio, attempt === 0 ? input.prepared : undefined, dialog, timings, providerMs);
      telemetry.debug('reply ready', { turn, status: understood.status, intent: understood.reply?.intent, streamed: understood.answer !== undefined });
      if ((!understood.reply && !understood.answer) || understood.status === 'ignored') break;
      // Frames of the utterance that arrive while it is being answered are merged as long as nothing has been sent:
      // the check runs alongside the first synthesis and gates the first audio, on every answer — frames that arrive
      // while a redo is transcribed are merged too. It ends: each redo needs frames not yet heard, and the utterance
      // has a last chunk. (A preempted turn read the whole utterance just before its claim; its first audio is ready
      // at once.)
      const grown =
        !preempted && input.utterance
          ? input.utterance.refresh().catch((err: Error) => {
              telemetry.warn('could not look for late frames', { turn, error: err.message });
              return undefined;
            })
          : undefined;
      const answer = understood.answer;
      if (understood.reply) await this.extra(call, 'reply', { turn, text: understood.reply.text, intent: understood.reply.intent });
      spoken = await this.speaker.speak(
        call,
        turn,
        answer ? answer.sentences : understood.reply!.text,
        timings,
        true,
        understood.head,
        providerMs,
        grown && (async () => (await grown) === undefined),
        answer ? () => this.firstSentence(timings, providerMs, understood.askedAt) : undefined,
      );
      if (answer) {
        // The speaker has stopped reading the reply (all said, or interrupted): it settles with what was said.
        understood.reply = await answer.reply;
        this.reportModel(turn, understood.reply);
        await this.extra(call, 'reply', { turn, text: understood.reply.text, intent: understood.reply.intent });
      }
      if (spoken.status !== 'redo') break;
      heard = (await grown)!;
      telemetry.info('speech arrived late for this turn; answering the whole utterance', { turn, speechMs: heard.speechMs });
      for (const stage of ['transcriptAt', 'firstTokenAt', 'replyAt', 'ttsFirstByteAt'] as const) delete timings[stage];
    }
    const status = understood.reply && understood.status !== 'ignored' ? (spoken.status as TurnStatus) : understood.status;
    const { transcript, reply, error } = understood;
    const audioMs = spoken.audioMs;
    if (input.kind === 'speech' && input.utterance) {
      const lost = await input.utterance.lost().catch(() => 0);
      if (lost > 0) {
        telemetry.count('LateFrames', lost);
        telemetry.warn('speech frames arrived after their turn was answered', { turn, lost });
      }
    }

    const record: TurnRecord = {
      turn,
      kind: input.kind,
      status,
      timings,
      transcript,
      reply: reply?.text,
      intent: reply?.intent,
      fromChunk: heard.fromChunk,
      toChunk: input.toChunk,
      speechMs: heard.speechMs,
      audioMs,
      error,
      ...(preempted ? { preempted } : {}),
      ...(Object.keys(providerMs).length > 0 ? { providerMs } : {}),
      ...(input.endOfTurn ? { endOfTurn: input.endOfTurn } : {}),
    };
    const agentUntilMs = timings.firstAudioAt !== undefined ? timings.firstAudioAt + audioMs + 500 : undefined;
    await store.finishTurn(call.callId, record, {
      dialog: reply && status !== 'superseded' ? reply.state : undefined,
      pendingAction: status === 'completed' ? reply?.action : undefined,
      agentUntilMs,
    });
    this.report(record);
    if (record.timings.firstAudioAt !== undefined) {
      await this.extra(call, 'turn', {
        turn,
        status,
        timings: record.timings,
        latencyMs: turnLatency(record),
        preempted: record.preempted ?? false,
        providerMs: record.providerMs,
        ...(record.endOfTurn ? { endOfTurn: record.endOfTurn } : {}),
      });
    }
    return record;
  }

  /** Speech-to-text (or the prepared transcript) and the responder; on a provider failure, the fallback phrase. */
  private async understand(
    input: TurnInput,
    audio: Uint8Array | undefined,
    prepared: PreparedTurn | undefined,
    dialog: DialogState,
    timings: TurnTimings,
    providerMs: { stt?: number; responder?: number; modelFirstToken?: number },
  ): Promise<Understood> {
    const { telemetry, now } = this.deps;
    const { call, turn } = input;
    const out: Understood = { status: 'completed' };
    try {
      if (prepared) {
        out.transcript = prepared.transcript;
        timings.transcriptAt = timings.endpointAt;
        providerMs.stt = prepared.sttMs;
        telemetry.milliseconds('SttLatency', prepared.sttMs);
        if (out.transcript === '') out.status = 'ignored';
        else await this.extra(call, 'transcript', { turn, text: out.transcript });
        if (out.status !== 'ignored' && (prepared.reply || prepared.answer) && prepared.dialogTurn === call.dialogTurn) {
          out.reply = prepared.reply;
          out.answer = prepared.answer;
          out.head = prepared.head;
          timings.replyAt = timings.endpointAt;
          providerMs.responder = prepared.responderMs ?? 0;
          telemetry.milliseconds('ResponderLatency', prepared.responderMs ?? 0);
          if (prepared.firstTokenMs !== undefined) {
            timings.firstTokenAt = timings.endpointAt;
            providerMs.modelFirstToken = prepared.firstTokenMs;
            telemetry.milliseconds('ModelFirstTokenLatency', prepared.firstTokenMs);
          }
        } else {
          // Another turn moved the dialog on meanwhile: keep the transcript, answer again from the current state.
          prepared.discard();
        }
      } else if (input.kind === 'speech') {
        const started = now();
        const result = await withTimeout(
          (signal) => this.deps.stt.transcribe(audio ?? new Uint8Array(), audioFormatOf(call), { context: dialog.name, signal }),
          this.deps.config.sttTimeoutMs,
          this.deps.stt.name,
        );
        timings.transcriptAt = now();
        providerMs.stt = timings.transcriptAt - started;
        telemetry.milliseconds('SttLatency', timings.transcriptAt - started);
        out.transcript = result.text.trim();
        if (out.transcript === '') out.status = 'ignored';
        else await this.extra(call, 'transcript', { turn, text: out.transcript });
      }
      if (out.status !== 'ignored' && !out.reply && !out.answer) {
        const started = now();
        const responderInput = (): Promise<ResponderInput> =>
          this.canTransfer(call).then((canTransfer) => ({ ...(input.kind === 'dtmf' ? { dtmf: input.dtmf } : { text: out.transcript }), canTransfer }));
        if (input.kind !== 'greeting' && this.deps.responder.stream) {
          // Streamed: the reply is timed when its first sentence is complete (firstSentence), by the speaker.
          const streamed = this.deps.responder.stream(await responderInput(), dialog);
          out.askedAt = started;
          const pieces = onFirst(streamed.text, () => {
            timings.firstTokenAt = now();
            providerMs.modelFirstToken = timings.firstTokenAt - started;
            telemetry.milliseconds('ModelFirstTokenLatency', providerMs.modelFirstToken);
          });
          out.answer = { sentences: sentencesOf(pieces), reply: streamed.reply };
        } else {
          out.reply = input.kind === 'greeting' ? this.deps.responder.greet(dialog) : await this.deps.responder.respond(await responderInput(), dialog);
          timings.replyAt = now();
          providerMs.responder = timings.replyAt - started;
          telemetry.milliseconds('ResponderLatency', timings.replyAt - started);
        }
      }
    } catch (err) {
      out.error = describeError(err);
      telemetry.count('ProviderErrors');
      telemetry.warn('turn input failed; answering with the fallback phrase', { turn, error: out.error });
      out.reply = { text: this.deps.config.fallbackText, state: dialog, intent: 'fallback' };
      out.status = 'completed';
      timings.replyAt = now();
    }
    return out;
  }

  /**
   * The dialog state to answer from: the call's, with the conversation read from where it is kept for responders
   * that answer from one (one read a turn; an unreadable one is answered without, and said so).
   */
  private async dialogOf(call: CallRecord, answers = true): Promise<DialogState> {
    const dialog = call.dialog ?? this.deps.responder.initialState();
    if (!answers || !this.deps.responder.keepsHistory || !call.dialog) return dialog;
    try {
      return { ...dialog, history: (await this.deps.store.getHistory(call.callId)) ?? [] };
    } catch (err) {
      this.deps.telemetry.warn('could not read the conversation; answering without it', { error: describeError(err) });
      return { ...dialog, history: [] };
    }
  }

  /** When a streamed reply's first sentence is complete: the responder's stage ends (a prepared one ended earlier). */
  private firstSentence(timings: TurnTimings, providerMs: { responder?: number }, askedAt: number | undefined): void {
    if (timings.replyAt !== undefined || askedAt === undefined) return;
    timings.replyAt = this.deps.now();
    providerMs.responder = timings.replyAt - askedAt;
    this.deps.telemetry.milliseconds('ResponderLatency', providerMs.responder);
  }

  /** A language model's account of the turn, as metrics: calls, tokens, failures, answers that fell back. */
  private reportModel(turn: number, reply: Reply): void {
    const { telemetry } = this.deps;
    const usage = reply.model;
    if (!usage) return;
    telemetry.count('ModelCalls', usage.calls);
    telemetry.count('ModelInputTokens', usage.inputTokens);
    telemetry.count('ModelOutputTokens', usage.outputTokens);
    if (usage.errors.length > 0) {
      telemetry.count('LlmErrors', usage.errors.length);
      // `error`: the last failure as one string, the field the saved query "calls with provider errors" reads.
      telemetry.warn('the language model failed', { turn, errors: usage.errors, error: usage.errors.at(-1), fellBack: usage.fellBack });
    }
    if (usage.fellBack) telemetry.count('LlmFallbacks');
  }

  /** A streamed reply nobody will play (a discarded speculation): stopped, and what it cost counted as waste. */
  private async discardAnswer(answer: StreamedAnswer): Promise<void> {
    const iterator = answer.sentences[Symbol.asyncIterator]();
    await iterator.return?.(undefined)?.catch(() => undefined);
    const reply = await answer.reply;
    if (!reply.model) return;
    this.deps.telemetry.count('SpeculationModelCalls', reply.model.calls);
    this.deps.telemetry.count('SpeculationTokensWasted', reply.model.inputTokens + reply.model.outputTokens);
  }

  /**
   * Whether the caller can be handed to a person: on a phone call, when the line has a number and credentials for it
   * (cached with the app secret: no request on the hot path); undefined for other callers (the client is told).
   */
  private async canTransfer(call: CallRecord): Promise<boolean | undefined> {
    if (!call.callSid) return undefined;
    if (!this.deps.phoneLine) return false;
    return this.deps.phoneLine.canTransfer().catch((err: Error) => {
      this.deps.telemetry.warn('could not tell whether the call can be transferred: saying it cannot', { error: err.message });
      return false;
    });
  }

  /** An informational event for clients that asked for them: a failure to deliver one never fails the turn. */
  private async extra(call: CallRecord, type: ExtraEventType, data: Record<string, unknown>): Promise<void> {
    if (!call.events) return;
    try {
      await this.deps.sender.send(call.connectionId, outbound.extra(call.streamSid ?? '', type, data));
    } catch (err) {
      this.deps.telemetry.warn('could not send an event to the caller', { type, error: describeError(err) });
    }
  }

  private report(record: TurnRecord): void {
    const { telemetry } = this.deps;
    const latency = turnLatency(record);
    if (latency !== undefined) telemetry.milliseconds('TurnLatency', latency);
    if (record.timings.speechEndAt !== undefined) {
      telemetry.milliseconds('EndpointDelay', record.timings.endpointAt - record.timings.speechEndAt);
    }
    const metric = ({ completed: 'TurnsCompleted', barged: 'TurnsCompleted', superseded: 'TurnsSuperseded', ignored: 'TurnsIgnored' } as const)[
      record.status as 'completed'
    ];
    telemetry.count(metric ?? 'TurnsFailed');
    // The stages on the turn's path, each from where the one before ended: for a speech turn they add up to latencyMs,
    // so the on-call engineer's "slowest turns" (lib/constructs/saved-queries.ts) show which stage took the time. A
    // preempted turn did its speech-to-text and responder work before the endpoint: 0 here, `preempted` says why.
    // Numbers and names only: never what the caller said or heard.
    const t = record.timings;
    const heardAt = t.transcriptAt ?? t.endpointAt;
    telemetry.info('turn finished', {
      turn: record.turn,
      kind: record.kind,
      status: record.status,
      intent: record.intent,
      latencyMs: latency,
      stt: this.deps.stt.name,
      tts: this.deps.tts.name,
      endpointMs: diff(t.endpointAt, t.speechEndAt),
      sttMs: diff(t.transcriptAt, t.endpointAt),
      responderMs: diff(t.replyAt, heardAt),
      modelFirstTokenMs: diff(t.firstTokenAt, heardAt),
      ttsFirstByteMs: diff(t.ttsFirstByteAt, t.replyAt),
      sendMs: diff(t.firstAudioAt, t.ttsFirstByteAt),
      endOfTurnMs: record.endOfTurn?.silenceMs,
      preempted: record.preempted ?? false,
    });
  }
}





const diff = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a - b : undefined);




