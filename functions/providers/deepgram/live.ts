/**
 * Deepgram live transcription: WSS /v1/listen (`listen.v1.connect`), audio in, typed events out (interim and final
 * transcripts, SpeechStarted, UtteranceEnd, Metadata, errors, close). Opened over a pre-recorded adapter's client
 * (`DeepgramSpeechToText.live()`); kept, contract-tested, for a design that holds a socket per utterance.
 */
import type { DeepgramClient } from '@deepgram/sdk';
import { SpeechProviderError, type Transcript } from '../../domain/speech';
import { type AudioFormat } from '../../contracts/audio-format';
import { AttemptError, DEEPGRAM_STT_NAME, ENCODING, resolveOptions, statusError, withRetries, type DeepgramOptions, type Kind, type Resolved } from './client';

export type LiveEvent =
  | {
      readonly type: 'transcript';
      readonly text: string;
      readonly confidence: number;
      /** This span's text will not change again. */
      readonly isFinal: boolean;
      /** Endpointing saw the speaker stop: the utterance is complete. */
      readonly speechFinal: boolean;
      /** The answer to a Finalize. */
      readonly fromFinalize: boolean;
      /** Seconds into the stream. */
      readonly start: number;
      readonly duration: number;
    }
  | { readonly type: 'speech-started'; readonly timestamp: number }
  | { readonly type: 'utterance-end'; readonly lastWordEnd: number }
  | { readonly type: 'metadata'; readonly requestId: string; readonly duration: number }
  | { readonly type: 'error'; readonly error: SpeechProviderError }
  | { readonly type: 'closed'; readonly code: number; readonly reason: string };

export interface LiveOptions {
  /** Interim (is_final: false) results. Default true. */
  readonly interimResults?: boolean;
  /** Silence (ms) after which Deepgram marks speech_final; false turns it off. Default 300. */
  readonly endpointingMs?: number | false;
  /** UtteranceEnd after this gap (ms) after the last final word; needs interim results. Default 1000. */
  readonly utteranceEndMs?: number;
  /** SpeechStarted events. Default true. */
  readonly vadEvents?: boolean;
  /** Opening the connection: one attempt's timeout (default 2000 ms) and the whole budget with retries (default 4500 ms). */
  readonly openTimeoutMs?: number;
  readonly openDeadlineMs?: number;
  /** Longest wait for the answer to finalize() or close(). Default 2000 ms. */
  readonly resultTimeoutMs?: number;
  /**
   * After a final result arrives while a finalize() waits, how long to wait for the from_finalize answer before
   * resolving with what is there (Deepgram answers Finalize only when it still had audio). Default 150 ms.
   */
  readonly finalizeGraceMs?: number;
  readonly signal?: AbortSignal;
  /** Every event, as it arrives (alternative to iterating). */
  readonly onEvent?: (event: LiveEvent) => void;
}

type ListenSocket = Awaited<ReturnType<DeepgramClient['listen']['v1']['connect']>>;

interface Waiter {
  resolve(t: Transcript): void;
  reject(e: unknown): void;
  timer: NodeJS.Timeout;
  grace?: NodeJS.Timeout;
}

/** Reads the HTTP status of a failed upgrade from the `ws` error message ("Unexpected server response: 429"). */
const upgradeStatus = (message: string): number | undefined => {
  const m = /Unexpected server response: (\d{3})/.exec(message);
  return m ? Number(m[1]) : undefined;
};

export class DeepgramLiveTranscriber implements AsyncIterable<LiveEvent> {
  private readonly queue: LiveEvent[] = [];
  private readonly readers: Array<(r: IteratorResult<LiveEvent>) => void> = [];
  private ended = false;
  private closing = false;
  /** Final texts since the last finalize()/close() answer. */
  private finals: string[] = [];
  private confidences: number[] = [];
  private audioSinceFinal = false;
  private finalizeWaiter?: Waiter;
  private closeWaiter?: Waiter;
  private requestId?: string;
  /** What ended the stream, if it failed: send()/finalize() throw it from then on. */
  private failure?: SpeechProviderError;

  private constructor(
    private readonly socket: ListenSocket,
    private readonly controller: AbortController,
    private readonly options: LiveOptions,
    private readonly provider: string,
  ) {}

