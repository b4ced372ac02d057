/**
 * Offline recognition with Debian's pocketsphinx: a small pool of long-lived Python decoder processes
 * (decoder.py, run by /usr/bin/python3 because python3-pocketsphinx lives in Debian's dist-packages only).
 *
 * - Each process loads two decoders: a domain decoder (LM + dictionary built from `corpus`, plus one LM per
 *   `contexts` entry) and the full en-us decoder as the free-text fallback (see decoder.py for the rule).
 * - Requests are queued FIFO; each process decodes one utterance at a time.
 * - A process that dies is restarted (with backoff); its in-flight request is retried on the next free process
 *   (3 dispatches at most, so an utterance that crashes decoders cannot loop).
 * - Each process is warmed with one utterance per decoder before it takes requests (the first decode after load is
 *   worse than the following ones).
 * - Protocol: JSON lines on the child's stdin/stdout, audio as base64 PCM16 LE 16 kHz mono.
 */
import { spawn, type ChildProcessWithoutNullStreams } from 'node:child_process';
import { existsSync } from 'node:fs';
import { mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { buildArpa, buildDictionary, CMUDICT_PATH, EN_US_MODEL_DIR, tokenize } from './lm';

export const DEBIAN_PYTHON = '/usr/bin/python3';
const DECODER_SCRIPT = join(__dirname, 'decoder.py');

/** A request whose decoder dies is retried on another process, up to this many dispatches in all. */
const MAX_ATTEMPTS = 3;

export type DecodeMode = 'auto' | 'domain' | 'full';

export interface RecognitionResult {
  readonly text: string;
  /** Minimum word posterior of the chosen hypothesis (0..1); 0 for an empty transcript. */
  readonly confidence: number;
  /** Which model produced `text`: 'domain', 'context:<name>' or 'full'. */
  readonly engine: string;
  /** True when the domain decode was rejected and the full model's text returned. */
  readonly fallback: boolean;
  /** Time spent in the decoder process (both passes when the full model was consulted). */
  readonly decodeMs: number;
  readonly frames: number;
  readonly domainText?: string;
}

export interface RecognizeOptions {
  /** Dialog state name: selects the LM given for it in `contexts`, else the domain LM. */
  readonly context?: string;
  readonly mode?: DecodeMode;
  readonly signal?: AbortSignal;
}

export interface PocketsphinxOptions {
  /** Domain sentences: the domain LM and dictionary are built from them. */
  readonly corpus: readonly string[];
  /** Optional narrower LMs, by dialog state name. Their words join the domain dictionary. */
  readonly contexts?: Readonly<Record<string, readonly string[]>>;
  /** Decoder processes (default 2). */
  readonly poolSize?: number;
  /** 16 kHz PCM16 utterance for warming each process; default: the first corpus sentence synthesized by flite. */
  readonly warmupAudio?: Int16Array | (() => Promise<Int16Array>);
  /** Domain posterior below which the full model's text is used outright (default 0.2). */
  readonly rejectBelow?: number;
  /**
   * Domain posterior below which the full model is consulted to check for off-domain speech (default 0.4). The
   * posterior of a tiny LM is optimistic (some off-domain speech forced onto domain words scores 0.6–0.7), but
   * in-domain sentences score 0.43–1.0 on Flite voices, and the full-model check costs 0.5–1 s of turn latency and
   * sometimes replaces a right domain decode: a domain agent trusts its domain.
   */
  readonly verifyBelow?: number;
  /** A decode running longer than this kills and restarts its process (default 30 s). */
  readonly decodeTimeoutMs?: number;
  readonly python?: string;
  /** Called with diagnostics (process exits, restarts, OOV corpus words). Default: silent. */
  readonly log?: (message: string) => void;
}

interface Job {
  readonly id: number;
  readonly payload: string;
  readonly resolve: (r: RecognitionResult) => void;
  readonly reject: (e: Error) => void;
  readonly signal?: AbortSignal;
  attempts: number;
  settled: boolean;
  onAbort?: () => void;
}

interface Worker {
  readonly proc: ChildProcessWithoutNullStreams;
  ready: boolean;
  job?: Job;
  timer?: NodeJS.Timeout;
  pending: Map<number, (msg: Record<string, unknown>) => void>;
  stderrTail: string;
}

export class RecognizerError extends Error {
  constructor(
    readonly kind: 'aborted' | 'closed' | 'timeout' | 'failed',
    message: string,
  ) {
    super(message);
    this.name = 'RecognizerError';
  }
}

export class PocketsphinxRecognizer {
  private readonly workers = new Set<Worker>();
  private readonly queue: Job[] = [];
  private nextId = 1;
  private closed = false;
  private restarts = 0;
  private recentDeaths: number[] = [];
  private warmup?: Int16Array;
  private readonly log: (m: string) => void;

  private constructor(
    private readonly opts: PocketsphinxOptions,
    private readonly workDir: string,
    private readonly configPath: string,
    readonly missingWords: readonly string[],
  ) {
    this.log = opts.log ?? (() => undefined);
  }

  /** Builds the models, starts and warms the pool; resolves when every process is ready. */
  static async create(opts: PocketsphinxOptions): Promise<PocketsphinxRecognizer> {
    if (!opts.corpus.some((s) => tokenize(s).length > 0)) throw new RangeError('corpus has no words');
    const python = opts.python ?? DEBIAN_PYTHON;
    if (!existsSync(python) || !existsSync(CMUDICT_PATH)) {
      throw new Error(`pocketsphinx is not installed (${python}, ${CMUDICT_PATH}): run scripts/install-speech-deps.sh`);
    }
    const workDir = await mkdtemp(join(tmpdir(), 'pocketsphinx-'));
    try {
      const searches: Record<string, string> = { domain: join(workDir, 'domain.arpa') };
      await writeFile(searches.domain!, buildArpa(opts.corpus));
      const all = [...opts.corpus];
      for (const [name, sentences] of Object.entries(opts.contexts ?? {})) {
        if (!/^[A-Za-z0-9_.-]{1,64}$/.test(name) || name === 'domain') throw new RangeError(`bad context name: ${name}`);
        if (!sentences.some((s) => tokenize(s).length > 0)) continue;
        searches[name] = join(workDir, `ctx-${name}.arpa`);
        await writeFile(searches[name]!, buildArpa(sentences));
        all.push(...sentences);
      }
      const dict = buildDictionary(all);
      await writeFile(join(workDir, 'domain.dict'), dict.text);
      const configPath = join(workDir, 'config.json');
      await writeFile(
        configPath,
        JSON.stringify({
          hmm: `${EN_US_MODEL_DIR}/en-us`,
          domainDict: join(workDir, 'domain.dict'),
          searches,
          defaultSearch: 'domain',
          fullDict: CMUDICT_PATH,
          fullLm: `${EN_US_MODEL_DIR}/en-us.lm.bin`,
          rejectBelow: opts.rejectBelow ?? 0.2,
          verifyBelow: opts.verifyBelow ?? 0.4,
        }),
      );
      const rec = new PocketsphinxRecognizer(opts, workDir, configPath, dict.missing);
      if (dict.missing.length) rec.log(`corpus words without pronunciation (not recognizable): ${dict.missing.join(', ')}`);
      await rec.start();
      return rec;
    } catch (e) {
      await rm(workDir, { recursive: true, force: true });
      throw e;
    }
  }

  /** Process ids of the live decoder processes (for tests and diagnostics). */
  get pids(): number[] {
    return [...this.workers].filter((w) => w.ready).map((w) => w.proc.pid!);
  }

  get stats(): { readonly ready: number; readonly busy: number; readonly queued: number; readonly restarts: number } {
    const ws = [...this.workers];
    return {
      ready: ws.filter((w) => w.ready).length,
      busy: ws.filter((w) => w.job).length,
      queued: this.queue.length,
      restarts: this.restarts,
    };
  }

  /** Decodes one whole utterance of 16 kHz mono PCM16. */
  recognize(pcm16k: Int16Array, options: RecognizeOptions = {}): Promise<RecognitionResult> {
    if (this.closed) return Promise.reject(new RecognizerError('closed', 'recognizer is closed'));
    const { signal } = options;
    if (signal?.aborted) return Promise.reject(new RecognizerError('aborted', 'aborted'));
    const id = this.nextId++;
    const bytes = Buffer.from(pcm16k.buffer, pcm16k.byteOffset, pcm16k.byteLength);
    const payload = JSON.stringify({
      id,
      audio: bytes.toString('base64'),
      context: options.context ?? null,
      mode: options.mode ?? 'auto',
    });
    return new Promise<RecognitionResult>((resolve, reject) => {
      const job: Job = { id, payload, resolve, reject, signal, attempts: 0, settled: false };
      if (signal) {
        job.onAbort = () => this.settle(job, new RecognizerError('aborted', 'aborted'));
        signal.addEventListener('abort', job.onAbort, { once: true });
      }
      this.queue.push(job);
      this.pump();
    });
  }

  async close(): Promise<void> {
    if (this.closed) return;
    this.closed = true;
    for (const job of this.queue.splice(0)) this.settle(job, new RecognizerError('closed', 'recognizer closed'));
    const exits = [...this.workers].map(
      (w) =>
        new Promise<void>((res) => {
          if (w.proc.exitCode !== null || w.proc.signalCode !== null) return res();
          w.proc.once('exit', () => res());
          w.proc.stdin.end();
          w.proc.kill('SIGTERM');
        }),
    );
    await Promise.all(exits);
    await rm(this.workDir, { recursive: true, force: true });
  }

  // ---------------------------------------------------------------------------------------------------------------

  private async start(): Promise<void> {
    const size = Math.max(1, Math.floor(this.opts.poolSize ?? 2));
    const w = this.opts.warmupAudio;
    if (w instanceof Int16Array) this.warmup = w;
    else if (typeof w === 'function') this.warmup = await w();
    else {
      const { synthesize } = await import('../tts/flite');
      const first = this.opts.corpus.find((s) => tokenize(s).length > 0)!;
      this.warmup = await synthesize(first, { voice: 'rms', sampleRate: 16000 });
    }
    const started = await Promise.allSettled(Array.from({ length: size }, () => this.spawnWorker()));
    const failed = started.find((r) => r.status === 'rejected');
    if (failed) {
      await this.close();
      throw (failed as PromiseRejectedResult).reason;
    }
  }

  private spawnWorker(): Promise<void> {
    const proc = spawn(this.opts.python ?? DEBIAN_PYTHON, [DECODER_SCRIPT, this.configPath], {
      stdio: ['pipe', 'pipe', 'pipe'],
      env: { PATH: process.env.PATH ?? '/usr/bin:/bin', LANG: 'C.UTF-8', PYTHONUNBUFFERED: '1' },
    });
    const worker: Worker = { proc, ready: false, pending: new Map(), stderrTail: '' };
    this.workers.add(worker);
    let buf = '';
    let onReady: ((m: Record<string, unknown>) => void) | undefined;
    proc.stdout.setEncoding('utf8');
    proc.stdout.on('data', (chunk: string) => {
      buf += chunk;
      let nl: number;
      while ((nl = buf.indexOf('\n')) >= 0) {
        const line = buf.slice(0, nl);
        buf = buf.slice(nl + 1);
        if (!line.trim()) continue;
        let msg: Record<string, unknown>;
        try {
          msg = JSON.parse(line) as Record<string, unknown>;
        } catch {
          this.log(`decoder ${proc.pid}: unparsable line: ${line.slice(0, 200)}`);
          continue;
        }
        if (msg.ready) onReady?.(msg);
        else if (typeof msg.id === 'number') {
          const cb = worker.pending.get(msg.id);
          worker.pending.delete(msg.id);
          cb?.(msg);
        }
      }
    });
    proc.stderr.setEncoding('utf8');
    proc.stderr.on('data', (s: string) => {
      worker.stderrTail = (worker.stderrTail + s).slice(-2000);
    });
    proc.stdin.on('error', () => undefined); // EPIPE when the child died; 'exit' handles it

    return new Promise<void>((resolve, reject) => {
      let startupDone = false;
      proc.once('error', (err) => {
        if (!startupDone) {
          startupDone = true;
          this.workers.delete(worker);
          reject(new Error(`cannot start ${this.opts.python ?? DEBIAN_PYTHON}: ${err.message}`));
        }
      });
      proc.once('exit', (code, sig) => {
        this.onWorkerExit(worker, code, sig);
        if (!startupDone) {
          startupDone = true;
          reject(new Error(`decoder exited during startup (${code ?? sig}): ${worker.stderrTail.trim().slice(-500)}`));
        }
      });
      onReady = () => {
        onReady = undefined;
        void (async () => {
          try {
            // Warm both decoders (the domain one and the full fallback) with one utterance each.
            for (const mode of ['domain', 'full'] as const) await this.send(worker, this.warmup!, mode, 60_000);
            worker.ready = true;
            if (!startupDone) {
              startupDone = true;
              resolve();
            }
            this.pump();
          } catch (e) {
            if (!startupDone) {
              startupDone = true;
              reject(e instanceof Error ? e : new Error(String(e)));
            }
            proc.kill('SIGKILL');
          }
        })();
      };
    });
  }

  /** Direct request to one worker (warm-up only). */
  private send(worker: Worker, pcm: Int16Array, mode: DecodeMode, timeoutMs: number): Promise<Record<string, unknown>> {
    const id = this.nextId++;
    const audio = Buffer.from(pcm.buffer, pcm.byteOffset, pcm.byteLength).toString('base64');
    return new Promise((resolve, reject) => {
      const t = setTimeout(() => reject(new Error('warm-up timed out')), timeoutMs);
      worker.pending.set(id, (m) => {
        clearTimeout(t);
        if (typeof m.error === 'string') reject(new Error(m.error));
        else resolve(m);
      });
      worker.proc.stdin.write(JSON.stringify({ id, audio, mode }) + '\n');
    });
  }

  private pump(): void {
    if (this.closed) return;
    for (const worker of this.workers) {
      if (!worker.ready || worker.job) continue;
      let job: Job | undefined;
      while ((job = this.queue.shift()) && job.settled) job = undefined;
      if (!job) return;
      this.dispatch(worker, job);
    }
  }

  private dispatch(worker: Worker, job: Job): void {
    job.attempts++;
    worker.job = job;
    const timeoutMs = this.opts.decodeTimeoutMs ?? 30_000;
    worker.timer = setTimeout(() => {
      this.log(`decoder ${worker.proc.pid}: decode exceeded ${timeoutMs} ms, killing it`);
      job.attempts = Infinity; // do not retry a request that hangs a decoder
      this.settle(job, new RecognizerError('timeout', `decode exceeded ${timeoutMs} ms`));
      worker.proc.kill('SIGKILL');
    }, timeoutMs);
    worker.pending.set(job.id, (msg) => {
      clearTimeout(worker.timer);
      worker.job = undefined;
      if (typeof msg.error === 'string') this.settle(job, new RecognizerError('failed', msg.error));
      else this.settle(job, toResult(msg));
      this.pump();
    });
    worker.proc.stdin.write(job.payload + '\n');
  }

  private settle(job: Job, result: RecognitionResult | Error): void {
    if (job.settled) return;
    job.settled = true;
    if (job.onAbort) job.signal?.removeEventListener('abort', job.onAbort);
    if (result instanceof Error) job.reject(result);
    else job.resolve(result);
  }

  private onWorkerExit(worker: Worker, code: number | null, sig: NodeJS.Signals | null): void {
    this.workers.delete(worker);
    clearTimeout(worker.timer);
    const job = worker.job;
    worker.job = undefined;
    worker.pending.clear();
    if (this.closed) {
      if (job) this.settle(job, new RecognizerError('closed', 'recognizer closed'));
      return;
    }
    this.log(`decoder ${worker.proc.pid} exited (${code ?? sig}); restarting. ${worker.stderrTail.trim().slice(-300)}`);
    if (job && !job.settled) {
      if (job.attempts < MAX_ATTEMPTS) this.queue.unshift(job);
      else this.settle(job, new RecognizerError('failed', `decoder process exited (${code ?? sig})`));
    }
    // Restart with backoff when processes keep dying.
    const now = Date.now();
    this.recentDeaths = [...this.recentDeaths.filter((t) => now - t < 60_000), now];
    const delay = Math.min(10_000, 100 * 2 ** Math.max(0, this.recentDeaths.length - 1));
    setTimeout(() => {
      if (this.closed) return;
      this.restarts++;
      this.spawnWorker().catch((e: unknown) => {
        this.log(`decoder restart failed: ${e instanceof Error ? e.message : String(e)}`);
      });
    }, delay).unref();
    this.pump();
  }
}

function toResult(msg: Record<string, unknown>): RecognitionResult {
  return {
    text: typeof msg.text === 'string' ? msg.text : '',
    confidence: typeof msg.confidence === 'number' ? msg.confidence : 0,
    engine: typeof msg.engine === 'string' ? msg.engine : 'unknown',
    fallback: msg.fallback === true,
    decodeMs: typeof msg.decodeMs === 'number' ? msg.decodeMs : 0,
    frames: typeof msg.frames === 'number' ? msg.frames : 0,
    ...(typeof msg.domainText === 'string' ? { domainText: msg.domainText } : {}),
    ...(msg.verify ? { verify: msg.verify } : {}),
  };
}
