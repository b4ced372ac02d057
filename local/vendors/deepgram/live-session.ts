/**
 * One live transcription socket (`GET /v1/listen` upgraded): audio in, Results / SpeechStarted / UtteranceEnd /
 * Metadata out, in order, with Deepgram's endpointing, interim results and idle timeout.
 */
import { createHash } from 'node:crypto';
import type { RawData, WebSocket } from 'ws';
import { sleep, type Fault } from '../behaviour';
import { decodeWire, type Recognition, type WireEncoding } from '../known-utterances';
import { MIN_ENDPOINT_MS, modelInfo, punctuated, round, SPEECH_DBFS, wordsOf, type ListenParams } from './protocol';

/** What a live session asks of its server: recognition, the latency model, and which malformed variant to send. */
export interface LiveBackend {
  recognize(audio: Uint8Array, format: { encoding: WireEncoding; sampleRate: number }): Promise<Recognition>;
  partial(audio: Uint8Array, format: { encoding: WireEncoding; sampleRate: number }): Recognition | undefined;
  drawLatency(): number;
  nextMalformed(): number;
}

export interface LiveSessionOptions {
  /** Close 1011 (NET-0001) after this long without audio or KeepAlive. Deepgram: 10 s. */
  readonly idleTimeoutMs?: number;
  /** An interim result per this much audio received while speech goes on. */
  readonly interimEveryMs?: number;
}

/**
 * One live connection. Audio is cut into 10 ms frames as it arrives; an energy VAD finds speech. A segment runs from
 * the end of the previous final result to the next endpoint (silence ≥ endpointing), Finalize or CloseStream; its
 * final result is the recognition of the segment's audio, sent `sttAfterAudio` after that moment. Every message goes
 * through one ordered outbox, so results never overtake each other.
 */
export class LiveSession {
  private readonly format: { encoding: WireEncoding; sampleRate: number };
  private readonly bytesPerSample: number;
  private readonly frameBytes: number;
  private readonly info: ReturnType<typeof modelInfo>;
  private readonly created = new Date().toISOString();
  private readonly hash = createHash('sha256');
  /** Malformed fault: which kind of bad message this connection sends (alternating between connections). */
  private readonly malformedVariant: number;
  private outbox: Promise<void> = Promise.resolve();
  private idleTimer?: NodeJS.Timeout;
  private closed = false;
  private closing = false;

  /** Bytes received so far (the stream position), where the current segment starts, and its audio. */
  private received = 0;
  private segmentStartByte = 0;
  private segment: Buffer[] = [];
  private vadCarry = Buffer.alloc(0);
  private vadBytes = 0;
  /** Stream positions (s) of the current segment's speech; undefined while it has none. */
  private speechStartS?: number;
  private lastSpeechS?: number;
  private lastInterimByte = 0;
  /**
   * UtteranceEnd: where the last finalized segment's speech ended (VAD, stream time: known at once, so the gap is
   * measured in stream time however the audio arrives) and its recognition (whether it had words, and their end).
   */
  private lastWordEndS?: number;
  private lastFinal?: { readonly start: number; readonly recognition: Promise<Recognition | undefined> };
  private speechStartedSent = false;

  constructor(
    private readonly server: LiveBackend,
    private readonly ws: WebSocket,
    private readonly params: ListenParams,
    private readonly requestId: string,
    private readonly fault: Fault | undefined,
    private readonly options: LiveSessionOptions,
  ) {
    this.format = params.raw!;
    this.bytesPerSample = this.format.encoding === 'pcm16' ? 2 : 1;
    this.frameBytes = (this.format.sampleRate / 100) * this.bytesPerSample;
    this.info = modelInfo(params.model);
    this.malformedVariant = fault === 'malformed' ? server.nextMalformed() : 0;
    ws.on('message', (data, isBinary) => this.onMessage(data, isBinary));
    ws.on('close', () => this.dispose());
    ws.on('error', () => this.dispose());
    if (fault !== 'stall') this.touch();
  }

  terminate(): void {
    this.dispose();
    this.ws.terminate();
  }

  private dispose(): void {
    this.closed = true;
    clearTimeout(this.idleTimer);
  }

