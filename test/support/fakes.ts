/** Test doubles for the domain's ports where a test is about turn-taking logic, not speech quality. */
import type { ConnectionSender, Telemetry } from '../../functions/domain/call/model';
import type { MetricName } from '../../functions/contracts/metrics';
import type { AudioFormat } from '../../functions/contracts/audio-format';
import type { SpeechToText, TextToSpeech, Transcript } from '../../functions/domain/speech';
import { bytesForMs } from '../../functions/domain/audio';

export class RecordingSender implements ConnectionSender {
  readonly messages: { connectionId: string; data: Record<string, any> }[] = [];
  readonly closed: string[] = [];
  gone = new Set<string>();
  async send(connectionId: string, data: string): Promise<'ok' | 'gone'> {
    if (this.gone.has(connectionId)) return 'gone';
    this.messages.push({ connectionId, data: JSON.parse(data) });
    return 'ok';
  }
  async close(connectionId: string): Promise<void> {
    this.closed.push(connectionId);
  }
  events(name: string) {
    return this.messages.filter((m) => m.data.event === name).map((m) => m.data);
  }
}

/** Transcribes by audio length, so each utterance of a test gets a distinct, checkable transcript. */
export class LengthSpeechToText implements SpeechToText {
  readonly name = 'length-stt';
  readonly calls: number[] = [];
  constructor(private readonly say: (durationMs: number) => string = (ms) => `utterance of ${ms} ms`) {}
  async transcribe(audio: Uint8Array, format: AudioFormat): Promise<Transcript> {
    const ms = Math.round((audio.byteLength / bytesForMs(1000, format)) * 1000);
    this.calls.push(ms);
    return { text: this.say(ms) };
  }
}

/** 50 ms of audio per word, in three chunks. */
export class ToneTextToSpeech implements TextToSpeech {
  readonly name = 'tone-tts';
  readonly texts: string[] = [];
  async *synthesize(text: string, format: AudioFormat): AsyncIterable<Uint8Array> {
    this.texts.push(text);
    const total = bytesForMs(50 * text.split(/\s+/).length, format);
    const part = Math.ceil(total / 3);
    for (let i = 0; i < total; i += part) yield new Uint8Array(Math.min(part, total - i)).fill(0x10);
  }
}

export class MemoryTelemetry implements Telemetry {
  readonly counts = new Map<MetricName, number>();
  readonly timings = new Map<MetricName, number[]>();
  readonly lines: { level: string; message: string; extra?: Record<string, unknown> }[] = [];
  debug = (message: string, extra?: Record<string, unknown>) => void this.lines.push({ level: 'debug', message, extra });
  info = (message: string, extra?: Record<string, unknown>) => void this.lines.push({ level: 'info', message, extra });
  warn = (message: string, extra?: Record<string, unknown>) => void this.lines.push({ level: 'warn', message, extra });
  error = (message: string, extra?: Record<string, unknown>) => void this.lines.push({ level: 'error', message, extra });
  count = (metric: MetricName, value = 1) => void this.counts.set(metric, (this.counts.get(metric) ?? 0) + value);
  milliseconds = (metric: MetricName, value: number) => void this.timings.set(metric, [...(this.timings.get(metric) ?? []), value]);
  readonly gauges = new Map<MetricName, number[]>();
  gauge = (metric: MetricName, value: number) => void this.gauges.set(metric, [...(this.gauges.get(metric) ?? []), value]);
}
