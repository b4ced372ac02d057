/**
 * `npm run reliability [-- --soak [--soak-args "..."]] [--render-only]`: RELIABILITY.md from runs.
 *
 * 1. Clears `.cache/reliability/rows/`, then runs every jest suite that records counted cases
 *    (`recordReliability(` in test/**), in band, so each row comes from this run.
 * 2. With `--soak`, runs the soak (`tools/soak.ts`) and keeps its verdict in `docs/reliability/soak.json`; without,
 *    the last verdict kept there is shown with its date and command.
 * 3. Renders RELIABILITY.md: one row per recorded case, the jest totals, the soak, and the guarantees.
 * Exits non-zero when a suite failed or a recorded row is not ok.
 */
import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { copyFileSync, existsSync, mkdirSync, readdirSync, readFileSync, rmSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import { RELIABILITY_ROWS_DIR, type ReliabilityRow } from '../test/support/reliability';
import type { SoakVerdict } from './soak';

const ROOT = path.resolve(__dirname, '..');
const SOAK_KEPT = path.join(ROOT, 'docs', 'reliability', 'soak.json');
const SOAK_OUT = path.join(ROOT, '.cache', 'reliability', 'soak');
const JEST_OUT = path.join(ROOT, '.cache', 'reliability', 'jest-results.json');

type RecordedRow = ReliabilityRow & { suite: string; test: string; at: string };

function suitesThatRecord(dir = path.join(ROOT, 'test')): string[] {
  const out: string[] = [];
  for (const entry of readdirSync(dir, { withFileTypes: true })) {
    const p = path.join(dir, entry.name);
    if (entry.isDirectory()) out.push(...suitesThatRecord(p));
    else if (entry.name.endsWith('.test.ts') && readFileSync(p, 'utf8').includes('recordReliability(')) out.push(path.relative(ROOT, p));
  }
  return out.sort();
}

function readRows(): RecordedRow[] {
  if (!existsSync(RELIABILITY_ROWS_DIR)) return [];
  return readdirSync(RELIABILITY_ROWS_DIR)
    .filter((f) => f.endsWith('.jsonl'))
    .flatMap((f) => readFileSync(path.join(RELIABILITY_ROWS_DIR, f), 'utf8').split('\n').filter(Boolean))
    .map((l) => JSON.parse(l) as RecordedRow);
}

const cell = (s: string) => s.replace(/\|/g, '\\|').replace(/\n/g, ' ');
const AREAS: ReliabilityRow['area'][] = ['bad input', 'faults', 'abuse', 'soak'];

function render(rows: RecordedRow[], jest: { passed: number; failed: number; suites: string[]; ranAt: string; command: string } | undefined, soak: SoakVerdict | undefined): string {
  const lines: string[] = [];
  lines.push('# Reliability', '');
  lines.push('What was tried against the system, how many cases, and what happened — every row recorded by a test during the run named below, with counts measured in that run (`test/support/reliability.ts`). Regenerate with `npm run reliability` (add `-- --soak` to re-run the soak).', '');
  if (jest) {
    lines.push(`Run: ${jest.ranAt} on ${os.cpus().length} cores (${os.cpus()[0]?.model ?? 'unknown CPU'}), Node ${process.version}: \`${jest.command}\` — ${jest.passed} tests passed, ${jest.failed} failed, in ${jest.suites.length} suites (${jest.suites.map((s) => `\`${s}\``).join(', ')}).`, '');
  }
  for (const area of AREAS.filter((a) => a !== 'soak')) {
    const mine = rows.filter((r) => r.area === area).sort((a, b) => a.suite.localeCompare(b.suite) || a.at.localeCompare(b.at));
    if (mine.length === 0) continue;
    lines.push(`## ${area[0]!.toUpperCase()}${area.slice(1)}`, '');
    lines.push('| what was tried | cases | what happened | as guaranteed | test |', '|---|---|---|---|---|');
    for (const r of mine) lines.push(`| ${cell(r.tried)} | ${r.cases} | ${cell(r.outcome)} | ${r.ok ? 'yes' : '**no**'} | \`${path.basename(r.suite)}\` |`);
    lines.push('');
  }
  lines.push('## Soak', '');
  if (soak) {
    const m = soak.memory;
    lines.push(`\`${soak.command}\` (${soak.date}): ${soak.calls} concurrent calls for ${soak.durationS} s at ${soak.frameMs} ms frames, ${soak.faultRate * 100} % of the vendor stand-ins' requests faulted (every fault kind: 5xx, 429, timeout, stalled stream, malformed body, dropped connection).`, '');
    lines.push('| measure | result |', '|---|---|');
    lines.push(`| turns answered | ${soak.turns.answered} of ${soak.turns.attempted} (${soak.turns.answeredPercent} %), ${soak.turns.fallbacks} of them with the fallback phrase |`);
    lines.push(`| faults injected | ${soak.faultsInjected.deepgram} speech-to-text, ${soak.faultsInjected.elevenlabs} text-to-speech, in ${soak.faultsInjected.requests} vendor requests |`);
    lines.push(`| transcripts | ${soak.transcripts.missing} missing from answered turns, ${soak.transcripts.misheard} differing from what was said |`);
    lines.push(`| calls | ${soak.calls_.started} started, ${soak.calls_.completed} completed, ${soak.calls_.failed} failed |`);
    lines.push(`| memory (stack processes, after 60 s warm-up, ${m.samples} samples) | first half ${m.firstHalfMeanMb} MB, second half ${m.secondHalfMeanMb} MB (${m.growthPercent} %), slope ${m.slopeMbPerMin} MB/min: ${m.flat ? 'flat' : '**growing**'} |`);
    lines.push(`| turn latency | p50 ${soak.latency.p50} ms, p95 ${soak.latency.p95} ms, p99 ${soak.latency.p99} ms |`);
    lines.push(`| CPU | mean ${soak.cpuPercent.mean} %, max ${soak.cpuPercent.max} % of all cores |`);
    lines.push(`| errors by kind | ${Object.entries(soak.errors).map(([k, v]) => `${k} ${v}`).join(', ') || 'none'} |`);
    lines.push(`| verdict (≥ 99.9 % answered, no transcript missing, memory flat) | ${soak.pass ? 'pass' : '**fail**'} |`, '');
  } else {
    lines.push('Not run yet: `npm run soak`, then `npm run reliability -- --render-only`.', '');
  }
  lines.push(readFileSync(path.join(ROOT, 'docs', 'reliability', 'guarantees.md'), 'utf8').trim(), '');
  return lines.join('\n');
}

