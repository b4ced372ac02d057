/**
 * Counted cases for RELIABILITY.md. A suite that tries bad input, faults or abuse records what it tried, how many
 * cases, and what happened — every value from the run itself, never a constant. `npm run reliability` clears
 * `.cache/reliability/rows/`, runs every suite that calls `recordReliability`, and renders the table from the rows.
 */
import { appendFileSync, mkdirSync } from 'node:fs';
import path from 'node:path';

export type ReliabilityArea = 'bad input' | 'faults' | 'abuse' | 'soak';

export interface ReliabilityRow {
  readonly area: ReliabilityArea;
  /** What was tried, e.g. "media frames with invalid base64 payloads, through the gateway". */
  readonly tried: string;
  /** How many cases (messages, runs, connections, injected faults) the run tried. */
  readonly cases: number;
  /** What happened, stated from measured values, e.g. "400 refused with a reason; 0 crashes; call answered". */
  readonly outcome: string;
  /** True when the outcome is what the system guarantees (the test asserts it; a failing test records false). */
  readonly ok: boolean;
}

export const RELIABILITY_ROWS_DIR = path.join(__dirname, '..', '..', '.cache', 'reliability', 'rows');

export function recordReliability(row: ReliabilityRow): void {
  if (!Number.isInteger(row.cases) || row.cases < 0) throw new RangeError(`cases must be a count, got ${row.cases}`);
  mkdirSync(RELIABILITY_ROWS_DIR, { recursive: true });
  const suite = path.relative(path.join(__dirname, '..', '..'), expect.getState().testPath ?? 'unknown');
  const test = expect.getState().currentTestName ?? '';
  appendFileSync(path.join(RELIABILITY_ROWS_DIR, `${process.pid}.jsonl`), JSON.stringify({ ...row, suite, test, at: new Date().toISOString() }) + '\n');
}
