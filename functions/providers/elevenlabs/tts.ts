/**
 * TextToSpeech on ElevenLabs through the official SDK (@elevenlabs/elevenlabs-js). Product code: no local/ imports.
 *
 * - Two modes, both HTTP: `stream` (POST /v1/text-to-speech/{voice_id}/stream, `textToSpeech.stream`; audio as it is
 *   generated) and `convert` (POST /v1/text-to-speech/{voice_id}, `textToSpeech.convert`; the body comes once the
 *   whole clip exists). The SDK has no client for the stream-input WebSocket (it ships only its message types), so
 *   that mode is not offered.
 * - Output formats map one to one: μ-law 8 kHz → `ulaw_8000`, PCM16 16 kHz → `pcm_16000`; no transcoding here.
 * - The first chunk is yielded the moment it arrives. PCM16 chunks are re-aligned to whole samples (a sample split
 *   across HTTP chunks is carried over), μ-law bytes pass through untouched.
 * - Timeouts: `firstByteTimeoutMs` bounds the time from the call to the first audio byte, retries included;
 *   `idleTimeoutMs` bounds each wait for the next chunk after that (only while we wait on the vendor, not while the
 *   consumer holds a chunk).
 * - Retries: only before the first audio byte (429, 408, 5xx, network), within `maxRetries` and the first-byte
 *   deadline, honouring `Retry-After` up to `maxRetryDelayMs` (a longer one fails fast instead). Never after audio
 *   started: a second request would play the start again. The SDK's own retries are off (maxRetries: 0): they wait
 *   up to a minute on Retry-After and retry on status codes only.
 * - The SDK is loaded on first use (or by `prime()` at init): evaluating it costs ~0.8 s of CPU on this machine, which
 *   functions that never speak should not pay at cold start. Only its TextToSpeechClient is loaded (the class
 *   `ElevenLabsClient#textToSpeech` returns), which leaves out about a fifth of the SDK (other resources, the
 *   WebSocket wrappers).
 * - The API key is passed in (from the app secret) and only ever sent as the `xi-api-key` header; it is never part
 *   of an error message. The SDK's logger stays silent (its default).
 */
import type { TextToSpeechClient } from '@elevenlabs/elevenlabs-js/api/resources/textToSpeech/client/Client.js';
import { sampleAligner } from '../../domain/audio';
import { SpeechProviderError, type SynthesizeOptions, type TextToSpeech } from '../../domain/speech';
import { type AudioFormat } from '../../contracts/audio-format';
import { backoffMs, isRetryableStatus, pause, retryAfterMs } from '../retry';

export const ELEVENLABS_TTS_NAME = 'elevenlabs';
export const DEFAULT_ELEVENLABS_MODEL_ID = 'eleven_flash_v2_5';

export type ElevenLabsOutputFormat = 'ulaw_8000' | 'pcm_16000';

export interface ElevenLabsRetryEvent {
  /** 1 for the first retry. */
  readonly attempt: number;
  readonly delayMs: number;
  /** HTTP status of the failed attempt; absent for a network failure. */
  readonly status?: number;
  readonly reason: string;
}

export interface ElevenLabsTtsOptions {
  /** From the app secret. Never logged. */
  readonly apiKey: string;
  readonly voiceId: string;
  /** Default `eleven_flash_v2_5` (ElevenLabs' low-latency model). */
  readonly modelId?: string;
  /** The API origin; default the SDK's (https://api.elevenlabs.io). The local stand-in's URL on the local stack. */
  readonly baseUrl?: string;
  /** `stream` (default) or `convert` (whole clip in one response). */
  readonly mode?: 'stream' | 'convert';
  /** From the call to the first audio byte, retries and their waits included. Default 2000. */
  readonly firstByteTimeoutMs?: number;
  /** Longest wait for the next chunk once audio started. Default 1500. */
  readonly idleTimeoutMs?: number;
  /** Retries before the first byte (429, 408, 5xx, network). Default 2. */
  readonly maxRetries?: number;
  /** Backoff: base × 2^(attempt-1), +0–20 % jitter. Default 100. */
  readonly retryBaseDelayMs?: number;
  /** A wait longer than this (e.g. a `Retry-After: 5`) is not worth it: fail now, the turn falls back. Default 1000. */
  readonly maxRetryDelayMs?: number;
  /** ElevenLabs' `optimize_streaming_latency` (0–4); unset leaves the API default. */
  readonly optimizeStreamingLatency?: 0 | 1 | 2 | 3 | 4;
  readonly voiceSettings?: {
    readonly stability?: number;
    readonly similarityBoost?: number;
    readonly style?: number;
    readonly speed?: number;
    readonly useSpeakerBoost?: boolean;
  };
  /** Called before each retry (e.g. to count a metric). Must not throw. */
  readonly onRetry?: (event: ElevenLabsRetryEvent) => void;
}

