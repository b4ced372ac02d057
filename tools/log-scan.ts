/**
 * Issue 7's check over a whole test run: no audio, tokens or keys in any function log line.
 *
 *   npx tsx tools/log-scan.ts                  rescan every function log under .cache (generic patterns), plus the
 *                                              secret-specific findings every stack recorded in its log-scan.json
 *   npx tsx tools/log-scan.ts --since <ms|ISO> only this run: the reports stacks wrote on stop() since then (each
 *                                              checked its own lines against its own secrets), and a generic rescan
 *                                              of any function log written since then that no report covers (a
 *                                              stack that never stopped)
 *
 * Secrets in the environment (VOICE_AGENT_TOKEN, TWILIO_AUTH_TOKEN, DEEPGRAM_API_KEY, ELEVENLABS_API_KEY) are looked
 * for too. Exits 1 on any finding. Only LogSink's `<function>.log` files are product logs; jest's console output is
 * not. The local gateway writes no access or execution log (on AWS its access log format carries no bodies or
 * query strings: lib/constructs/voice-websocket-api.ts).
 */
import { Command } from 'commander';
import path from 'node:path';
import { ALL_FUNCTIONS } from '../functions/contracts/routes';
import {
  findLogFiles,
  findLogScanFiles,
  mtimeMs,
  readLogScanFile,
  scanFiles,
  stackSecrets,
  type Finding,
  type LogScanReport,
} from '../local/observability/log-scan';

const ROOT = path.resolve(__dirname, '..');
const FUNCTION_LOGS = new Set(ALL_FUNCTIONS.map((f) => `${f.name}.log`));

function parseSince(value: string): number {
  const n = Number(value);
  const ms = Number.isFinite(n) ? n : Date.parse(value);
  if (!Number.isFinite(ms)) throw new Error(`--since: not a time: ${value}`);
  return ms;
}

export interface Aggregate {
  readonly lines: number;
  readonly files: number;
  readonly findings: readonly Finding[];
  readonly reports: number;
  readonly rescanned: number;
}

export function aggregate(root: string, since: number | undefined): Aggregate {
  const envSecrets = stackSecrets({
    voiceAgentToken: process.env.VOICE_AGENT_TOKEN,
    twilioAuthToken: process.env.TWILIO_AUTH_TOKEN,
    deepgramApiKey: process.env.DEEPGRAM_API_KEY,
    elevenLabsApiKey: process.env.ELEVENLABS_API_KEY,
  });
  const reports: LogScanReport[] = [];
  for (const file of findLogScanFiles(root)) {
    for (const scan of readLogScanFile(file)?.scans ?? []) if (since === undefined || Date.parse(scan.scannedAt) >= since) reports.push(scan);
  }
  const logFiles = findLogFiles(root, (name) => FUNCTION_LOGS.has(name));
  // With --since, the reports are the scan; files they do not cover were left by a stack that never stopped.
  const covered = new Set(since === undefined ? [] : reports.flatMap((r) => r.files.map((f) => path.resolve(f.file))));
  const rescan = logFiles.filter((f) => !covered.has(path.resolve(f)) && (since === undefined || mtimeMs(f) >= since));
  const fresh = scanFiles(root, rescan.map((file) => ({ file })), envSecrets);

  // One finding per file, line and kind: a stack's report and the rescan see the same lines.
  const findings = new Map<string, Finding>();
  const files = new Map<string, number>();
  const addFile = (file: string, lines: number) => files.set(path.resolve(file), Math.max(files.get(path.resolve(file)) ?? 0, lines));
  for (const f of [...reports.flatMap((r) => r.findings), ...fresh.findings]) findings.set(`${path.resolve(f.file)}:${f.line}:${f.kind}:${f.detail}`, f);
  let lines = 0;
  if (since === undefined) {
    // The rescan read every file whole; the reports' lines are a subset of those.
    for (const s of fresh.files) addFile(s.file, s.lines);
    lines = fresh.lines;
  } else {
    for (const r of reports) for (const s of r.files) addFile(s.file, s.lines);
    for (const s of fresh.files) addFile(s.file, s.lines);
    lines = reports.reduce((n, r) => n + r.lines, 0) + fresh.lines;
  }
  return { lines, files: files.size, findings: [...findings.values()], reports: reports.length, rescanned: fresh.files.length };
}

if (require.main === module) {
  const program = new Command()
    .name('log-scan')
    .description('Fail on audio, tokens or keys in any function log line (issue 7)')
    .option('--root <dir>', 'where the logs are', path.join(ROOT, '.cache'))
    .option('--since <time>', 'only what was written since (epoch ms or ISO time): one test run')
    .option('--show <n>', 'findings to print', '50')
    .parse();
  const o = program.opts<{ root: string; since?: string; show: string }>();
  const since = o.since === undefined ? undefined : parseSince(o.since);
  const result = aggregate(path.resolve(o.root), since);
  const rel = (f: string) => path.relative(process.cwd(), f);
  for (const f of result.findings.slice(0, Number(o.show))) console.log(`  ${rel(f.file)}:${f.line} ${f.kind} (${f.detail}): ${f.excerpt}`);
  if (result.findings.length > Number(o.show)) console.log(`  … ${result.findings.length - Number(o.show)} more`);
  console.log(
    `log scan: ${result.lines} lines in ${result.files} files, ${result.findings.length} findings` +
      ` (${result.reports} stack reports, ${result.rescanned} files rescanned)`,
  );
  process.exitCode = result.findings.length > 0 ? 1 : 0;
}
