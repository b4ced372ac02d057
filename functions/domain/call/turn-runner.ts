/**
 * One turn: (speech-to-text →) responder → streaming text-to-speech → agent audio out through the connection,
 * with a mark after each sentence. Runs in the invocation that claimed the turn; never throws.
 */
import { bytesForMs, durationMs } from '../audio';
import { markName, outbound, type ExtraEventType } from '../protocol';
import type { DialogState, Reply, Responder } from '../responder/responder';
import { SpeechProviderError, type AudioFormat, type SpeechToText, type TextToSpeech } from '../speech';
import type { CallRecord, CallStore, ConnectionSender, PhoneLine, Telemetry, TurnKind, TurnRecord, TurnStatus, TurnTimings } from './model';

export interface TurnRunnerConfig {
  readonly sttTimeoutMs: number;
  readonly ttsTimeoutMs: number;
  /** Longest audio per outbound media message (keeps each message well under API Gateway's 32 KB frame). */
  readonly maxMessageAudioMs: number;
  /** Said when a provider fails, so the caller hears something and the call goes on. */
  readonly fallbackText: string;
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
  /** The reply, for the dialog state of `dialogTurn`; undefined when the transcript is empty. */
  readonly reply?: Reply;
  readonly dialogTurn: number;
  readonly sttMs: number;
  readonly responderMs?: number;
  /** The first sentence of the reply, its synthesis already open, and when its first byte arrived. */
  readonly head?: { readonly text: string; readonly stream: AsyncIterator<Uint8Array>; readonly ttsFirstByteMs?: number };
  discard(): void;
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

type SpeakOutcome = { status: TurnStatus | 'redo'; audioMs: number };

/** What the caller said and what to answer; `head` is a prepared first sentence already synthesizing. */
interface Understood {
  transcript?: string;
  reply?: Reply;
  error?: string;
  status: TurnStatus;
  head?: PreparedTurn['head'];
}

/** Thrown inside speak() before any audio is sent: the utterance grew (late frames), answer it again. */
class RedoTurn extends Error {}
/** The connection refused a post for a reason other than the caller being gone (after the SDK's own retries). */
class SendFailed extends Error {}

export class TurnRunner {
  constructor(private readonly deps: TurnDeps) {}

  /**
   * Preemptive generation: transcribe the utterance as it stands, reply, and open the first sentence's synthesis —
   * sending nothing. `signal` aborts it. Rejects on a provider error (the turn is then run the ordinary way).
   */
  async prepare(call: CallRecord, audio: Uint8Array, signal: AbortSignal): Promise<PreparedTurn> {
    const { now, config } = this.deps;
    const dialog = call.dialog ?? this.deps.responder.initialState();
    const sttStarted = now();
    const result = await withTimeout(
      (timeoutSignal) => this.deps.stt.transcribe(audio, formatOf(call), { context: dialog.name, signal: AbortSignal.any([signal, timeoutSignal]) }),
      config.sttTimeoutMs,
      this.deps.stt.name,
    );
    const sttMs = now() - sttStarted;
    const transcript = result.text.trim();
    const base = { transcript, dialogTurn: call.dialogTurn, sttMs, discard: () => undefined };
    if (transcript === '' || signal.aborted) return base;
    const replyStarted = now();
    const reply = await this.deps.responder.respond({ text: transcript, canTransfer: await this.canTransfer(call) }, dialog);
    const responderMs = now() - replyStarted;
    const text = splitSentences(reply.text)[0]!;
    const ttsStarted = now();
    const stream = withStreamTimeout((s) => this.deps.tts.synthesize(text, formatOf(call), { signal: AbortSignal.any([signal, s]) }), config.ttsTimeoutMs, this.deps.tts.name)[
      Symbol.asyncIterator
    ]();
    // Wait for the first byte: that is the latency taken off the turn. The chunk is put back in front of the stream.
    const first = await stream.next();
    const ttsFirstByteMs = now() - ttsStarted;
    const replay = prepend(first, stream);
    return {
      ...base,
      reply,
      responderMs,
      head: { text, stream: replay, ttsFirstByteMs },
      discard: () => void replay.return?.(undefined)?.catch(() => undefined),
    };
  }