type ClientModule = typeof import('@elevenlabs/elevenlabs-js/api/resources/textToSpeech/client/Client.js');
let sdk: Promise<ClientModule> | undefined;
/** One evaluation of the SDK per environment, on first use. */
function loadSdk(): Promise<ClientModule> {
  sdk ??= import('@elevenlabs/elevenlabs-js/api/resources/textToSpeech/client/Client.js').catch((e: unknown) => {
    sdk = undefined;
    throw e;
  });
  return sdk;
}

export function outputFormatOf(format: AudioFormat): ElevenLabsOutputFormat {
  if (format.encoding === 'mulaw' && format.sampleRate === 8000) return 'ulaw_8000';
  if (format.encoding === 'pcm16' && format.sampleRate === 16000) return 'pcm_16000';
  throw new SpeechProviderError(
    ELEVENLABS_TTS_NAME,
    'rejected',
    `unsupported audio format ${format.encoding}/${format.sampleRate}: ElevenLabs is used with mulaw/8000 (ulaw_8000) or pcm16/16000 (pcm_16000)`,
  );
}

/** A failure classified: what the caller sees, and whether another attempt could succeed. */
interface Classified {
  readonly error: unknown;
  readonly retryable: boolean;
  readonly status?: number;
  readonly retryAfterMs?: number;
}

interface SdkErrorLike {
  readonly name?: string;
  readonly message?: string;
  readonly statusCode?: number;
  readonly body?: unknown;
  readonly rawResponse?: { readonly headers?: { get(name: string): string | null } };
  readonly cause?: unknown;
}

const noop = (): void => undefined;

export class ElevenLabsTextToSpeech implements TextToSpeech {
  readonly name = ELEVENLABS_TTS_NAME;
  private client?: TextToSpeechClient;
  private readonly firstByteTimeoutMs: number;
  private readonly idleTimeoutMs: number;
  private readonly maxRetries: number;
  private readonly retryBaseDelayMs: number;
  private readonly maxRetryDelayMs: number;

  constructor(private readonly options: ElevenLabsTtsOptions) {
    if (!options.voiceId) throw new Error('ElevenLabsTextToSpeech: voiceId is required');
    this.firstByteTimeoutMs = options.firstByteTimeoutMs ?? 2000;
    this.idleTimeoutMs = options.idleTimeoutMs ?? 1500;
    this.maxRetries = options.maxRetries ?? 2;
    this.retryBaseDelayMs = options.retryBaseDelayMs ?? 100;
    this.maxRetryDelayMs = options.maxRetryDelayMs ?? 1000;
  }

  /** Loads the SDK and builds the client (no request). Call during init so the first turn does not pay for it. */
  async prime(): Promise<void> {
    await this.getClient();
  }

  private async getClient(): Promise<TextToSpeechClient> {
    if (this.client) return this.client;
    const { TextToSpeechClient } = await loadSdk();
    this.client ??= new TextToSpeechClient({
      apiKey: this.options.apiKey,
      ...(this.options.baseUrl ? { baseUrl: this.options.baseUrl } : {}),
      maxRetries: 0,
    });
    return this.client;
  }

