/**
 * Real human speech against the whole local stack, as a Twilio-framed caller (μ-law 8 kHz, 20 ms frames, real
 * time): read sentences, short phrases, a digit string, and sentences with a pause inside (300–400 ms as recorded,
 * one stretched to 600 ms and labelled edited). The recordings and their transcripts come from Debian packages
 * (tools/bench/recordings.ts). Speech-to-text is the Deepgram stand-in on the seed latency model; audio it does not
 * know (all of these) it hands to the offline recognizer (pocketsphinx), so the words are really recognized.
 *
 * Asserted: no caller is cut off mid-utterance (one speech turn per recording, covering all of it), every utterance
 * gets one answer, and each answer's timing is recorded. Recognition is measured, not asserted: the word error rate of
 * each recording is written to .cache/recordings/report.json and printed.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import type { DynamoCallStore } from '../../../functions/adapters/dynamo-call-store';
import { digitsToWords } from '../../../functions/domain/responder';
import type { LocalStack } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import type { TurnReport } from '../../../tools/caller/session';
import { loadRecordings, type Recording } from '../../../tools/bench/recordings';
import { callIdOf, connectCaller, startStack } from '../../support/stack';

let stack: LocalStack;
let store: DynamoCallStore;
const recordings: Recording[] = loadRecordings();

beforeAll(async () => {
  ({ stack, store } = await startStack('real-recordings', { providers: 'seed', provisionedByFunction: { media: 4 } }));
}, 180_000);
afterAll(async () => stack?.stop());

it('answers every recorded utterance once, cutting no caller off, with the answer timed', async () => {
  expect(recordings.filter((r) => r.kind === 'pause inside').map((r) => r.longestPauseMs)).toContain(600);
  const caller = await connectCaller(stack);
  await caller.waitForTurn(1);
  await caller.waitForAgentSilence(300);
  const callId = await callIdOf(stack, caller.streamSid);

  const answers: { recording: Recording; report: TurnReport }[] = [];
  let next = 2;
  for (const recording of recordings) {
    await caller.speak(recording.audio);
    const report = await caller.waitForTurn(next, 30_000);
    if (!report) throw new Error(`${recording.id}: no answer`);
    answers.push({ recording, report });
    next = report.turn + 1;
    await caller.waitForAgentSilence(300);
    // Nothing of this recording may still come: a caller cut off mid-utterance leaves a second turn behind.
    await new Promise((resolve) => setTimeout(resolve, 1500));
    if (caller.closed) break;
  }
  const speechTurns = (await store.listTurns(callId)).filter((t) => t.kind === 'speech');
  const report = answers.map(({ recording, report }) => {
    const turn = speechTurns.find((t) => t.turn === report.turn);
    const heard = digitsToWords(report.transcript ?? '');
    return {
      id: recording.id,
      kind: recording.kind,
      ...(recording.edited ? { edited: recording.edited } : {}),
      durationMs: recording.durationMs,
      speechSpanMs: recording.speechSpanMs,
      longestPauseMs: recording.longestPauseMs,
      turn: report.turn,
      status: report.status,
      reference: recording.transcript,
      heard,
      wordErrorRate: Number(wordErrorRate(digitsToWords(recording.transcript), heard).toFixed(3)),
      latencyMs: report.serverLatencyMs,
      endOfTurn: report.endOfTurn,
      speechMs: turn?.speechMs,
    };
  });
  const out = path.join('.cache', 'recordings');
  mkdirSync(out, { recursive: true });
  const words = report.reduce((n, r) => n + r.reference.split(' ').length, 0);
  const wer = report.reduce((n, r) => n + r.wordErrorRate * r.reference.split(' ').length, 0) / words;
  writeFileSync(path.join(out, 'report.json'), JSON.stringify({ date: new Date().toISOString(), wordErrorRate: wer, recordings: report }, null, 2));
  process.stdout.write(
    `real recordings: word error rate ${(100 * wer).toFixed(1)} % over ${words} words\n` +
      report.map((r) => `  ${r.id.padEnd(20)} ${String(r.latencyMs?.toFixed(0) ?? '-').padStart(5)} ms  ${r.endOfTurn?.heard ?? '-'}/${r.endOfTurn?.silenceMs ?? '-'}  WER ${r.wordErrorRate}`).join('\n') +
      '\n',
  );

  await caller.hangUp();
  // One speech turn per recording: a caller cut off mid-utterance leaves two (the answer to the first half, then the rest).
  expect(speechTurns).toHaveLength(recordings.length);
  expect(answers.map((a) => a.recording.id)).toEqual(recordings.map((r) => r.id));
  for (const [i, { recording, report: answered }] of answers.entries()) {
    const turn = speechTurns[i]!;
    expect({ id: recording.id, turn: turn.turn }).toEqual({ id: recording.id, turn: answered.turn });
    // The turn heard the whole recording: from its first speech frame to its last, pauses included (a frame either side
    // for where 20 ms frames fall on the caller's stream).
    const spanMs = (turn.toChunk! - turn.fromChunk! + 1) * 20;
    expect({ id: recording.id, covered: spanMs >= recording.speechSpanMs - 40 }).toEqual({ id: recording.id, covered: true });
    // One answer, timed: end of the caller's speech → first agent audio, as the server measured it.
    expect({ id: recording.id, status: answered.status, timed: typeof answered.serverLatencyMs === 'number' }).toEqual({ id: recording.id, status: 'completed', timed: true });
  }
}, 300_000);
