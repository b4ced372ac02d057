/**
 * A caller that behaves like Twilio's side of a Media Stream: sends `connected` and `start`, then one media
 * frame every 20 ms at real-time pace (silence when not speaking), plays the agent's audio on a virtual
 * playback clock, echoes each `mark` when playback reaches it, and honours `clear`.
 */
import { randomBytes } from 'node:crypto';
import WebSocket from 'ws';
import { bytesForMs, durationMs, silence, toPcm16, isSpeech } from '../../functions/domain/audio';
import { CONNECT_FORMAT_PARAMETER, connectFormatOf, EVENTS_OPT_IN_PARAMETER } from '../../functions/contracts/connect-parameters';
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { DEFAULT_ENDPOINTING } from '../../functions/contracts/turn-policy';

export interface TurnReport {
  turn: number;
  status?: string;
  transcript?: string;
  reply?: string;
  intent?: string;
  /** Client-side: our last speech frame sent → first agent audio received. */
  clientLatencyMs?: number;
  /** Server-side, from the voiceagent.turn event. */
  serverLatencyMs?: number;
  timings?: Record<string, number>;
  /** Answered by preemptive generation, and what each provider took (server-reported). */
  preempted?: boolean;
  providerMs?: { stt?: number; responder?: number; modelFirstToken?: number; ttsFirstByte?: number };
  /** The silence that ended the utterance and what its words sounded like (server-reported, speech turns). */
  endOfTurn?: { silenceMs: number; heard?: 'complete' | 'incomplete' | 'unsure' };
}

export interface CallerOptions {
  readonly url: string;
  readonly format?: AudioFormat;
  readonly frameMs?: number;
  /** Opt in to the voiceagent.* events (transcripts, replies, latencies). */
  readonly events?: boolean;
  readonly customParameters?: Record<string, string>;
  /** Extra headers on the upgrade request (Twilio's X-Twilio-Signature). */
  readonly headers?: Record<string, string>;
  /** The call SID `start` names (Twilio's: the call the stream belongs to); a random one by default. */
  readonly callSid?: string;
}

interface QueuedAudio {
  kind: 'audio' | 'mark';
  bytes?: Uint8Array;
  name?: string;
}

const sid = (prefix: string) => prefix + randomBytes(16).toString('hex');

export class CallerSession {
  readonly format: AudioFormat;
  readonly frameMs: number;
  readonly streamSid = sid('MZ');
  readonly callSid: string;
  readonly turns = new Map<number, TurnReport>();
  readonly received: Uint8Array[] = [];
  readonly errors: string[] = [];
  readonly clears: number[] = [];
  readonly events: Record<string, unknown>[] = [];
  closed = false;
  closeCode?: number;
  /** Largest message the server sent (API Gateway frames are at most 32 KB). */
  largestMessageBytes = 0;

  private ws?: WebSocket;
  private sequence = 0;
  private chunk = 0;
  private streamStart = 0;
  private outgoing: Uint8Array[] = [];
  private playback: QueuedAudio[] = [];
  private playbackBytes = 0;
  private ticker?: NodeJS.Timeout;
  private lastSpeechSentAt = 0;
  private awaitingFirstAudio = false;
  private pendingClientLatency: number[] = [];
  private waiters: (() => void)[] = [];

  constructor(private readonly options: CallerOptions) {
    this.format = options.format ?? { encoding: 'mulaw', sampleRate: 8000 };
    this.callSid = options.callSid ?? sid('CA');
    this.frameMs = options.frameMs ?? 20;
  }

  /** Connects and starts the stream; resolves once the socket is open. Rejects with the HTTP status if refused. */
  async connect(): Promise<void> {
    const ws = new WebSocket(this.connectUrl(), { headers: this.options.headers });
    this.ws = ws;
    await new Promise<void>((resolve, reject) => {
      ws.once('open', () => resolve());
      ws.once('unexpected-response', (_req, res) => reject(Object.assign(new Error(`connect refused: HTTP ${res.statusCode}`), { statusCode: res.statusCode })));
      ws.once('error', reject);
    });
    ws.on('message', (data, isBinary) => this.onMessage(data as Buffer, isBinary));
    ws.on('close', (code) => {
      this.closed = true;
      this.closeCode = code;
      this.stopTicker();
      this.wake();
    });
    this.sendJson({ event: 'connected', protocol: 'Call', version: '1.0.0' });
    const customParameters = { ...this.options.customParameters, ...(this.options.events !== false ? { [EVENTS_OPT_IN_PARAMETER]: 'true' } : {}) };
    this.sendJson({
      event: 'start',
      sequenceNumber: String(++this.sequence),
      streamSid: this.streamSid,
      start: {
        accountSid: 'AC' + '0'.repeat(32),
        streamSid: this.streamSid,
        callSid: this.callSid,
        tracks: ['inbound'],
        customParameters,
        mediaFormat:
          this.format.encoding === 'mulaw'
            ? { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }
            : { encoding: 'audio/l16', sampleRate: 16000, channels: 1 },
      },
    });
    this.streamStart = performance.now();
    this.startTicker();
  }

