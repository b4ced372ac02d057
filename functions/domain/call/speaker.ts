/**
 * Speaking a reply: sentence by sentence through streaming text-to-speech, the next sentence synthesizing while the
 * one before plays, the first audio out the moment it exists, a broken stream reopened once, barge-in and newer
 * turns checked between sentences, and the fallback phrase when synthesis fails before any audio.
 */
import { bytesForMs, durationMs } from '../audio';
import { markName, outbound } from '../protocol';
import { describeError, type TextToSpeech } from '../speech';
import type { AudioFormat } from '../../contracts/audio-format';
import { audioFormatOf, type CallRecord, type CallStore, type ConnectionSender, type Telemetry, type TurnStatus, type TurnTimings } from './model';
import { splitSentences } from './sentences';
import { concat, prefetch, reopenedOnce, withStreamTimeout } from './streams';

export interface SpeakerConfig {
  readonly ttsTimeoutMs: number;
  /** Longest audio per outbound media message (keeps each message well under API Gateway's 32 KB frame). */
  readonly maxMessageAudioMs: number;
  /** Said when a provider fails, so the caller hears something and the call goes on. */
  readonly fallbackText: string;
}

export interface SpeakerDeps {
  readonly store: CallStore;
  readonly sender: ConnectionSender;
  readonly tts: TextToSpeech;
  readonly telemetry: Telemetry;
  readonly config: SpeakerConfig;
  readonly now: () => number;
}

/** A first sentence already synthesizing (preemptive generation), with when its first byte came. */
export interface PreparedHead {
  readonly text: string;
  readonly stream: AsyncIterator<Uint8Array>;
  readonly ttsFirstByteMs?: number;
}

export type SpeakOutcome = { status: TurnStatus | 'redo'; audioMs: number };

/** Thrown inside speak() before any audio is sent: the utterance grew (late frames), answer it again. */
class RedoTurn extends Error {}
/** The connection refused a post for a reason other than the caller being gone (after the SDK's own retries). */
class SendFailed extends Error {}

const sampleBytes = (format: AudioFormat) => (format.encoding === 'mulaw' ? 1 : 2);

async function* fromList(items: readonly string[]): AsyncGenerator<string> {
  yield* items;
}

export class Speaker {
  constructor(private readonly deps: SpeakerDeps) {}

  /** Streams the reply sentence by sentence; stops early on barge-in, a newer turn, or a caller who hung up. */
  async speak(
    call: CallRecord,
    turn: number,
    /** The reply: its whole text, or its sentences as a streamed reply completes them. */
    text: string | AsyncIterable<string>,
    timings: TurnTimings,
    fallbackAllowed = true,
    head?: PreparedHead,
    providerMs: { ttsFirstByte?: number } = {},
    /** Awaited before the first audio goes out; false: the utterance grew, nothing is sent (status 'redo'). */
    beforeFirstAudio?: () => Promise<boolean>,
    /** Called when the first sentence is ready to synthesize (a streamed reply: when it is complete). */
    onFirstSentence?: () => void,
  ): Promise<SpeakOutcome> {
    const { sender, store, tts, telemetry, now, config } = this.deps;
    const format = audioFormatOf(call);
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
        throw new SendFailed(describeError(err));
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

    // The sentences to say: cut from the whole text, or as a streamed reply completes them.
    const source = (typeof text === 'string' ? fromList(splitSentences(text)) : text)[Symbol.asyncIterator]();
    try {
      // Pipelined: the next sentence's synthesis starts while this one streams (as soon as a streamed reply has
      // completed it), so its first byte is there when the caller reaches it. A prefetch that is not used (barge-in,
      // newer turn, hang-up, failure) is closed unplayed.
      const open = (sentence: string) =>
        prefetch(withStreamTimeout((signal) => tts.synthesize(sentence, format, { signal }), config.ttsTimeoutMs, tts.name)[Symbol.asyncIterator]());
      type Upcoming = { sentence: string; stream?: AsyncIterator<Uint8Array> } | undefined;
      const following = (): Promise<Upcoming> => source.next().then((r) => (r.done ? undefined : { sentence: r.value }));
      let upcoming: Promise<Upcoming> = following();
      let next: Promise<Upcoming> | undefined;
      try {
        for (let item = await upcoming; item !== undefined; item = await next!) {
          const sentence = item.sentence;
          if (segment === 0) onFirstSentence?.();
          if (segment > 0) {
            const interrupted = await this.interruption(call.callId, turn);
            if (interrupted) return { status: interrupted, audioMs: durationMs(sentBytes, format) };
          }
          let pending: Uint8Array = new Uint8Array(0);
          const ttsStarted = now();
          telemetry.debug('synthesizing', { turn, segment, characters: sentence.length });
          const preparedHead = segment === 0 && head?.text === sentence ? head : undefined;
          const current = preparedHead ? preparedHead.stream : (item.stream ?? open(sentence));
          next = following().then((n) => (n ? { sentence: n.sentence, stream: open(n.sentence) } : undefined));
          upcoming = next;
          // A stream that breaks once its sentence has begun (or a later sentence's that fails outright) is opened
          // again once, from where it stopped. The first sentence failing before any audio falls back below instead.
          const chunks = reopenedOnce(current, () => open(sentence), {
            begun: (received) => received > 0 || sentBytes > 0 || segment > 0,
            onReopen: (err) => {
              telemetry.count('ProviderErrors');
              telemetry.count('ProviderRetries');
              telemetry.warn('speech stream broke; synthesizing the sentence again from where it stopped', { turn, segment, error: describeError(err) });
            },
          });
          for await (const chunk of chunks) {
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
          if (pending.byteLength > 0 && !(await postAudio(pending))) return { status: 'hungup', audioMs: durationMs(sentBytes, format) };
          if (!(await post(outbound.mark(streamSid, markName.segment(turn, segment))))) {
            return { status: 'hungup', audioMs: durationMs(sentBytes, format) };
          }
          segment++;
        }
      } finally {
        // Whatever was not played: the prefetched synthesis is closed, and a streamed reply is told to stop.
        void upcoming.then((n) => n?.stream?.return?.(undefined)).catch(() => undefined);
        void source.return?.(undefined)?.catch(() => undefined);
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
        telemetry.warn('speech synthesis failed; saying the fallback phrase', { turn, error: describeError(err) });
        const fallback = await this.speak(call, turn, config.fallbackText, timings, false);
        return { status: 'failed', audioMs: fallback.audioMs };
      }
      telemetry.warn('speech synthesis failed mid-turn', { turn, error: describeError(err) });
      await post(outbound.mark(streamSid, markName.end(turn))).catch(() => false);
      return { status: 'failed', audioMs: durationMs(sentBytes, format) };
    }
  }

  /** Between sentences: has the caller barged in, a newer turn started, or the call ended? One consistent read. */
  private async interruption(callId: string, turn: number): Promise<TurnStatus | undefined> {
    const call = await this.deps.store.getCall(callId);
    if (!call || call.status === 'ended') return 'hungup';
    if (call.turnCount > turn) return 'superseded';
    if (call.agent?.turn !== turn) return 'barged';
    return undefined;
  }
}