  async *synthesize(text: string, format: AudioFormat, options: SynthesizeOptions = {}): AsyncIterable<Uint8Array> {
    const outputFormat = outputFormatOf(format);
    const callerSignal = options.signal;
    callerSignal?.throwIfAborted();
    if (!this.options.apiKey) throw new SpeechProviderError(this.name, 'rejected', 'no ElevenLabs API key configured');
    if (text.trim().length === 0) throw new SpeechProviderError(this.name, 'rejected', 'nothing to say (empty text)');
    const client = await this.getClient(); // loads the SDK on first use unless prime() did
    const deadline = Date.now() + this.firstByteTimeoutMs;
    const request = {
      text,
      outputFormat,
      modelId: this.options.modelId ?? DEFAULT_ELEVENLABS_MODEL_ID,
      ...(this.options.optimizeStreamingLatency !== undefined ? { optimizeStreamingLatency: this.options.optimizeStreamingLatency } : {}),
      ...(this.options.voiceSettings ? { voiceSettings: { ...this.options.voiceSettings } } : {}),
    };

    // Phase 1: until the first audio byte. Any failure here may be retried: nothing has been played.
    let attempt = 0;
    let opened: { reader: ReadableStreamDefaultReader<Uint8Array>; first: Uint8Array; abort: AbortController };
    for (;;) {
      const abort = new AbortController();
      let timedOut = false;
      const timer = setTimeout(() => {
        timedOut = true;
        abort.abort();
      }, Math.max(0, deadline - Date.now()));
      const signal = callerSignal ? AbortSignal.any([callerSignal, abort.signal]) : abort.signal;
      let body: ReadableStream<Uint8Array> | undefined;
      let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
      try {
        const requestOptions = {
          abortSignal: signal,
          maxRetries: 0,
          // The SDK's own deadline, a backstop: ours fires first.
          timeoutInSeconds: this.firstByteTimeoutMs / 1000 + 1,
        };
        const call =
          this.options.mode === 'convert'
            ? client.convert(this.options.voiceId, request, requestOptions)
            : client.stream(this.options.voiceId, request, requestOptions);
        const { data, rawResponse } = await call.withRawResponse();
        body = data;
        const contentType = rawResponse.headers.get('content-type');
        if (!isAudioContentType(contentType)) {
          throw new SpeechProviderError(this.name, 'malformed', `expected audio, got content-type ${contentType ?? '(none)'}`);
        }
        reader = data.getReader();
        const r = await reader.read();
        if (r.done || r.value.byteLength === 0) {
          throw new SpeechProviderError(this.name, 'malformed', 'the response has no audio');
        }
        clearTimeout(timer);
        opened = { reader, first: r.value, abort };
        break;
      } catch (e) {
        clearTimeout(timer);
        abort.abort();
        if (reader) reader.cancel().catch(noop);
        else if (body) body.cancel().catch(noop);
        const c = this.classify(e, { timedOut, callerSignal, phase: 'first-byte' });
        if (!c.retryable || attempt >= this.maxRetries) throw c.error;
        const delayMs = this.retryDelay(attempt, c.retryAfterMs);
        if (delayMs > this.maxRetryDelayMs || Date.now() + delayMs >= deadline) throw c.error;
        attempt++;
        try {
          this.options.onRetry?.({
            attempt,
            delayMs: Math.round(delayMs),
            ...(c.status !== undefined ? { status: c.status } : {}),
            reason: (c.error as Error).message,
          });
        } catch {
          /* a metrics hook must not break synthesis */
        }
        await pause(delayMs, callerSignal);
      }
    }

    // Phase 2: audio is flowing. No retry from here on; the idle timer runs only while we wait on the vendor.
    const { reader, abort } = opened;
    const aligner = sampleAligner(format); // a PCM16 sample may be split across chunks
    let idleTimer: ReturnType<typeof setTimeout> | undefined;
    let idleFired = false;
    let finished = false;
    let received = opened.first.byteLength;
    try {
      let chunk: Uint8Array = opened.first;
      for (;;) {
        const bytes = aligner.push(chunk);
        if (bytes.byteLength > 0) yield bytes;
        idleTimer = setTimeout(() => {
          idleFired = true;
          abort.abort();
        }, this.idleTimeoutMs);
        let r: ReadableStreamReadResult<Uint8Array>;
        try {
          r = await reader.read();
        } catch (e) {
          throw this.classify(e, { timedOut: idleFired, callerSignal, phase: 'streaming', received }).error;
        } finally {
          clearTimeout(idleTimer);
        }
        if (r.done) break;
        received += r.value.byteLength;
        chunk = r.value;
      }
      finished = true;
      if (aligner.pending) throw new SpeechProviderError(this.name, 'malformed', 'PCM16 stream ended mid-sample');
    } finally {
      clearTimeout(idleTimer);
      if (!finished) {
        // The consumer stopped early, or a failure: drop the response (and its connection).
        reader.cancel().catch(noop);
        abort.abort();
      }
    }
  }