  /** Opens the connection (retrying 429, 5xx, network errors and open timeouts within the open deadline). */
  static async open(client: DeepgramClient, format: AudioFormat, options: DeepgramOptions & LiveOptions): Promise<DeepgramLiveTranscriber> {
    const provider = DEEPGRAM_STT_NAME;
    const cfg: Resolved = {
      ...resolveOptions(options),
      attemptTimeoutMs: options.openTimeoutMs ?? 2000,
      deadlineMs: options.openDeadlineMs ?? 4500,
    };
    return withRetries(provider, 'live', cfg, options, options.signal, async (signal, timeoutMs) => {
      const controller = new AbortController();
      const abortAttempt = () => controller.abort(signal.reason);
      signal.addEventListener('abort', abortAttempt, { once: true });
      const endpointing = options.endpointingMs ?? 300;
      const interim = options.interimResults ?? true;
      const socket = await client.listen.v1.connect({
        model: options.model ?? 'nova-3',
        language: options.language ?? 'en',
        encoding: ENCODING[format.encoding],
        sample_rate: format.sampleRate,
        channels: 1,
        interim_results: String(interim),
        endpointing: endpointing === false ? 'false' : endpointing,
        ...(interim ? { utterance_end_ms: options.utteranceEndMs ?? 1000 } : {}),
        vad_events: String(options.vadEvents ?? true),
        ...(options.punctuate ? { punctuate: 'true' } : {}),
        ...(options.smartFormat ? { smart_format: 'true' } : {}),
        ...(options.keyterms?.length ? { keyterm: [...options.keyterms] } : {}),
        // Our retry loop owns reconnection: the SDK must not reconnect on its own (its default is 30 attempts).
        reconnectAttempts: 0,
        shouldReconnect: () => false,
        connectionTimeoutInSeconds: Math.max(0.001, timeoutMs / 1000),
        abortSignal: controller.signal,
      });
      const live = new DeepgramLiveTranscriber(socket, controller, options, provider);
      try {
        await live.connect(signal);
      } catch (err) {
        controller.abort();
        throw err;
      } finally {
        signal.removeEventListener('abort', abortAttempt);
      }
      options.signal?.addEventListener('abort', () => live.abort(), { once: true });
      return live;
    });
  }

  /** Connects and waits for the upgrade; failures become attempt errors for the retry loop. */
  private connect(signal: AbortSignal): Promise<void> {
    return new Promise<void>((resolveOpen, rejectOpen) => {
      let opened = false;
      let failed = false;
      const fail = (err: unknown) => {
        if (opened || failed) return;
        failed = true;
        rejectOpen(err);
      };
      signal.addEventListener('abort', () => fail(signal.reason), { once: true });
      this.socket.on('open', () => {
        opened = true;
        resolveOpen();
      });
      this.socket.on('message', (message: unknown) => this.onMessage(message));
      this.socket.on('error', (error: Error) => {
        if (!opened) {
          const status = upgradeStatus(error.message);
          if (status !== undefined) fail(statusError(this.provider, status, 'WebSocket upgrade refused'));
          else if (error.message === 'TIMEOUT') fail(new AttemptError(new SpeechProviderError(this.provider, 'timeout', 'WebSocket upgrade not answered'), true));
          else fail(new AttemptError(new SpeechProviderError(this.provider, 'unavailable', `WebSocket failed: ${error.message}`), true));
          return;
        }
        this.fail(new SpeechProviderError(this.provider, 'unavailable', `WebSocket failed: ${error.message}`));
      });
      this.socket.on('close', (event: { code?: number; reason?: string }) => {
        if (!opened) {
          // The SDK reports a failed upgrade as a close (1000) immediately followed by the error that says why: let the
          // error decide, this is only the fallback.
          queueMicrotask(() =>
            fail(new AttemptError(new SpeechProviderError(this.provider, 'unavailable', `WebSocket closed before it opened (${event.code ?? '?'})`), true)),
          );
          return;
        }
        this.onClose(event.code ?? 1005, event.reason ?? '');
      });
      this.socket.connect();
    });
  }

  /** Deepgram's request id for this stream, once the Metadata or a result told it. */
  get id(): string | undefined {
    return this.requestId;
  }

  get isOpen(): boolean {
    return !this.ended && !this.closing;
  }

  send(audio: Uint8Array): void {
    this.assertOpen();
    this.guard('send audio', () => this.socket.sendMedia(audio));
    this.audioSinceFinal = true;
  }

  keepAlive(): void {
    this.assertOpen();
    this.guard('send KeepAlive', () => this.socket.sendKeepAlive({ type: 'KeepAlive' }));
  }