function main() {
  const o = new Command('reliability')
    .option('--soak', 'also run the soak (npm run soak) and keep its verdict')
    .option('--soak-args <args>', 'arguments for the soak, e.g. "--calls 4 --duration 600 --frame-ms 100"', '')
    .option('--render-only', 'render from the rows and soak verdict already recorded')
    .parse()
    .opts<{ soak?: boolean; soakArgs: string; renderOnly?: boolean }>();
  let jest: Parameters<typeof render>[1];
  let status = 0;
  if (!o.renderOnly) {
    rmSync(RELIABILITY_ROWS_DIR, { recursive: true, force: true });
    const suites = suitesThatRecord();
    const args = ['jest', '--runInBand', '--ci', '--json', `--outputFile=${JEST_OUT}`, ...suites];
    console.log(`reliability: npx ${args.slice(0, 4).join(' ')} … ${suites.length} suites`);
    const ranAt = new Date().toISOString();
    const run = spawnSync('npx', args, { cwd: ROOT, stdio: 'inherit' });
    status = run.status ?? 1;
    const results = JSON.parse(readFileSync(JEST_OUT, 'utf8')) as { numPassedTests: number; numFailedTests: number };
    jest = { passed: results.numPassedTests, failed: results.numFailedTests, suites, ranAt, command: 'npm run reliability' };
    writeFileSync(path.join(path.dirname(JEST_OUT), 'jest-summary.json'), JSON.stringify(jest));
  } else if (existsSync(path.join(path.dirname(JEST_OUT), 'jest-summary.json'))) {
    jest = JSON.parse(readFileSync(path.join(path.dirname(JEST_OUT), 'jest-summary.json'), 'utf8'));
  }
  if (o.soak) {
    const soakArgs = o.soakArgs.split(/\s+/).filter(Boolean);
    const run = spawnSync('npx', ['tsx', '--single-threaded-gc', path.join('tools', 'soak.ts'), '--out', SOAK_OUT, ...soakArgs], { cwd: ROOT, stdio: 'inherit' });
    if (existsSync(path.join(SOAK_OUT, 'soak.json'))) {
      mkdirSync(path.dirname(SOAK_KEPT), { recursive: true });
      copyFileSync(path.join(SOAK_OUT, 'soak.json'), SOAK_KEPT);
    }
    if (run.status !== 0) status = status || 1;
  }
  const soak = existsSync(SOAK_KEPT) ? (JSON.parse(readFileSync(SOAK_KEPT, 'utf8')) as SoakVerdict) : undefined;
  const rows = readRows();
  writeFileSync(path.join(ROOT, 'RELIABILITY.md'), render(rows, jest, soak));
  const notOk = rows.filter((r) => !r.ok).length;
  console.log(`RELIABILITY.md: ${rows.length} rows (${notOk} not as guaranteed)${soak ? `, soak of ${soak.date}` : ', no soak yet'}`);
  process.exit(status || (notOk > 0 ? 1 : 0));
}

main();
