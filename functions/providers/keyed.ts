/**
 * Vendor adapters need an API key that lives in the app secret, read asynchronously and re-read every few minutes
 * (functions/settings/secrets.ts). These wrappers let the container build the speech services synchronously: each call
 * asks for the key (a cache hit in a warm environment) and reuses the adapter built for that key, so a rotated key
 * gets a new client and an unchanged one keeps its warm connections.
 */
import { SpeechProviderError, type SpeechToText, type SynthesizeOptions, type TextToSpeech, type TranscribeOptions, type Transcript } from '../domain/speech';
import { type AudioFormat } from '../contracts/audio-format';

/** Resolves the current key, or undefined when it is not configured. */
export type KeySource = () => Promise<string | undefined>;

class PerKey<T> {
  private current?: { key: string; adapter: T };

  constructor(
    private readonly provider: string,
    private readonly keyName: string,
    private readonly key: KeySource,
    private readonly build: (key: string) => T,
  ) {}

  async get(): Promise<T> {
    let key: string | undefined;
    try {
      key = await this.key();
    } catch (err) {
      throw new SpeechProviderError(this.provider, 'unavailable', `${this.keyName} could not be read: ${(err as Error).message}`, { cause: err });
    }
    if (!key) throw new SpeechProviderError(this.provider, 'rejected', `${this.keyName} is not set in the app secret`);
    if (this.current?.key !== key) this.current = { key, adapter: this.build(key) };
    return this.current.adapter;
  }
}

export class KeyedSpeechToText implements SpeechToText {
  private readonly adapters: PerKey<SpeechToText>;

  constructor(
    readonly name: string,
    keyName: string,
    key: KeySource,
    build: (key: string) => SpeechToText,
  ) {
    this.adapters = new PerKey(name, keyName, key, build);
  }

  async transcribe(audio: Uint8Array, format: AudioFormat, options?: TranscribeOptions): Promise<Transcript> {
    return (await this.adapters.get()).transcribe(audio, format, options);
  }
}

export class KeyedTextToSpeech implements TextToSpeech {
  private readonly adapters: PerKey<TextToSpeech>;

  constructor(
    readonly name: string,
    keyName: string,
    key: KeySource,
    build: (key: string) => TextToSpeech,
  ) {
    this.adapters = new PerKey(name, keyName, key, build);
  }

  async *synthesize(text: string, format: AudioFormat, options?: SynthesizeOptions): AsyncIterable<Uint8Array> {
    yield* (await this.adapters.get()).synthesize(text, format, options);
  }
}
