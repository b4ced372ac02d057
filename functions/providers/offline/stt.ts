/**
 * SpeechToText over the local speech server's HTTP API (POST /v1/transcribe). Product code: no local/ imports.
 * Node's global fetch pools keep-alive connections per origin, so consecutive turns reuse one connection.
 */
import { SpeechProviderError, type SpeechToText, type TranscribeOptions, type Transcript } from '../../domain/speech';
import { type AudioFormat } from '../../contracts/audio-format';

export interface OfflineSpeechOptions {
  /** e.g. http://127.0.0.1:8790 */
  readonly baseUrl: string;
  /** Whole-request budget; past it the call fails with kind 'timeout'. */
  readonly timeoutMs: number;
}

export const OFFLINE_STT_NAME = 'offline-pocketsphinx';

/** Shared by both offline adapters: fetch with a timeout and the caller's signal, failures mapped. */
export async function offlineFetch(
  provider: string,
  url: URL,
  init: RequestInit,
  timeoutMs: number,
  signal: AbortSignal | undefined,
): Promise<{ response: Response; timeout: AbortSignal }> {
  signal?.throwIfAborted();
  const timeout = AbortSignal.timeout(timeoutMs);
  const combined = signal ? AbortSignal.any([signal, timeout]) : timeout;
  let response: Response;
  try {
    response = await fetch(url, { ...init, signal: combined });
  } catch (e) {
    throw mapFetchError(provider, e, timeout, signal, timeoutMs);
  }
  if (!response.ok) {
    let reason = '';
    try {
      const body = (await response.json()) as { error?: unknown };
      reason = typeof body.error === 'string' ? body.error : '';
    } catch {
      /* not JSON */
    }
    const kind = response.status >= 500 || response.status === 429 ? 'unavailable' : 'rejected';
    throw new SpeechProviderError(provider, kind, `HTTP ${response.status}${reason ? `: ${reason}` : ''}`);
  }
  return { response, timeout };
}

/** Caller abort → the caller's reason (not a provider failure); our timeout → 'timeout'; else 'unavailable'. */
export function mapFetchError(
  provider: string,
  e: unknown,
  timeout: AbortSignal,
  signal: AbortSignal | undefined,
  timeoutMs: number,
): unknown {
  if (e instanceof SpeechProviderError) return e;
  if (signal?.aborted) return signal.reason;
  if (timeout.aborted) return new SpeechProviderError(provider, 'timeout', `no answer within ${timeoutMs} ms`, { cause: e });
  const cause = (e as { cause?: { code?: string; message?: string } } | undefined)?.cause;
  const detail = cause?.code ?? cause?.message ?? (e instanceof Error ? e.message : String(e));
  return new SpeechProviderError(provider, 'unavailable', `request failed: ${detail}`, { cause: e });
}

export class OfflineSpeechToText implements SpeechToText {
  readonly name = OFFLINE_STT_NAME;
  private readonly endpoint: URL;

  constructor(private readonly options: OfflineSpeechOptions) {
    this.endpoint = new URL('/v1/transcribe', options.baseUrl);
  }

  async transcribe(audio: Uint8Array, format: AudioFormat, options: TranscribeOptions = {}): Promise<Transcript> {
    const url = new URL(this.endpoint);
    url.searchParams.set('encoding', format.encoding);
    url.searchParams.set('sample_rate', String(format.sampleRate));
    if (options.context) url.searchParams.set('context', options.context);
    const { response, timeout } = await offlineFetch(
      this.name,
      url,
      {
        method: 'POST',
        headers: { 'content-type': 'application/octet-stream' },
        body: audio as Uint8Array<ArrayBuffer>,
      },
      this.options.timeoutMs,
      options.signal,
    );
    let body: unknown;
    try {
      body = await response.json();
    } catch (e) {
      if ((e as Error | undefined)?.name === 'SyntaxError') {
        throw new SpeechProviderError(this.name, 'malformed', 'response is not JSON', { cause: e });
      }
      throw mapFetchError(this.name, e, timeout, options.signal, this.options.timeoutMs);
    }
    const b = body as { text?: unknown; confidence?: unknown };
    if (typeof b !== 'object' || b === null || typeof b.text !== 'string') {
      throw new SpeechProviderError(this.name, 'malformed', 'response has no text');
    }
    return typeof b.confidence === 'number' ? { text: b.text, confidence: b.confidence } : { text: b.text };
  }
}
