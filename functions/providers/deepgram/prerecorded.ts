/**
 * Deepgram speech-to-text for a turn, pre-recorded: one utterance per POST /v1/listen (`listen.v1.media.transcribeFile`),
 * raw μ-law 8 kHz or linear16 16 kHz (`encoding` + `sample_rate`, no container). One SDK client per adapter, and one
 * adapter per API key per warm environment (functions/providers/keyed.ts): Node's fetch keeps the HTTPS connection
 * alive between turns.
 */
import { DeepgramClient, DeepgramError, DeepgramTimeoutError } from '@deepgram/sdk';
import { SpeechProviderError, type SpeechToText, type TranscribeOptions, type Transcript } from '../../domain/speech';
import { type AudioFormat } from '../../contracts/audio-format';
import { retryAfterMs } from '../retry';
import {
  AttemptError,
  createDeepgramClient,
  DEEPGRAM_STT_NAME,
  describeBody,
  ENCODING,
  resolveOptions,
  statusError,
  withRetries,
  type DeepgramOptions,
  type Resolved,
} from './client';
import { DeepgramLiveTranscriber, type LiveOptions } from './live';

/** The pre-recorded answer's transcript, or 'malformed' when the body is not what the API documents. */
function transcriptOf(provider: string, body: unknown): Transcript {
  // A 2xx body that is not JSON reaches us as the SDK's own { ok: false, error: { reason: 'non-json' } } object.
  if ((body as { error?: { reason?: unknown } } | null)?.error?.reason === 'non-json') {
    throw new AttemptError(new SpeechProviderError(provider, 'malformed', 'response is not JSON'), false);
  }
  const alt = (body as { results?: { channels?: Array<{ alternatives?: Array<{ transcript?: unknown; confidence?: unknown }> }> } } | null)?.results
    ?.channels?.[0]?.alternatives?.[0];
  if (!alt || typeof alt !== 'object' || typeof alt.transcript !== 'string') {
    throw new AttemptError(new SpeechProviderError(provider, 'malformed', 'response has no results.channels[0].alternatives[0].transcript'), false);
  }
  return typeof alt.confidence === 'number' ? { text: alt.transcript, confidence: alt.confidence } : { text: alt.transcript };
}

export class DeepgramSpeechToText implements SpeechToText {
  readonly name = DEEPGRAM_STT_NAME;
  private readonly client: DeepgramClient;
  private readonly cfg: Resolved;

  constructor(private readonly options: DeepgramOptions) {
    this.client = createDeepgramClient(options);
    this.cfg = resolveOptions(options);
  }

  async transcribe(audio: Uint8Array, format: AudioFormat, options: TranscribeOptions = {}): Promise<Transcript> {
    const o = this.options;
    const bytes = Buffer.from(audio.buffer, audio.byteOffset, audio.byteLength);
    return withRetries(this.name, 'prerecorded', this.cfg, o, options.signal, async (signal, timeoutMs, timedOut) => {
      let data: unknown;
      try {
        const response = await this.client.listen.v1.media.transcribeFile(
          bytes,
          {
            model: o.model ?? 'nova-3',
            language: o.language ?? 'en',
            encoding: ENCODING[format.encoding],
            ...(o.punctuate ? { punctuate: true } : {}),
            ...(o.smartFormat ? { smart_format: true } : {}),
            ...(o.keyterms?.length ? { keyterm: [...o.keyterms] } : {}),
          },
          {
            // sample_rate and channels are not in the SDK's typed request for files; they are plain query parameters.
            queryParams: { sample_rate: format.sampleRate, channels: 1 },
            abortSignal: signal,
            timeoutInSeconds: Math.max(0.001, timeoutMs / 1000),
            maxRetries: 0,
          },
        );
        data = response;
      } catch (err) {
        throw this.attemptError(err, timedOut());
      }
      return transcriptOf(this.name, data);
    });
  }

  /** SDK failure → attempt failure. A failure without a status is a network error, or our own abort (timeout). */
  private attemptError(err: unknown, timedOut: boolean): unknown {
    if (timedOut || err instanceof DeepgramTimeoutError) {
      return new AttemptError(new SpeechProviderError(this.name, 'timeout', 'no answer within the attempt timeout', { cause: err }), true);
    }
    if (err instanceof DeepgramError && err.statusCode !== undefined) {
      const e = statusError(this.name, err.statusCode, describeBody(err.body));
      const headers = err.rawResponse?.headers as Headers | undefined;
      return new AttemptError(e.error, e.retryable, e.status, err.statusCode === 429 ? retryAfterMs(headers?.get('retry-after')) : undefined);
    }
    const cause = (err as { cause?: { code?: string; message?: string; cause?: { code?: string } } } | undefined)?.cause;
    const detail = cause?.code ?? cause?.cause?.code ?? cause?.message ?? (err instanceof Error ? err.message : String(err));
    return new AttemptError(new SpeechProviderError(this.name, 'unavailable', `request failed: ${detail}`, { cause: err }), true);
  }

  /** Opens a live transcription over this adapter's client (same key, endpoint, model, retry budget). */
  live(format: AudioFormat, options: LiveOptions = {}): Promise<DeepgramLiveTranscriber> {
    return DeepgramLiveTranscriber.open(this.client, format, { ...this.options, ...options });
  }
}