  /** The SDK throws a plain Error when the socket closed under us (before its close event reached this object). */
  private guard(what: string, action: () => void): void {
    try {
      action();
    } catch (err) {
      const error = this.failure ?? new SpeechProviderError(this.provider, 'unavailable', `could not ${what}: ${(err as Error).message}`, { cause: err });
      this.fail(error);
      throw error;
    }
  }

  /**
   * Flushes: Deepgram finalizes the audio it holds. Resolves with the final text since the previous finalize() (all
   * is_final segments, joined), once the from_finalize answer came (or at once when nothing is pending).
   */
  finalize(): Promise<Transcript> {
    this.assertOpen();
    if (this.finalizeWaiter) return Promise.reject(new Error('finalize() is already waiting'));
    if (!this.audioSinceFinal) return Promise.resolve(this.takeFinals());
    return new Promise<Transcript>((resolveFinal, rejectFinal) => {
      this.finalizeWaiter = {
        resolve: resolveFinal,
        reject: rejectFinal,
        timer: setTimeout(() => this.timeout('finalize'), this.options.resultTimeoutMs ?? 2000),
      };
      try {
        this.guard('send Finalize', () => this.socket.sendFinalize({ type: 'Finalize' }));
      } catch {
        /* fail() has rejected the waiter */
      }
    });
  }

  /**
   * CloseStream: Deepgram finalizes what it holds, sends Metadata and closes. Resolves with the final text not yet
   * returned by finalize().
   */
  close(): Promise<Transcript> {
    if (this.ended) return Promise.resolve(this.takeFinals());
    if (this.closeWaiter) return Promise.reject(new Error('close() is already waiting'));
    this.closing = true;
    return new Promise<Transcript>((resolveClose, rejectClose) => {
      this.closeWaiter = {
        resolve: resolveClose,
        reject: rejectClose,
        timer: setTimeout(() => this.timeout('close'), this.options.resultTimeoutMs ?? 2000),
      };
      try {
        this.guard('send CloseStream', () => this.socket.sendCloseStream({ type: 'CloseStream' }));
      } catch {
        /* fail() has rejected the waiter */
      }
    });
  }

  /** Tears the connection down at once (no final results). */
  abort(): void {
    if (this.ended) return;
    this.settle(new SpeechProviderError(this.provider, 'unavailable', 'live transcription aborted'));
    this.end(1000, 'aborted');
  }

  [Symbol.asyncIterator](): AsyncIterator<LiveEvent> {
    return {
      next: () => {
        const event = this.queue.shift();
        if (event) return Promise.resolve({ value: event, done: false });
        if (this.ended) return Promise.resolve({ value: undefined, done: true });
        return new Promise((r) => this.readers.push(r));
      },
      return: () => {
        this.abort();
        return Promise.resolve({ value: undefined, done: true });
      },
    };
  }

  // --- internals ----------------------------------------------------------------------------------------------------

  private assertOpen(): void {
    if (this.failure) throw this.failure;
    if (this.ended || this.closing) throw new SpeechProviderError(this.provider, 'unavailable', 'live transcription is closed');
  }

  private emit(event: LiveEvent): void {
    this.options.onEvent?.(event);
    const reader = this.readers.shift();
    if (reader) reader({ value: event, done: false });
    else this.queue.push(event);
  }

  private takeFinals(): Transcript {
    const text = this.finals.join(' ').replace(/\s+/g, ' ').trim();
    const confidence = this.confidences.length ? Math.min(...this.confidences) : undefined;
    this.finals = [];
    this.confidences = [];
    return confidence === undefined ? { text } : { text, confidence };
  }