  async run(input: TurnInput): Promise<TurnRecord> {
    const { store, telemetry } = this.deps;
    const { call, turn } = input;
    const timings: TurnTimings = { ...input.timings };
    const dialog = call.dialog ?? this.deps.responder.initialState();
    const preempted = input.prepared !== undefined;
    const providerMs: { stt?: number; responder?: number; ttsFirstByte?: number } = {};
    let heard: { audio?: Uint8Array; speechMs?: number; fromChunk?: number } = { audio: input.audio, speechMs: input.speechMs, fromChunk: input.fromChunk };
    let understood!: Understood;
    let spoken: SpeakOutcome = { status: 'completed', audioMs: 0 };
    for (let attempt = 0; ; attempt++) {
      understood = await this.understand(input, heard.audio, attempt === 0 ? input.prepared : undefined, dialog, timings, providerMs);
      telemetry.debug('reply ready', { turn, status: understood.status, intent: understood.reply?.intent });
      if (!understood.reply || understood.status === 'ignored') break;
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
      await this.extra(call, 'reply', { turn, text: understood.reply.text, intent: understood.reply.intent });
      spoken = await this.speak(call, turn, understood.reply.text, timings, true, understood.head, providerMs, grown && (async () => (await grown) === undefined));
      if (spoken.status !== 'redo') break;
      heard = (await grown)!;
      telemetry.info('speech arrived late for this turn; answering the whole utterance', { turn, speechMs: heard.speechMs });
      for (const stage of ['transcriptAt', 'replyAt', 'ttsFirstByteAt'] as const) delete timings[stage];
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
    providerMs: { stt?: number; responder?: number },
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
        if (out.status !== 'ignored' && prepared.reply && prepared.dialogTurn === call.dialogTurn) {
          out.reply = prepared.reply;
          out.head = prepared.head;
          timings.replyAt = timings.endpointAt;
          providerMs.responder = prepared.responderMs ?? 0;
          telemetry.milliseconds('ResponderLatency', prepared.responderMs ?? 0);
        } else {
          // Another turn moved the dialog on meanwhile: keep the transcript, answer again from the current state.
          prepared.discard();
        }
      } else if (input.kind === 'speech') {
        const started = now();
        const result = await withTimeout(
          (signal) => this.deps.stt.transcribe(audio ?? new Uint8Array(), formatOf(call), { context: dialog.name, signal }),
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
      if (out.status !== 'ignored' && !out.reply) {
        const started = now();
        out.reply =
          input.kind === 'greeting'
            ? this.deps.responder.greet(dialog)
            : await this.deps.responder.respond(
                { ...(input.kind === 'dtmf' ? { dtmf: input.dtmf } : { text: out.transcript }), canTransfer: await this.canTransfer(call) },
                dialog,
              );
        timings.replyAt = now();
        providerMs.responder = timings.replyAt - started;
        telemetry.milliseconds('ResponderLatency', timings.replyAt - started);
      }
    } catch (err) {
      out.error = describe(err);
      telemetry.count('ProviderErrors');
      telemetry.warn('turn input failed; answering with the fallback phrase', { turn, error: out.error });
      out.reply = { text: this.deps.config.fallbackText, state: dialog, intent: 'fallback' };
      out.status = 'completed';
      timings.replyAt = now();
    }
    return out;
  }

  /** Streams the reply sentence by sentence; stops early on barge-in, a newer turn, or a caller who hung up. */
  private async speak(
    call: CallRecord,
    turn: number,
    text: string,
    timings: TurnTimings,
    fallbackAllowed = true,
    head?: PreparedTurn['head'],
    providerMs: { ttsFirstByte?: number } = {},
    /** Awaited before the first audio goes out; false: the utterance grew, nothing is sent (status 'redo'). */
    beforeFirstAudio?: () => Promise<boolean>,
  ): Promise<SpeakOutcome> {
    const { sender, store, tts, telemetry, now, config } = this.deps;
    const format = formatOf(call);
    const streamSid = call.streamSid ?? '';
    const maxBytes = bytesForMs(config.maxMessageAudioMs, format);
    let sentBytes = 0;
    let segment = 0;

    const post = async (data: string): Promise<boolean> => {
      telemetry.debug('posting to the connection', { turn, bytes: data.length });
      let result: 'ok' | 'gone';
      try {
        result = await sender.send(call.connectionId, data);
      } catch (err) {
        throw new SendFailed(describe(err));
      }
      if (result === 'gone') telemetry.count('CallerGone');
      return result === 'ok';
    };
    const postAudio = async (audio: Uint8Array): Promise<boolean> => {
      const first = timings.firstAudioAt === undefined;
      if (first && beforeFirstAudio && !(await beforeFirstAudio())) throw new RedoTurn();
      const sendStarted = now();
      if (!(await post(outbound.media(streamSid, audio)))) return false;
      sentBytes += audio.byteLength;
      if (first) {
        timings.firstAudioAt = now();
        telemetry.milliseconds('SendLatency', timings.firstAudioAt - sendStarted);
        await store.setAgentSpeaking(call.callId, turn, timings.firstAudioAt + 60_000);
      }
      timings.lastAudioAt = now();
      return true;
    };

    try {
      const sentences = splitSentences(text);
      // Pipelined: the next sentence's synthesis starts while this one streams, so its first byte is there when the
      // caller reaches it. A prefetch that is not used (barge-in, newer turn, hang-up, failure) is closed unplayed.
      const open = (sentence: string) =>
        prefetch(withStreamTimeout((signal) => tts.synthesize(sentence, format, { signal }), config.ttsTimeoutMs, tts.name)[Symbol.asyncIterator]());
      let next: AsyncIterator<Uint8Array> | undefined;
      try {
        for (const [index, sentence] of sentences.entries()) {
          if (segment > 0) {
            const interrupted = await this.interruption(call.callId, turn);
            if (interrupted) return { status: interrupted, audioMs: durationMs(sentBytes, format) };
          }
          let pending: Uint8Array = new Uint8Array(0);
          const ttsStarted = now();
          telemetry.debug('synthesizing', { turn, segment, characters: sentence.length });
          const preparedHead = segment === 0 && head?.text === sentence ? head : undefined;
          const current = preparedHead ? preparedHead.stream : (next ?? open(sentence));
          next = index + 1 < sentences.length ? open(sentences[index + 1]!) : undefined;
          // A stream that breaks once its sentence has begun (or a later sentence's that fails outright) is opened
          // again once, and the audio already received of this sentence is skipped: the caller hears a short gap
          // instead of a reply cut off. The first sentence failing before any audio falls back below instead.
          let stream: AsyncIterator<Uint8Array> = current;
          let received = 0;
          let skip = 0;
          let reopened = false;
          for (;;) {
            try {
              for await (let chunk of { [Symbol.asyncIterator]: () => stream }) {
                if (skip > 0) {
                  const drop = Math.min(skip, chunk.byteLength);
                  skip -= drop;
                  chunk = chunk.subarray(drop);
                  if (chunk.byteLength === 0) continue;
                }
                received += chunk.byteLength;
                if (timings.ttsFirstByteAt === undefined) {
                  timings.ttsFirstByteAt = now();
                  providerMs.ttsFirstByte = preparedHead?.ttsFirstByteMs ?? timings.ttsFirstByteAt - ttsStarted;
                  telemetry.milliseconds('TtsFirstByteLatency', providerMs.ttsFirstByte);
                }
                pending = concat(pending, chunk);
                // The first audio of the turn goes out the moment it exists; later audio in messages of bounded size.
                while (pending.byteLength >= maxBytes || (timings.firstAudioAt === undefined && pending.byteLength > 0)) {
                  const size = Math.min(maxBytes, pending.byteLength - (pending.byteLength % sampleBytes(format)));
                  if (size === 0) break;
                  if (!(await postAudio(pending.subarray(0, size)))) return { status: 'hungup', audioMs: durationMs(sentBytes, format) };
                  pending = pending.subarray(size);
                }
              }
              break;
            } catch (err) {
              // Only the speech stream breaking is worth a second synthesis; a redo or a refused post is not.
              if (err instanceof RedoTurn || err instanceof SendFailed) throw err;
              const begun = received > 0 || sentBytes > 0 || segment > 0;
              if (reopened || !begun) throw err;
              reopened = true;
              telemetry.count('ProviderErrors');
              telemetry.count('ProviderRetries');
              telemetry.warn('speech stream broke; synthesizing the sentence again from where it stopped', { turn, segment, error: describe(err) });
              skip = received;
              stream = open(sentence);
            }
          }
          if (pending.byteLength > 0 && !(await postAudio(pending))) return { status: 'hungup', audioMs: durationMs(sentBytes, format) };
          if (!(await post(outbound.mark(streamSid, markName.segment(turn, segment))))) {
            return { status: 'hungup', audioMs: durationMs(sentBytes, format) };
          }
          segment++;
        }
      } finally {
        void next?.return?.(undefined)?.catch(() => undefined);
      }
      if (!(await post(outbound.mark(streamSid, markName.end(turn))))) return { status: 'hungup', audioMs: durationMs(sentBytes, format) };
      return { status: 'completed', audioMs: durationMs(sentBytes, format) };
    } catch (err) {
      if (err instanceof RedoTurn) return { status: 'redo', audioMs: 0 };
      if (err instanceof SendFailed) {
        // Not the caller hanging up and not a provider: the connection itself failed (API Gateway 5xx, throttling).
        // The turn stops; the call goes on, and its next utterance is answered if the connection recovers.
        telemetry.warn('could not send to the caller; the turn stops', { turn, error: err.message });
        return { status: 'failed', audioMs: durationMs(sentBytes, format) };
      }
      telemetry.count('ProviderErrors');
      if (sentBytes === 0 && segment === 0 && fallbackAllowed && text !== config.fallbackText) {
        // Nothing played yet: the fallback phrase (cached at init, so it plays even while the provider is down).
        telemetry.warn('speech synthesis failed; saying the fallback phrase', { turn, error: describe(err) });
        const fallback = await this.speak(call, turn, config.fallbackText, timings, false);
        return { status: 'failed', audioMs: fallback.audioMs };
      }
      telemetry.warn('speech synthesis failed mid-turn', { turn, error: describe(err) });
      await post(outbound.mark(streamSid, markName.end(turn))).catch(() => false);
      return { status: 'failed', audioMs: durationMs(sentBytes, format) };
    }
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

  /** Between sentences: has the caller barged in, a newer turn started, or the call ended? One consistent read. */
  private async interruption(callId: string, turn: number): Promise<TurnStatus | undefined> {
    const call = await this.deps.store.getCall(callId);
    if (!call || call.status === 'ended') return 'hungup';
    if (call.turnCount > turn) return 'superseded';
    if (call.agent?.turn !== turn) return 'barged';
    return undefined;
  }

  /** An informational event for clients that asked for them: a failure to deliver one never fails the turn. */
  private async extra(call: CallRecord, type: ExtraEventType, data: Record<string, unknown>): Promise<void> {
    if (!call.events) return;
    try {
      await this.deps.sender.send(call.connectionId, outbound.extra(call.streamSid ?? '', type, data));
    } catch (err) {
      this.deps.telemetry.warn('could not send an event to the caller', { type, error: describe(err) });
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
    telemetry.info('turn finished', {
      turn: record.turn,
      kind: record.kind,
      status: record.status,
      intent: record.intent,
      latencyMs: latency,
      stt: this.deps.stt.name,
      tts: this.deps.tts.name,
      sttMs: diff(record.timings.transcriptAt, record.timings.endpointAt),
      ttsFirstByteMs: diff(record.timings.ttsFirstByteAt, record.timings.replyAt),
    });
  }
}

/** Turn latency: the caller's last speech frame reaching the gateway → the first agent audio handed back to it. */
export function turnLatency(record: Pick<TurnRecord, 'timings'>): number | undefined {
  const { speechEndAt, endpointAt, firstAudioAt } = record.timings;
  if (firstAudioAt === undefined) return undefined;
  return firstAudioAt - (speechEndAt ?? endpointAt);
}

export function splitSentences(text: string): string[] {
  const parts = text.match(/[^.!?]+[.!?]*/g) ?? [];
  const sentences = parts.map((s) => s.trim()).filter((s) => s.length > 0);
  return sentences.length > 0 ? sentences : [text];
}

function formatOf(call: CallRecord): AudioFormat {
  return call.format ?? { encoding: 'mulaw', sampleRate: 8000 };
}

const sampleBytes = (format: AudioFormat) => (format.encoding === 'mulaw' ? 1 : 2);
const diff = (a?: number, b?: number) => (a !== undefined && b !== undefined ? a - b : undefined);

/** Starts pulling the first chunk now (the request goes out), and hands it over when asked for. */
function prefetch<T>(iterator: AsyncIterator<T>): AsyncIterator<T> {
  let first: Promise<IteratorResult<T>> | undefined = iterator.next();
  first.catch(() => undefined); // observed when consumed; an unused prefetch must not be an unhandled rejection
  return {
    next: () => {
      const r = first ?? iterator.next();
      first = undefined;
      return r;
    },
    return: async (value?: unknown) => {
      first = undefined;
      return (await iterator.return?.(value)) ?? { done: true, value: undefined as T };
    },
  };
}

/** An iterator that yields `first` (already pulled from `rest`), then the rest of `rest`. */
function prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncIterator<T> & { return(value?: unknown): Promise<IteratorResult<T>> } {
  let pending: IteratorResult<T> | undefined = first;
  return {
    next: async () => {
      if (pending) {
        const r = pending;
        pending = undefined;
        return r;
      }
      return rest.next();
    },
    return: async (value?: unknown) => {
      pending = undefined;
      await rest.return?.(value);
      return { done: true, value: undefined as T };
    },
  };
}

function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

function describe(err: unknown): string {
  if (err instanceof SpeechProviderError) return `${err.provider} ${err.kind}: ${err.message}`;
  return err instanceof Error ? `${err.name}: ${err.message}` : String(err);
}

async function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, ms: number, provider: string): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new SpeechProviderError(provider, 'timeout', `no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails a stream that stalls: each chunk must arrive within `ms` of the previous one; the request is aborted. */
async function* withStreamTimeout<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  ms: number,
  provider: string,
): AsyncGenerator<T> {
  const controller = new AbortController();
  const iterator = open(controller.signal)[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (true) {
      const next = await withTimeout(() => iterator.next(), ms, provider);
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) {
      controller.abort();
      // Not awaited: a stalled stream may never settle its pending next().
      iterator.return?.()?.catch(() => undefined);
    }
  }
}