  /** Deepgram closes a connection that received neither audio nor KeepAlive for 10 s. */
  private touch(): void {
    clearTimeout(this.idleTimer);
    this.idleTimer = setTimeout(
      () => this.closeWith(1011, 'NET-0001: Deepgram did not receive audio data or a text message within the timeout window.'),
      this.options.idleTimeoutMs ?? 10_000,
    );
    this.idleTimer.unref();
  }

  private closeWith(code: number, reason: string): void {
    if (this.closed) return;
    this.dispose();
    this.ws.close(code, reason);
  }

  private onMessage(data: RawData, isBinary: boolean): void {
    if (this.closed || this.fault === 'stall') return; // stall: the connection is up, nothing comes back
    const buf = Array.isArray(data) ? Buffer.concat(data) : Buffer.isBuffer(data) ? data : Buffer.from(data);
    if (isBinary) {
      if (this.closing) return;
      if (this.fault === 'drop') {
        this.terminate(); // the TCP connection is destroyed mid-stream: no close frame
        return;
      }
      this.touch();
      if (buf.length > 0) this.audio(buf);
      return;
    }
    let msg: { type?: unknown } | null;
    try {
      msg = JSON.parse(buf.toString('utf8')) as { type?: unknown } | null;
    } catch {
      this.closeWith(1008, 'DATA-0000: The payload cannot be decoded as audio or a valid control message.');
      return;
    }
    switch (msg?.type) {
      case 'KeepAlive':
        this.touch();
        return;
      case 'Finalize':
        this.touch();
        // Deepgram answers with from_finalize when it has audio buffered since the last final result.
        if (this.received > this.segmentStartByte) this.finalizeSegment({ speechFinal: false, fromFinalize: true });
        return;
      case 'CloseStream':
        if (this.closing) return;
        this.closing = true;
        clearTimeout(this.idleTimer);
        if (this.received > this.segmentStartByte) this.finalizeSegment({ speechFinal: false, fromFinalize: false });
        this.enqueue(() => {
          this.send({
            type: 'Metadata',
            transaction_key: 'deprecated',
            request_id: this.requestId,
            sha256: this.hash.digest('hex'),
            created: this.created,
            duration: round(this.secondsAt(this.received), 6),
            channels: 1,
          });
          this.closeWith(1000, '');
        });
        return;
      default:
        this.closeWith(1008, `DATA-0000: unknown control message type '${String(msg?.type)}'`);
    }
  }

  private audio(buf: Buffer): void {
    this.segment.push(buf);
    this.received += buf.length;
    this.hash.update(buf);
    // VAD over whole 10 ms frames.
    let pending = this.vadCarry.length ? Buffer.concat([this.vadCarry, buf]) : buf;
    while (pending.length >= this.frameBytes) {
      const frame = pending.subarray(0, this.frameBytes);
      pending = pending.subarray(this.frameBytes);
      this.vadBytes += this.frameBytes;
      this.frame(frame);
      if (this.closed) return;
    }
    this.vadCarry = Buffer.from(pending);
  }

  private secondsAt(byte: number): number {
    return byte / this.bytesPerSample / this.format.sampleRate;
  }