  private retryDelay(attempt: number, serverAskedMs: number | undefined): number {
    return Math.max(backoffMs(attempt, this.retryBaseDelayMs, { jitter: [1, 1.2] }), serverAskedMs ?? 0);
  }

  private classify(
    e: unknown,
    ctx: { timedOut: boolean; callerSignal: AbortSignal | undefined; phase: 'first-byte' | 'streaming'; received?: number },
  ): Classified {
    if (ctx.callerSignal?.aborted) return { error: ctx.callerSignal.reason, retryable: false };
    if (ctx.timedOut) {
      const message =
        ctx.phase === 'first-byte'
          ? `no audio within ${this.firstByteTimeoutMs} ms`
          : `audio stalled: nothing for ${this.idleTimeoutMs} ms after ${ctx.received ?? 0} bytes`;
      return { error: new SpeechProviderError(this.name, 'timeout', message, { cause: e }), retryable: false };
    }
    if (e instanceof SpeechProviderError) return { error: e, retryable: false };
    const err = (e ?? {}) as SdkErrorLike;
    if (err.name === 'ElevenLabsTimeoutError') {
      return { error: new SpeechProviderError(this.name, 'timeout', 'the SDK request timed out', { cause: e }), retryable: false };
    }
    if (typeof err.statusCode === 'number') {
      const status = err.statusCode;
      const detail = describeErrorBody(err.body);
      const message = `HTTP ${status}${detail ? `: ${detail}` : ''}`;
      if (isRetryableStatus(status)) {
        return {
          error: new SpeechProviderError(this.name, 'unavailable', message, { cause: e }),
          retryable: ctx.phase === 'first-byte',
          status,
          retryAfterMs: retryAfterMs(err.rawResponse?.headers?.get('retry-after')),
        };
      }
      // 400, 401, 403, 404 (unknown voice), 422 (validation), quota errors: asking again will not help.
      return { error: new SpeechProviderError(this.name, 'rejected', message, { cause: e }), retryable: false, status };
    }
    // No status: the connection failed or broke (refused, reset, closed mid-body).
    const detail = networkDetail(e);
    const message =
      ctx.phase === 'first-byte' ? `request failed: ${detail}` : `audio stream broke after ${ctx.received ?? 0} bytes: ${detail}`;
    return { error: new SpeechProviderError(this.name, 'unavailable', message, { cause: e }), retryable: ctx.phase === 'first-byte' };
  }
}

/** Raw audio comes as audio/* (or a generic octet stream); JSON, HTML or text on a 200 is not audio. */
function isAudioContentType(contentType: string | null): boolean {
  if (contentType === null) return true;
  const type = contentType.split(';')[0]!.trim().toLowerCase();
  return type.startsWith('audio/') || type === 'application/octet-stream';
}

/** ElevenLabs' error bodies: `{"detail": {"status", "message"}}`, or FastAPI's `{"detail": [{loc, msg, type}]}` on 422. */
function describeErrorBody(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 200);
  const detail = (body as { detail?: unknown } | undefined)?.detail;
  if (typeof detail === 'string') return detail.slice(0, 200);
  if (Array.isArray(detail)) {
    return detail
      .slice(0, 3)
      .map((d: { loc?: unknown; msg?: unknown }) => `${Array.isArray(d.loc) ? d.loc.join('.') : '?'}: ${String(d.msg ?? '')}`)
      .join('; ')
      .slice(0, 200);
  }
  if (detail && typeof detail === 'object') {
    const { status, message } = detail as { status?: unknown; message?: unknown };
    return [status, message].filter((x) => typeof x === 'string').join(': ').slice(0, 200);
  }
  return '';
}

function networkDetail(e: unknown): string {
  let cur: unknown = e;
  // The SDK wraps fetch's TypeError ("fetch failed"), which wraps the socket error that says what happened.
  for (let depth = 0; depth < 4 && cur; depth++) {
    const c = cur as { code?: unknown; cause?: unknown };
    if (typeof c.code === 'string') return c.code;
    if (!c.cause) break;
    cur = c.cause;
  }
  return e instanceof Error ? e.message : String(e);
}