  /**
   * The URL with the audio format declared (`format=`, docs/PROTOCOL.md), so the agent decodes frames before it has read
   * the call — unless the URL declares one already, or is signed (a Twilio signature covers the URL as given; Twilio's
   * streams are μ-law, and the authorizer says so).
   */
  private connectUrl(): string {
    const url = new URL(this.options.url);
    const signed = Object.keys(this.options.headers ?? {}).some((h) => h.toLowerCase() === 'x-twilio-signature');
    if (signed || url.searchParams.has(CONNECT_FORMAT_PARAMETER)) return this.options.url;
    url.searchParams.set(CONNECT_FORMAT_PARAMETER, connectFormatOf(this.format));
    return url.toString();
  }

  /** Queues an utterance (wire-format audio) to be streamed at real-time pace; resolves when its last frame is sent. */
  async speak(audio: Uint8Array): Promise<void> {
    const frameBytes = bytesForMs(this.frameMs, this.format);
    for (let i = 0; i < audio.byteLength; i += frameBytes) {
      const frame = new Uint8Array(frameBytes);
      frame.set(audio.subarray(i, Math.min(i + frameBytes, audio.byteLength)));
      if (this.format.encoding === 'mulaw' && i + frameBytes > audio.byteLength) frame.fill(0xff, audio.byteLength - i);
      this.outgoing.push(frame);
    }
    await this.until(() => this.outgoing.length === 0 || this.closed);
  }

  /** Waits until the agent has nothing left to play and no audio arrived for `quietMs`. */
  async waitForAgentSilence(quietMs = 600, timeoutMs = 30_000): Promise<void> {
    const deadline = Date.now() + timeoutMs;
    let lastBusy = Date.now();
    await this.until(() => {
      if (this.playback.length > 0 || this.awaitingFirstAudio) lastBusy = Date.now();
      return this.closed || Date.now() - lastBusy >= quietMs || Date.now() > deadline;
    });
  }

  /** Waits for the server's report of a turn (voiceagent.turn) numbered at least `turn`. */
  async waitForTurn(turn: number, timeoutMs = 30_000): Promise<TurnReport | undefined> {
    const deadline = Date.now() + timeoutMs;
    await this.until(() => this.closed || Date.now() > deadline || [...this.turns.values()].some((t) => t.turn >= turn && t.status !== undefined));
    return [...this.turns.values()].filter((t) => t.turn >= turn && t.status !== undefined).sort((a, b) => a.turn - b.turn)[0];
  }

  sendDtmf(digit: string): void {
    this.sendJson({ event: 'dtmf', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, dtmf: { track: 'inbound_track', digit } });
  }

  /** Sends a raw message (for bad-input tests). */
  sendRaw(data: string | Buffer, binary = false): void {
    this.ws?.send(data, { binary });
  }

  /** Sends `stop`. A well-behaved caller stops streaming too; `keepStreaming` models one that does not. */
  async stop(options: { keepStreaming?: boolean } = {}): Promise<void> {
    if (!options.keepStreaming) this.stopTicker();
    if (this.ws && this.ws.readyState === WebSocket.OPEN) {
      this.sendJson({ event: 'stop', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, stop: { accountSid: 'AC' + '0'.repeat(32), callSid: this.callSid } });
    }
  }

  async hangUp(): Promise<void> {
    await this.stop();
    if (!this.ws || this.closed) return;
    this.ws.close(1000);
    // A gateway that never answers the close handshake: drop the socket after a few seconds, as a phone would.
    const ws = this.ws;
    const force = setTimeout(() => ws.terminate(), 5000);
    await this.until(() => this.closed);
    clearTimeout(force);
  }

  /** Everything the agent said, concatenated in wire format. */
  agentAudio(): Uint8Array {
    return Buffer.concat(this.received);
  }