  private frame(frame: Buffer): void {
    const samples = decodeWire(frame, this.format.encoding);
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i]! * samples[i]!;
    const dbfs = sum === 0 ? -Infinity : 10 * Math.log10(sum / samples.length / (32768 * 32768));
    const endS = this.secondsAt(this.vadBytes);
    if (dbfs > SPEECH_DBFS) {
      if (this.speechStartS === undefined) {
        this.speechStartS = endS - 0.01;
        this.lastInterimByte = this.vadBytes;
        if (this.params.vadEvents && !this.speechStartedSent) {
          this.speechStartedSent = true;
          const timestamp = round(this.speechStartS);
          this.enqueue(() => this.send({ type: 'SpeechStarted', channel: [0, 1], timestamp }));
        }
      }
      this.lastSpeechS = endS;
      this.lastWordEndS = undefined; // speech again: no UtteranceEnd for the earlier words yet
      const every = ((this.options.interimEveryMs ?? 500) / 1000) * this.format.sampleRate * this.bytesPerSample;
      if (this.params.interimResults && this.vadBytes - this.lastInterimByte >= every) {
        this.lastInterimByte = this.vadBytes;
        this.interim();
      }
      return;
    }
    // Silence.
    if (this.lastSpeechS !== undefined && this.params.endpointing !== false) {
      const silenceMs = (endS - this.lastSpeechS) * 1000;
      if (silenceMs >= Math.max(this.params.endpointing, MIN_ENDPOINT_MS)) this.finalizeSegment({ speechFinal: true, fromFinalize: false });
    }
    if (this.lastWordEndS !== undefined && this.params.utteranceEndMs !== undefined && this.params.interimResults) {
      if ((endS - this.lastWordEndS) * 1000 >= this.params.utteranceEndMs) {
        this.lastWordEndS = undefined;
        const final = this.lastFinal;
        // Queued after that segment's final result; sent only if it had words (Deepgram's gap follows the last word).
        this.enqueue(async () => {
          const r = await final?.recognition;
          if (final && r?.transcript) this.send({ type: 'UtteranceEnd', channel: [0, 1], last_word_end: round(final.start + r.endS) });
        });
      }
    }
  }

  private segmentAudio(): Buffer {
    if (this.segment.length !== 1) this.segment = [Buffer.concat(this.segment)];
    return this.segment[0]!;
  }

  private interim(): void {
    const guess = this.server.partial(this.segmentAudio(), this.format);
    if (!guess) return;
    const start = this.secondsAt(this.segmentStartByte);
    const duration = this.secondsAt(this.received) - start;
    this.enqueue(() => this.send(this.results(guess, start, duration, { isFinal: false, speechFinal: false, fromFinalize: false })));
  }

  /** Closes the current segment: its final result is recognized and sent after the latency model's delay. */
  private finalizeSegment(flags: { speechFinal: boolean; fromFinalize: boolean }): void {
    const audio = this.segmentAudio();
    const start = this.secondsAt(this.segmentStartByte);
    const duration = this.secondsAt(this.received) - start;
    const hadSpeech = this.speechStartS !== undefined;
    if (hadSpeech) this.lastWordEndS = this.lastSpeechS;
    this.segment = [];
    this.segmentStartByte = this.received;
    this.speechStartS = undefined;
    this.lastSpeechS = undefined;
    this.speechStartedSent = false; // the next speech after this segment is a new start
    const decidedAt = performance.now();
    const delay = this.server.drawLatency();
    const recognized = hadSpeech ? this.server.recognize(audio, this.format).catch(() => undefined) : Promise.resolve(undefined);
    if (hadSpeech) this.lastFinal = { start, recognition: recognized };
    this.enqueue(async () => {
      const r = await recognized;
      const wait = delay - (performance.now() - decidedAt);
      if (wait > 0) await sleep(wait);
      const recognition: Recognition = r ?? { transcript: '', confidence: 0, startS: 0, endS: 0, source: 'none' };
      this.send(this.results(recognition, start, duration, { isFinal: true, ...flags }));
    });
  }

  private results(
    r: Recognition,
    startS: number,
    durationS: number,
    flags: { isFinal: boolean; speechFinal: boolean; fromFinalize: boolean },
  ): Record<string, unknown> {
    const transcript = this.params.punctuate ? punctuated(r.transcript) : r.transcript;
    return {
      type: 'Results',
      channel_index: [0, 1],
      duration: round(durationS),
      start: round(startS),
      is_final: flags.isFinal,
      speech_final: flags.speechFinal,
      channel: {
        alternatives: [
          { transcript, confidence: r.confidence, words: wordsOf(r.transcript, startS + r.startS, startS + r.endS, r.confidence, this.params.punctuate) },
        ],
      },
      metadata: { request_id: this.requestId, model_info: { name: this.info.name, version: this.info.version, arch: this.info.arch }, model_uuid: this.info.uuid },
      from_finalize: flags.fromFinalize,
    };
  }

  private enqueue(task: () => void | Promise<void>): void {
    this.outbox = this.outbox.then(task).catch(() => undefined);
  }

  private send(message: Record<string, unknown>): void {
    if (this.closed || this.ws.readyState !== this.ws.OPEN) return;
    if (this.fault === 'malformed') {
      // Per connection, alternately: a frame that is not JSON, and JSON that is not the documented shape.
      this.ws.send(
        this.malformedVariant % 2 === 0
          ? `upstream error: ${String(message.type)}`
          : JSON.stringify({ type: message.type, channel: 'unavailable', is_final: 'yes' }),
      );
      return;
    }
    this.ws.send(JSON.stringify(message));
  }
}
