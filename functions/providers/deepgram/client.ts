/**
 * What both Deepgram transports share (functions/providers/deepgram/prerecorded.ts, live.ts): the official SDK's
 * client (@deepgram/sdk v5, its own retries off), the options and their defaults, and the attempt budget — each
 * attempt its own timeout, failed attempts retried (429, 5xx, network errors, attempt timeouts) only while a new
 * attempt still fits in the overall deadline; 400/401/403 and malformed answers are final. Product code: no local/
 * imports; the key goes only into the SDK's Authorization header, never into an error message.
 */
import { DeepgramClient } from '@deepgram/sdk';
import { SpeechProviderError } from '../../domain/speech';
import { type AudioFormat } from '../../contracts/audio-format';
import { abortReason, backoffMs, isRetryableStatus, pause } from '../retry';

export const DEEPGRAM_STT_NAME = 'deepgram';

export type Kind = SpeechProviderError['kind'];

/** One retry about to happen (for metrics: count them; never log the audio or the key). */
export interface RetryInfo {
  /** The attempt that failed, from 1. */
  readonly attempt: number;
  readonly kind: Kind;
  /** HTTP status of the failed attempt, when there was one. */
  readonly status?: number;
  /** Wait before the next attempt. */
  readonly delayMs: number;
  readonly mode: 'prerecorded' | 'live';
}

/** How one request went: attempts made (1 + retries), outcome, time spent. */
export interface RequestReport {
  readonly mode: 'prerecorded' | 'live';
  readonly attempts: number;
  readonly retries: number;
  readonly outcome: 'ok' | Kind | 'aborted';
  readonly elapsedMs: number;
}

export interface DeepgramOptions {
  /** From the app secret (deepgramApiKey). */
  readonly apiKey: string;
  /** Unset: Deepgram's own endpoints. Local stand-in: e.g. http://127.0.0.1:8791 (used for HTTP and WebSocket). */
  readonly baseUrl?: string;
  /** Default nova-3. */
  readonly model?: string;
  /** Default en. */
  readonly language?: string;
  /** Punctuation and capitalization (smart_format also formats numbers, dates, …). Default off: the responder reads words. */
  readonly punctuate?: boolean;
  readonly smartFormat?: boolean;
  /** Key term prompting (nova-3): words to favour, e.g. the business's name. */
  readonly keyterms?: readonly string[];
  /** Longest wait for one attempt, body included. Default 2000 ms. */
  readonly attemptTimeoutMs?: number;
  /** Whole-request budget, retries included; past it the request fails with kind 'timeout'. Default 4500 ms. */
  readonly deadlineMs?: number;
  /** Retries after the first attempt (each only if it fits in the deadline). Default 2. */
  readonly maxRetries?: number;
  /** Backoff before retry n: min(maxDelay, baseDelay · 2^(n-1)) with ±20 % jitter; a 429's retry-after raises it up to maxDelay. */
  readonly retryBaseDelayMs?: number;
  readonly retryMaxDelayMs?: number;
  /** An attempt is only started with at least this much of the deadline left. Default 250 ms. */
  readonly minAttemptMs?: number;
  /** Called before each retry. */
  readonly onRetry?: (info: RetryInfo) => void;
  /** Called once per request (transcribe, or opening a live connection). */
  readonly onRequest?: (report: RequestReport) => void;
}

export interface Resolved {
  readonly attemptTimeoutMs: number;
  readonly deadlineMs: number;
  readonly maxRetries: number;
  readonly retryBaseDelayMs: number;
  readonly retryMaxDelayMs: number;
  readonly minAttemptMs: number;
}

export const ENCODING: Record<AudioFormat['encoding'], 'mulaw' | 'linear16'> = { mulaw: 'mulaw', pcm16: 'linear16' };

/** A failure of one attempt, with what the retry policy needs. */
export class AttemptError extends Error {
  constructor(
    readonly error: SpeechProviderError,
    readonly retryable: boolean,
    readonly status?: number,
    readonly retryAfterMs?: number,
  ) {
    super(error.message);
  }
}

/** HTTP status → what it means for the turn: 429 and 5xx (and 408) are worth another attempt, other 4xx are not. */
export function statusError(provider: string, status: number, detail: string): AttemptError {
  const retryable = isRetryableStatus(status);
  const kind: Kind = retryable ? 'unavailable' : 'rejected';
  return new AttemptError(new SpeechProviderError(provider, kind, `HTTP ${status}${detail ? `: ${detail}` : ''}`), retryable, status);
}

