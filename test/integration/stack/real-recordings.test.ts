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
import type { LocalStack } from '../../../local/stack';
import { callWithRecordings, renderRecordingsCall } from '../../../tools/bench/recordings-call';
import { loadRecordings, type Recording } from '../../../tools/bench/recordings';
import { callIdOf, startStack } from '../../support/stack';

let stack: LocalStack;
let store: DynamoCallStore;
const recordings: Recording[] = loadRecordings();

beforeAll(async () => {
  ({ stack, store } = await startStack('real-recordings', { providers: 'seed', provisionedByFunction: { media: 4 } }));
}, 180_000);
afterAll(async () => stack?.stop());

it('answers every recorded utterance once, cutting no caller off, with the answer timed', async () => {
  expect(recordings.filter((r) => r.kind === 'pause inside').map((r) => r.longestPauseMs)).toContain(600);
  let callId = '';
  const call = await callWithRecordings(stack.callerUrl(), recordings, async (streamSid) => {
    callId = await callIdOf(stack, streamSid);
  });
  const out = path.join('.cache', 'recordings');
  mkdirSync(out, { recursive: true });
  writeFileSync(path.join(out, 'report.json'), JSON.stringify({ date: new Date().toISOString(), ...call }, null, 2));
  process.stdout.write(`real recordings (providers seed):\n${renderRecordingsCall(call, recordings.length)}\n`);

  // One speech turn per recording: a caller cut off mid-utterance leaves two (the answer to the first half, then the rest).
  const speechTurns = (await store.listTurns(callId)).filter((t) => t.kind === 'speech');
  expect(speechTurns).toHaveLength(recordings.length);
  expect(call.speechTurns).toBe(recordings.length);
  expect(call.answers.map((a) => a.id)).toEqual(recordings.map((r) => r.id));
  for (const [i, answered] of call.answers.entries()) {
    const recording = recordings[i]!;
    const turn = speechTurns[i]!;
    expect({ id: recording.id, turn: turn.turn }).toEqual({ id: recording.id, turn: answered.turn });
    // The turn heard the whole recording: from its first speech frame to its last, pauses included (a frame either side
    // for where 20 ms frames fall on the caller's stream).
    const spanMs = (turn.toChunk! - turn.fromChunk! + 1) * 20;
    expect({ id: recording.id, covered: spanMs >= recording.speechSpanMs - 40 }).toEqual({ id: recording.id, covered: true });
    // One answer, timed: end of the caller's speech → first agent audio, as the server measured it.
    expect({ id: recording.id, status: answered.status, timed: typeof answered.latencyMs === 'number' }).toEqual({ id: recording.id, status: 'completed', timed: true });
  }
}, 300_000);
