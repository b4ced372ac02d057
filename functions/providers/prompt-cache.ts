/**
 * Replays the audio of the agent's static prompts (greeting, re-prompts, fallback, goodbye: texts that never depend
 * on the call) from memory, so they cost no vendor round trip after the first time in a warm environment.
 *
 * Wraps any TextToSpeech. A static text is synthesized once per (text, format) per environment, on first use or by
 * `warm()` during init; every request for it replays the recorded chunks. Concurrent first requests share the one
 * synthesis and each gets chunks as they arrive (the first caller does not wait for the whole clip). A failed
 * synthesis is not cached: the next request tries again. Other texts pass through untouched.
 *
 * Memory is bounded: only the configured texts are ever recorded, and a recording that would take the total past
 * `maxBytes` is played but not kept. The turn runner synthesizes sentence by sentence, so give `split` the same
 * sentence splitter, or multi-sentence prompts will never match. Replayed chunks are shared: consumers must not
 * modify them.
 *
 * A recording outlives the request that started it (other callers may be waiting on it). If Lambda freezes the
 * environment mid-recording, the inner adapter's timeouts fire on thaw, the recording fails and is dropped, and the
 * next request synthesizes it again.
 */
import type { AudioFormat } from '../contracts/audio-format';
import type { SynthesizeOptions, TextToSpeech } from '../domain/speech';

export interface StaticPromptCacheOptions {
  /** The static texts (e.g. the responder's `staticPrompts()` plus the fallback phrase). */
  readonly texts: Iterable<string>;
  /** How texts reach `synthesize`: the turn runner's sentence splitter. Default: texts are used whole. */
  readonly split?: (text: string) => readonly string[];
  /** Upper bound on recorded audio, all formats together. Default 16 MiB (~30 min of μ-law, ~8 min of PCM16). */
  readonly maxBytes?: number;
}

export interface PromptCacheStats {
  /** Requests for a static text answered from a recording (finished or in progress). */
  hits: number;
  /** Requests for a static text that started a synthesis. */
  misses: number;
  /** Requests for other texts, passed through. */
  passThrough: number;
  /** Recordings played but not kept (over `maxBytes`). */
  notKept: number;
}

interface Recording {
  readonly chunks: Uint8Array[];
  bytes: number;
  done: boolean;
  error?: { readonly value: unknown };
  waiters: Array<() => void>;
}

const normalize = (text: string): string => text.trim().replace(/\s+/g, ' ');

export class StaticPromptCache implements TextToSpeech {
  readonly name: string;
  readonly stats: PromptCacheStats = { hits: 0, misses: 0, passThrough: 0, notKept: 0 };
  private readonly texts = new Map<string, string>(); // normalized → as given (what is sent to the inner adapter)
  private readonly recordings = new Map<string, Recording>();
  private readonly maxBytes: number;
  private keptBytes = 0;

  constructor(
    private readonly inner: TextToSpeech,
    options: StaticPromptCacheOptions,
  ) {
    this.name = inner.name;
    this.maxBytes = options.maxBytes ?? 16 * 1024 * 1024;
    for (const text of options.texts) {
      for (const piece of options.split ? options.split(text) : [text]) {
        const key = normalize(piece);
        if (key) this.texts.set(key, piece.trim());
      }
    }
  }

  /** The texts served from memory (after splitting). */
  get staticTexts(): string[] {
    return [...this.texts.values()];
  }

  /** Audio bytes currently kept. */
  get bytes(): number {
    return this.keptBytes;
  }

  synthesize(text: string, format: AudioFormat, options: SynthesizeOptions = {}): AsyncIterable<Uint8Array> {
    const normalized = normalize(text);
    if (!this.texts.has(normalized)) {
      this.stats.passThrough++;
      return this.inner.synthesize(text, format, options);
    }
    return this.replay(`${format.encoding}/${format.sampleRate}|${normalized}`, this.texts.get(normalized)!, format, options.signal);
  }

  /**
   * Synthesizes every static text in each format, `concurrency` at a time (vendors limit concurrent requests).
   * Never rejects: failures are counted, and those texts are synthesized on first use instead.
   */
  async warm(formats: readonly AudioFormat[], concurrency = 2): Promise<{ warmed: number; failed: number }> {
    const jobs = [...this.texts.values()].flatMap((text) => formats.map((format) => ({ text, format })));
    let warmed = 0;
    let failed = 0;
    let next = 0;
    const worker = async (): Promise<void> => {
      while (next < jobs.length) {
        const { text, format } = jobs[next++]!;
        try {
          for await (const _ of this.synthesize(text, format)) {
            /* drain */
          }
          warmed++;
        } catch {
          failed++;
        }
      }
    };
    await Promise.all(Array.from({ length: Math.max(1, Math.min(concurrency, jobs.length)) }, worker));
    return { warmed, failed };
  }

  private async *replay(key: string, text: string, format: AudioFormat, signal: AbortSignal | undefined): AsyncIterable<Uint8Array> {
    signal?.throwIfAborted();
    let recording = this.recordings.get(key);
    if (recording) this.stats.hits++;
    else {
      this.stats.misses++;
      recording = this.record(key, text, format);
    }
    for (let i = 0; ; ) {
      if (i < recording.chunks.length) {
        yield recording.chunks[i++]!;
        continue;
      }
      if (recording.error) throw recording.error.value;
      if (recording.done) return;
      await changed(recording, signal);
    }
  }

  /** Starts the one synthesis of `text` in `format`; its chunks are recorded for every reader. */
  private record(key: string, text: string, format: AudioFormat): Recording {
    const recording: Recording = { chunks: [], bytes: 0, done: false, waiters: [] };
    this.recordings.set(key, recording);
    const wake = (): void => {
      const waiters = recording.waiters;
      recording.waiters = [];
      for (const w of waiters) w();
    };
    void (async () => {
      try {
        for await (const chunk of this.inner.synthesize(text, format)) {
          recording.chunks.push(chunk);
          recording.bytes += chunk.byteLength;
          wake();
        }
        recording.done = true;
        if (this.keptBytes + recording.bytes > this.maxBytes) {
          this.recordings.delete(key);
          this.stats.notKept++;
        } else this.keptBytes += recording.bytes;
      } catch (e) {
        recording.error = { value: e };
        this.recordings.delete(key);
      }
      wake();
    })();
    return recording;
  }
}

/** Resolves when the recording gets a chunk, ends or fails; rejects with the reader's abort reason. */
function changed(recording: Recording, signal: AbortSignal | undefined): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(signal.reason);
    const onAbort = (): void => reject(signal!.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    recording.waiters.push(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    });
  });
}
