/**
 * CloudWatch for the local stack: each function's lines go to its own log file (its "log group"), and
 * Embedded Metric Format lines are turned into metrics, as CloudWatch does with EMF.
 */
import { createWriteStream, mkdirSync, type WriteStream } from 'node:fs';
import path from 'node:path';

export interface MetricSeries {
  unit: string;
  values: number[];
  sum: number;
}

export class LogSink {
  private readonly files = new Map<string, WriteStream>();
  private readonly series = new Map<string, MetricSeries>();
  private readonly listeners = new Set<(fn: string, line: string) => void>();

  constructor(
    private readonly dir: string | undefined,
    private readonly echo: boolean = false,
  ) {
    if (dir) mkdirSync(dir, { recursive: true });
  }

  readonly write = (functionName: string, environmentId: string, line: string): void => {
    if (this.dir) {
      let file = this.files.get(functionName);
      if (!file) {
        file = createWriteStream(path.join(this.dir, `${functionName}.log`), { flags: 'a' });
        this.files.set(functionName, file);
      }
      file.write(`${environmentId} ${line}\n`);
    }
    if (this.echo) process.stdout.write(`[${functionName}] ${line}\n`);
    if (line.startsWith('{') && line.includes('"_aws"')) this.collectEmf(line);
    for (const listener of this.listeners) listener(functionName, line);
  };

  onLine(listener: (fn: string, line: string) => void): () => void {
    this.listeners.add(listener);
    return () => this.listeners.delete(listener);
  }

  metric(name: string): MetricSeries {
    return this.series.get(name) ?? { unit: 'None', values: [], sum: 0 };
  }

  metricNames(): string[] {
    return [...this.series.keys()];
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => new Promise<void>((done) => f.end(done))));
    this.files.clear();
  }

  private collectEmf(line: string): void {
    let doc: { _aws?: { CloudWatchMetrics?: { Metrics?: { Name: string; Unit?: string }[] }[] } } & Record<string, unknown>;
    try {
      doc = JSON.parse(line);
    } catch {
      return;
    }
    for (const directive of doc._aws?.CloudWatchMetrics ?? []) {
      for (const def of directive.Metrics ?? []) {
        const raw = doc[def.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
        const s = this.series.get(def.Name) ?? { unit: def.Unit ?? 'None', values: [], sum: 0 };
        for (const v of values) {
          if (s.values.length < 100_000) s.values.push(v);
          s.sum += v;
        }
        this.series.set(def.Name, s);
      }
    }
  }
}
