/**
 * CloudWatch for the local stack: each function's lines go to its own log file (its "log group"), and
 * Embedded Metric Format lines are turned into metrics, as CloudWatch does with EMF.
 */
import { createWriteStream, existsSync, mkdirSync, statSync, type WriteStream } from 'node:fs';
import path from 'node:path';

export interface MetricSeries {
  unit: string;
  values: number[];
  sum: number;
}

/** A metric as CloudWatch identifies it: namespace, name and the exact set of dimensions. */
export interface MetricId {
  readonly namespace: string;
  readonly name: string;
  readonly dimensions: Readonly<Record<string, string>>;
}

const metricKey = (id: MetricId) =>
  JSON.stringify([id.namespace, id.name, Object.entries(id.dimensions).sort(([a], [b]) => a.localeCompare(b))]);

export class LogSink {
  private readonly files = new Map<string, WriteStream>();
  /** Per file path: the byte where the lines not yet scanned start (files are appended to across runs). */
  private readonly scanFrom = new Map<string, number>();
  /** By metric name alone, over every namespace and dimension set. */
  private readonly series = new Map<string, MetricSeries>();
  /** As CloudWatch keeps them: one series per namespace, name and dimension set. */
  private readonly byId = new Map<string, MetricSeries>();
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
        const p = path.join(this.dir, `${functionName}.log`);
        if (!this.scanFrom.has(p)) this.scanFrom.set(p, existsSync(p) ? statSync(p).size : 0);
        file = createWriteStream(p, { flags: 'a' });
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

  /** The series CloudWatch would have for exactly this namespace, name and dimension set (what a dashboard reads). */
  metricById(id: MetricId): MetricSeries {
    return this.byId.get(metricKey(id)) ?? { unit: 'None', values: [], sum: 0 };
  }

  /** Where this sink's files are (undefined: echo only). */
  get directory(): string | undefined {
    return this.dir;
  }

  /**
   * The byte ranges this sink appended since the last call (after close(): everything it wrote), so a log scan
   * (log-scan.ts) reads this stack's lines only, once.
   */
  unscanned(): { file: string; fromByte: number; toByte: number }[] {
    const out: { file: string; fromByte: number; toByte: number }[] = [];
    for (const [file, fromByte] of this.scanFrom) {
      const toByte = existsSync(file) ? statSync(file).size : 0;
      if (toByte > fromByte) out.push({ file, fromByte, toByte });
      this.scanFrom.set(file, toByte);
    }
    return out;
  }

  async close(): Promise<void> {
    await Promise.all([...this.files.values()].map((f) => new Promise<void>((done) => f.end(done))));
    this.files.clear();
  }

  private collectEmf(line: string): void {
    type Directive = { Namespace?: string; Dimensions?: string[][]; Metrics?: { Name: string; Unit?: string }[] };
    let doc: { _aws?: { CloudWatchMetrics?: Directive[] } } & Record<string, unknown>;
    try {
      doc = JSON.parse(line);
    } catch {
      return;
    }
    const add = (map: Map<string, MetricSeries>, key: string, unit: string | undefined, values: number[]) => {
      const s = map.get(key) ?? { unit: unit ?? 'None', values: [], sum: 0 };
      for (const v of values) {
        if (s.values.length < 100_000) s.values.push(v);
        s.sum += v;
      }
      map.set(key, s);
    };
    for (const directive of doc._aws?.CloudWatchMetrics ?? []) {
      // EMF: each dimension set names top-level fields whose values are the dimension values; no set, no dimensions.
      const dimensionSets = directive.Dimensions?.length ? directive.Dimensions : [[]];
      for (const def of directive.Metrics ?? []) {
        const raw = doc[def.Name];
        const values = (Array.isArray(raw) ? raw : [raw]).filter((v): v is number => typeof v === 'number');
        add(this.series, def.Name, def.Unit, values);
        for (const names of dimensionSets) {
          const dimensions = Object.fromEntries(names.map((n) => [n, String(doc[n])]));
          add(this.byId, metricKey({ namespace: directive.Namespace ?? '', name: def.Name, dimensions }), def.Unit, values);
        }
      }
    }
  }
}
