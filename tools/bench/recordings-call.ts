/**
 * Real human speech as a caller (tools/bench/recordings.ts), against a stack: each recording streamed as a Twilio
 * caller does (μ-law 8 kHz, 20 ms frames, real time), the agent's answer awaited and played out, then the next.
 *   npx tsx tools/bench/recordings-call.ts [--providers seed|zero|offline]
 * starts a local stack and prints, per recording, the answer's latency (end of the caller's speech → first agent audio,
 * server-measured), how the turn's end was decided, and the word error of what was heard; then how many callers were
 * cut off (speech turns beyond one per recording). The stack test test/integration/stack/real-recordings.test.ts
 * asserts on the same run.
 */
import { Command } from 'commander';
import path from 'node:path';
import { digitsToWords } from '../../functions/domain/responder';
import { LocalStack, PROVIDERS, type Providers } from '../../local/stack';
import { wordErrorRate } from '../../local/speech/stt/lm';
import { CallerSession, type TurnReport } from '../caller/session';
import { loadRecordings, type Recording } from './recordings';

export interface RecordingAnswer {
  readonly id: string;
  readonly kind: Recording['kind'];
  readonly edited?: string;
  readonly durationMs: number;
  readonly speechSpanMs: number;
  readonly longestPauseMs: number;
  readonly turn: number;
  readonly status?: string;
  readonly reference: string;
  readonly heard: string;
  readonly wordErrorRate: number;
  readonly latencyMs?: number;
  readonly endOfTurn?: TurnReport['endOfTurn'];
}

export interface RecordingsCall {
  readonly streamSid: string;
  readonly answers: readonly RecordingAnswer[];
  /** Speech turns the agent reported: one per recording unless a caller was cut off (or a recording went unanswered). */
  readonly speechTurns: number;
  /** Word error over all recordings, weighted by their words. */
  readonly wordErrorRate: number;
}

/** Streams `recordings` as one caller to `url`, one answer at a time, and hangs up. */
export async function callWithRecordings(url: string, recordings: readonly Recording[], onCall?: (streamSid: string) => Promise<void>): Promise<RecordingsCall> {
  const caller = new CallerSession({ url, events: true });
  await caller.connect();
  await caller.waitForTurn(1);
  await caller.waitForAgentSilence(300);
  await onCall?.(caller.streamSid);
  const answers: RecordingAnswer[] = [];
  let next = 2;
  for (const recording of recordings) {
    await caller.speak(recording.audio);
    const report = await caller.waitForTurn(next, 30_000);
    if (!report) throw new Error(`${recording.id}: no answer`);
    next = report.turn + 1;
    const heard = digitsToWords(report.transcript ?? '');
    const reference = digitsToWords(recording.transcript);
    answers.push({
      id: recording.id,
      kind: recording.kind,
      ...(recording.edited ? { edited: recording.edited } : {}),
      durationMs: recording.durationMs,
      speechSpanMs: recording.speechSpanMs,
      longestPauseMs: recording.longestPauseMs,
      turn: report.turn,
      status: report.status,
      reference,
      heard,
      wordErrorRate: Number(wordErrorRate(reference, heard).toFixed(3)),
      latencyMs: report.serverLatencyMs,
      endOfTurn: report.endOfTurn,
    });
    await caller.waitForAgentSilence(300);
    // Nothing of this recording may still come: a caller cut off mid-utterance leaves a second turn behind.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    if (caller.closed) break;
  }
  await caller.hangUp();
  const speechTurns = [...caller.turns.values()].filter((t) => t.timings?.speechEndAt !== undefined).length;
  const words = answers.reduce((n, a) => n + a.reference.split(' ').length, 0);
  const errors = answers.reduce((n, a) => n + a.wordErrorRate * a.reference.split(' ').length, 0);
  return { streamSid: caller.streamSid, answers, speechTurns, wordErrorRate: words > 0 ? errors / words : 0 };
}

/** One line per recording, then the totals. */
export function renderRecordingsCall(call: RecordingsCall, recordings: number): string {
  const lines = call.answers.map(
    (a) =>
      `  ${a.id.padEnd(20)} ${`${a.durationMs}`.padStart(5)} ms of audio, pause ${`${a.longestPauseMs}`.padStart(3)} ms → answered in ${`${a.latencyMs?.toFixed(0) ?? '—'}`.padStart(5)} ms, ` +
      `ended after ${a.endOfTurn?.silenceMs ?? '—'} ms (${a.endOfTurn?.heard ?? 'not judged'}), word error ${(100 * a.wordErrorRate).toFixed(0)} %: "${a.heard}"`,
  );
  const latencies = call.answers.flatMap((a) => (a.latencyMs === undefined ? [] : [a.latencyMs])).sort((x, y) => x - y);
  const median = latencies[Math.floor(latencies.length / 2)];
  return [
    ...lines,
    `${call.answers.length} recordings: ${call.speechTurns - recordings} caller(s) cut off (speech turns ${call.speechTurns}); answer latency median ${median?.toFixed(0) ?? '—'} ms, ` +
      `max ${latencies.at(-1)?.toFixed(0) ?? '—'} ms; within 1.5 s: ${latencies.filter((l) => l <= 1500).length}/${latencies.length}; word error ${(100 * call.wordErrorRate).toFixed(1)} %`,
  ].join('\n');
}

async function main(): Promise<void> {
  const o = new Command()
    .option('--providers <p>', `speech providers: ${PROVIDERS.join(', ')}`, 'seed')
    .parse()
    .opts<{ providers: Providers }>();
  if (!PROVIDERS.includes(o.providers)) throw new Error(`--providers must be one of ${PROVIDERS.join(', ')}`);
  const recordings = loadRecordings();
  const stack = new LocalStack({ port: 0, providers: o.providers, provisionedByFunction: { media: 4 }, logsDir: path.join('.cache', 'recordings', `logs-${o.providers}`) });
  await stack.start();
  try {
    console.log(`providers ${o.providers}: npx tsx tools/bench/recordings-call.ts --providers ${o.providers} (${new Date().toISOString()})`);
    console.log(renderRecordingsCall(await callWithRecordings(stack.callerUrl(), recordings), recordings.length));
  } finally {
    await stack.stop();
  }
}

if (require.main === module) {
  main().then(
    () => process.exit(0),
    (err: unknown) => {
      console.error(err);
      process.exit(1);
    },
  );
}
