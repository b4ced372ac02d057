/**
 * TextToSpeech over the local speech server's HTTP API (POST /v1/synthesize, chunked raw audio).
 * Product code: no local/ imports. `timeoutMs` bounds the wait for the response and for each following chunk.
 */
import { sampleAligner } from '../../domain/audio';
import { SpeechProviderError, type SynthesizeOptions, type TextToSpeech } from '../../domain/speech';
import { type AudioFormat } from '../../contracts/audio-format';
import { mapFetchError, offlineFetch, type OfflineSpeechOptions } from './stt';

export const OFFLINE_TTS_NAME = 'offline-flite';

export class OfflineTextToSpeech implements TextToSpeech {
  readonly name = OFFLINE_TTS_NAME;
  private readonly endpoint: URL;

  constructor(
    private readonly options: OfflineSpeechOptions & { readonly voice?: 'rms' | 'slt' | 'awb' | 'kal16' },
  ) {
    this.endpoint = new URL('/v1/synthesize', options.baseUrl);
  }

  async *synthesize(text: string, format: AudioFormat, options: SynthesizeOptions = {}): AsyncIterable<Uint8Array> {
    const { timeoutMs } = this.options;
    // An idle timer (restarted per chunk) rather than one deadline for the whole stream.
    const idle = new AbortController();
    let timer = setTimeout(() => idle.abort(), timeoutMs);
    const signal = options.signal ? AbortSignal.any([options.signal, idle.signal]) : idle.signal;
    const body = JSON.stringify({
      text,
      encoding: format.encoding,
      sample_rate: format.sampleRate,
      ...(this.options.voice ? { voice: this.options.voice } : {}),
    });
    let reader: ReadableStreamDefaultReader<Uint8Array> | undefined;
    try {
      let response: Response;
      try {
        ({ response } = await offlineFetch(
          this.name,
          this.endpoint,
          { method: 'POST', headers: { 'content-type': 'application/json' }, body },
          // offlineFetch's own deadline is a backstop; the idle timer fires first.
          timeoutMs + 1000,
          signal,
        ));
      } catch (e) {
        throw this.mapError(e, idle.signal, options.signal);
      }
      if (!response.body) throw new SpeechProviderError(this.name, 'malformed', 'response has no body');
      reader = response.body.getReader();
      const aligner = sampleAligner(format); // a PCM16 sample may be split across chunks
      for (;;) {
        let chunk: ReadableStreamReadResult<Uint8Array>;
        try {
          chunk = await reader.read();
        } catch (e) {
          throw this.mapError(e, idle.signal, options.signal);
        }
        if (chunk.done) break;
        clearTimeout(timer);
        timer = setTimeout(() => idle.abort(), timeoutMs);
        const bytes = aligner.push(chunk.value);
        if (bytes.length > 0) yield bytes;
      }
      if (aligner.pending) throw new SpeechProviderError(this.name, 'malformed', 'PCM16 stream ended mid-sample');
    } finally {
      clearTimeout(timer);
      if (reader) reader.cancel().catch(() => undefined); // consumer stopped early or failure: drop the stream
    }
  }

  private mapError(e: unknown, idle: AbortSignal, callerSignal: AbortSignal | undefined): unknown {
    if (e instanceof SpeechProviderError && e.kind !== 'timeout') return e;
    if (callerSignal?.aborted) return callerSignal.reason;
    if (idle.aborted || (e instanceof SpeechProviderError && e.kind === 'timeout')) {
      return new SpeechProviderError(this.name, 'timeout', `no audio within ${this.options.timeoutMs} ms`, { cause: e });
    }
    return mapFetchError(this.name, e, idle, callerSignal, this.options.timeoutMs);
  }
}