  private sendJson(message: unknown): void {
    if (this.ws?.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
  }

  private startTicker(): void {
    let n = 0;
    const silent = silence(this.frameMs, this.format);
    // The same bytes JSON.stringify would send for { event, sequenceNumber, streamSid, media: { track, chunk,
    // timestamp, payload } } (numbers as strings, base64 and the sid need no escaping), built from a constant prefix
    // and the silent frame's base64 computed once: most frames of a call are silence (tools/cpu-breakdown.ts).
    const head = `{"event":"media","sequenceNumber":"`;
    const middle = `","streamSid":${JSON.stringify(this.streamSid)},"media":{"track":"inbound","chunk":"`;
    const silentBase64 = Buffer.from(silent).toString('base64');
    const tick = () => {
      if (this.closed) return;
      const frame = this.outgoing.shift() ?? silent;
      const speech = frame !== silent && isSpeech(toPcm16(frame, this.format), DEFAULT_ENDPOINTING, this.format.sampleRate);
      const payload = frame === silent ? silentBase64 : Buffer.from(frame).toString('base64');
      const sequence = ++this.sequence;
      const chunk = ++this.chunk;
      if (this.ws?.readyState === WebSocket.OPEN) {
        this.ws.send(`${head}${sequence}${middle}${chunk}","timestamp":"${Math.round(n * this.frameMs)}","payload":"${payload}"}}`);
      }
      if (speech) {
        this.lastSpeechSentAt = performance.now();
        this.awaitingFirstAudio = true;
      }
      this.play(this.frameMs);
      n++;
      this.wake();
      // Absolute schedule: no drift over a long call.
      const next = this.streamStart + n * this.frameMs - performance.now();
      this.ticker = setTimeout(tick, Math.max(0, next));
    };
    this.ticker = setTimeout(tick, 0);
  }

  private stopTicker(): void {
    if (this.ticker) clearTimeout(this.ticker);
    this.ticker = undefined;
  }

  /** Advances the virtual playback clock by `ms`, echoing marks as they are reached (Twilio's behaviour). */
  private play(ms: number): void {
    let budget = bytesForMs(ms, this.format);
    while (this.playback.length > 0) {
      const head = this.playback[0]!;
      if (head.kind === 'mark') {
        this.playback.shift();
        this.sendJson({ event: 'mark', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, mark: { name: head.name } });
        continue;
      }
      if (budget <= 0) break;
      const bytes = head.bytes!;
      if (bytes.byteLength <= budget) {
        budget -= bytes.byteLength;
        this.playbackBytes -= bytes.byteLength;
        this.playback.shift();
      } else {
        head.bytes = bytes.subarray(budget);
        this.playbackBytes -= budget;
        budget = 0;
      }
    }
  }

  private onMessage(data: Buffer, isBinary: boolean): void {
    this.largestMessageBytes = Math.max(this.largestMessageBytes, data.byteLength);
    if (isBinary) {
      this.errors.push('binary message from server');
      return;
    }
    let msg: Record<string, any>;
    try {
      msg = JSON.parse(data.toString('utf8'));
    } catch {
      this.errors.push('non-JSON message from server');
      return;
    }
    switch (msg.event) {
      case 'media': {
        const bytes = Buffer.from(msg.media?.payload ?? '', 'base64');
        if (this.awaitingFirstAudio) {
          this.awaitingFirstAudio = false;
          this.pendingClientLatency.push(performance.now() - this.lastSpeechSentAt);
        }
        this.received.push(bytes);
        this.playback.push({ kind: 'audio', bytes });
        this.playbackBytes += bytes.byteLength;
        break;
      }
      case 'mark':
        this.playback.push({ kind: 'mark', name: msg.mark?.name });
        break;
      case 'clear': {
        // Twilio empties its buffer and sends back the marks that were still pending.
        this.clears.push(performance.now());
        const marks = this.playback.filter((q) => q.kind === 'mark');
        this.playback = [];
        this.playbackBytes = 0;
        for (const m of marks) this.sendJson({ event: 'mark', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, mark: { name: m.name } });
        break;
      }
      case 'voiceagent.transcript':
        this.turn(msg.turn).transcript = msg.text;
        break;
      case 'voiceagent.reply':
        Object.assign(this.turn(msg.turn), { reply: msg.text, intent: msg.intent });
        break;
      case 'voiceagent.turn': {
        const report = this.turn(msg.turn);
        report.status = msg.status;
        report.serverLatencyMs = msg.latencyMs;
        report.timings = msg.timings;
        report.preempted = msg.preempted;
        report.providerMs = msg.providerMs;
        report.endOfTurn = msg.endOfTurn;
        if (msg.timings?.speechEndAt !== undefined) report.clientLatencyMs = this.pendingClientLatency.shift();
        break;
      }
      default:
        this.events.push(msg);
        if (typeof msg.message === 'string') this.errors.push(msg.message);
    }
    this.wake();
  }

  private turn(n: number): TurnReport {
    let report = this.turns.get(n);
    if (!report) {
      report = { turn: n };
      this.turns.set(n, report);
    }
    return report;
  }

  private wake(): void {
    const waiters = this.waiters;
    this.waiters = [];
    for (const w of waiters) w();
  }

  private until(predicate: () => boolean): Promise<void> {
    return new Promise((resolve) => {
      const check = () => (predicate() ? resolve() : this.waiters.push(check));
      check();
    });
  }
}

export function audioDurationMs(audio: Uint8Array, format: AudioFormat): number {
  return durationMs(audio.byteLength, format);
}