/** Deepgram's error body: { err_code, err_msg } (or { category, message }). Never includes the key. */
export function describeBody(body: unknown): string {
  if (typeof body === 'string') return body.slice(0, 200);
  if (typeof body !== 'object' || body === null) return '';
  const b = body as Record<string, unknown>;
  const code = b.err_code ?? b.category;
  const msg = b.err_msg ?? b.message;
  return [code, msg].filter((x) => typeof x === 'string').join(' ');
}


/**
 * Runs `attempt` until it succeeds, a failure is final, the retries are used up, or no further attempt fits in the
 * deadline. Each attempt gets a signal that fires at its own timeout, the deadline, or the caller's abort.
 */
export async function withRetries<T>(
  provider: string,
  mode: 'prerecorded' | 'live',
  cfg: Resolved,
  hooks: Pick<DeepgramOptions, 'onRetry' | 'onRequest'>,
  signal: AbortSignal | undefined,
  attempt: (signal: AbortSignal, timeoutMs: number, timedOut: () => boolean) => Promise<T>,
): Promise<T> {
  signal?.throwIfAborted();
  const started = performance.now();
  const deadline = started + cfg.deadlineMs;
  let attempts = 0;
  const report = (outcome: RequestReport['outcome']) =>
    hooks.onRequest?.({ mode, attempts, retries: Math.max(0, attempts - 1), outcome, elapsedMs: performance.now() - started });
  for (;;) {
    const remaining = deadline - performance.now();
    const timeoutMs = Math.min(cfg.attemptTimeoutMs, remaining);
    attempts++;
    const controller = new AbortController();
    let timedOut = false;
    const timer = setTimeout(() => {
      timedOut = true;
      controller.abort(new Error('attempt timeout'));
    }, timeoutMs);
    const onAbort = () => controller.abort(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let failure: AttemptError;
    try {
      const result = await attempt(controller.signal, timeoutMs, () => timedOut);
      report('ok');
      return result;
    } catch (err) {
      if (signal?.aborted) {
        report('aborted');
        throw abortReason(signal);
      }
      if (err instanceof AttemptError) failure = err;
      else if (timedOut) failure = new AttemptError(new SpeechProviderError(provider, 'timeout', `no answer within ${Math.round(timeoutMs)} ms`, { cause: err }), true);
      else if (err instanceof SpeechProviderError) failure = new AttemptError(err, false);
      else failure = new AttemptError(new SpeechProviderError(provider, 'unavailable', `request failed: ${(err as Error)?.message ?? String(err)}`, { cause: err }), true);
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
    }
    const retry = attempts - 1;
    const backoff = backoffMs(retry, cfg.retryBaseDelayMs, { capMs: cfg.retryMaxDelayMs, jitter: [0.8, 1.2] });
    const delayMs = Math.min(cfg.retryMaxDelayMs, Math.max(backoff, failure.retryAfterMs ?? 0));
    const left = deadline - performance.now() - delayMs;
    if (!failure.retryable || retry >= cfg.maxRetries || left < cfg.minAttemptMs) {
      // Out of budget after a timeout: the request as a whole timed out.
      const final =
        failure.retryable && failure.error.kind === 'timeout' && left < cfg.minAttemptMs
          ? new SpeechProviderError(provider, 'timeout', `no answer in ${attempts} attempts; another would not fit in the ${cfg.deadlineMs} ms deadline`, { cause: failure.error })
          : failure.error;
      report(final.kind);
      throw final;
    }
    hooks.onRetry?.({ attempt: attempts, kind: failure.error.kind, status: failure.status, delayMs, mode });
    try {
      await pause(delayMs, signal);
    } catch (err) {
      report('aborted');
      throw err;
    }
  }
}

export function resolveOptions(o: DeepgramOptions): Resolved {
  return {
    attemptTimeoutMs: o.attemptTimeoutMs ?? 2000,
    deadlineMs: o.deadlineMs ?? 4500,
    maxRetries: o.maxRetries ?? 2,
    retryBaseDelayMs: o.retryBaseDelayMs ?? 50,
    retryMaxDelayMs: o.retryMaxDelayMs ?? 250,
    minAttemptMs: o.minAttemptMs ?? 250,
  };
}

export function createDeepgramClient(options: Pick<DeepgramOptions, 'apiKey' | 'baseUrl'>): DeepgramClient {
  return new DeepgramClient({
    apiKey: options.apiKey,
    ...(options.baseUrl ? { baseUrl: options.baseUrl.replace(/\/+$/, '') } : {}),
    maxRetries: 0,
  });
}