  private onMessage(message: unknown): void {
    if (this.ended) return;
    const m = message as Record<string, unknown> | null;
    if (typeof message !== 'object' || m === null || typeof m.type !== 'string') {
      this.fail(new SpeechProviderError(this.provider, 'malformed', `message is not a Deepgram message: ${String(typeof message === 'string' ? message : JSON.stringify(message)).slice(0, 80)}`));
      return;
    }
    switch (m.type) {
      case 'Results': {
        const alt = (m.channel as { alternatives?: Array<{ transcript?: unknown; confidence?: unknown }> } | undefined)?.alternatives?.[0];
        if (!alt || typeof alt.transcript !== 'string' || typeof m.start !== 'number' || typeof m.duration !== 'number') {
          this.fail(new SpeechProviderError(this.provider, 'malformed', 'Results message without channel.alternatives[0].transcript'));
          return;
        }
        const requestId = (m.metadata as { request_id?: unknown } | undefined)?.request_id;
        if (typeof requestId === 'string') this.requestId = requestId;
        const isFinal = m.is_final === true;
        const fromFinalize = m.from_finalize === true;
        const confidence = typeof alt.confidence === 'number' ? alt.confidence : 0;
        if (isFinal) {
          this.audioSinceFinal = false;
          if (alt.transcript.trim()) {
            this.finals.push(alt.transcript);
            this.confidences.push(confidence);
          }
        }
        this.emit({
          type: 'transcript',
          text: alt.transcript,
          confidence,
          isFinal,
          speechFinal: m.speech_final === true,
          fromFinalize,
          start: m.start,
          duration: m.duration,
        });
        const waiter = this.finalizeWaiter;
        if (waiter && fromFinalize) this.resolveFinalize();
        else if (waiter && isFinal && !waiter.grace) {
          // A final that was already on its way when Finalize went out; Deepgram may have nothing more to answer.
          waiter.grace = setTimeout(() => this.resolveFinalize(), this.options.finalizeGraceMs ?? 150);
        }
        return;
      }
      case 'SpeechStarted':
        if (typeof m.timestamp !== 'number') return this.fail(new SpeechProviderError(this.provider, 'malformed', 'SpeechStarted without timestamp'));
        this.emit({ type: 'speech-started', timestamp: m.timestamp });
        return;
      case 'UtteranceEnd':
        if (typeof m.last_word_end !== 'number') return this.fail(new SpeechProviderError(this.provider, 'malformed', 'UtteranceEnd without last_word_end'));
        this.emit({ type: 'utterance-end', lastWordEnd: m.last_word_end });
        return;
      case 'Metadata':
        if (typeof m.request_id === 'string') this.requestId = m.request_id;
        this.emit({ type: 'metadata', requestId: String(m.request_id ?? ''), duration: typeof m.duration === 'number' ? m.duration : 0 });
        return;
      default:
        return; // a message type this adapter does not know: ignored (forward compatible)
    }
  }

  private resolveFinalize(): void {
    const w = this.finalizeWaiter;
    if (!w) return;
    this.finalizeWaiter = undefined;
    clearTimeout(w.timer);
    clearTimeout(w.grace);
    w.resolve(this.takeFinals());
  }

  private onClose(code: number, reason: string): void {
    if (this.ended) return;
    if (this.closing && (code === 1000 || code === 1005)) {
      const w = this.closeWaiter;
      this.closeWaiter = undefined;
      if (w) {
        clearTimeout(w.timer);
        w.resolve(this.takeFinals());
      }
      this.settle(new SpeechProviderError(this.provider, 'unavailable', 'live transcription closed'));
      this.end(code, reason);
      return;
    }
    // Closed by Deepgram (or the network) while in use.
    const kind: Kind = code === 1008 ? 'rejected' : 'unavailable';
    this.fail(new SpeechProviderError(this.provider, kind, `WebSocket closed (${code}${reason ? `: ${reason}` : ''})`), code, reason);
  }

  private timeout(what: 'finalize' | 'close'): void {
    this.fail(new SpeechProviderError(this.provider, 'timeout', `no ${what} answer within ${this.options.resultTimeoutMs ?? 2000} ms`));
  }

  /** A failure ends the stream: pending waits reject with it, the iterator gets it as an event, then 'closed'. */
  private fail(error: SpeechProviderError, code = 1006, reason = error.message): void {
    if (this.ended) return;
    this.failure = error;
    this.emit({ type: 'error', error });
    this.settle(error);
    this.end(code, reason);
  }

  private settle(error: SpeechProviderError): void {
    for (const w of [this.finalizeWaiter, this.closeWaiter]) {
      if (!w) continue;
      clearTimeout(w.timer);
      clearTimeout(w.grace);
      w.reject(error);
    }
    this.finalizeWaiter = undefined;
    this.closeWaiter = undefined;
  }

  private end(code: number, reason: string): void {
    if (this.ended) return;
    this.ended = true;
    try {
      this.socket.close();
    } catch {
      /* already closed */
    }
    this.controller.abort();
    this.emit({ type: 'closed', code, reason });
    for (const r of this.readers.splice(0)) r({ value: undefined, done: true });
  }
}
