/**
 * A speech frame delayed past its utterance's endpoint — on AWS a frame that pays a cold start, here one that waits in
 * a queue — still belongs to that utterance. The Lambda runtime delays the invocations of chosen frames (the last
 * speech frames of each utterance) before they reach an environment; every word of every utterance must still reach
 * its turn: merged into the utterance if it is stored before the endpoint is claimed, and otherwise, as long as the
 * turn has sent nothing, answered on the whole utterance.
 */
import { bytesForMs, toPcm16, isSpeech } from '../../../functions/domain/audio';
import type { AudioFormat } from '../../../functions/contracts/audio-format';
import { DEFAULT_ENDPOINTING } from '../../../functions/contracts/turn-policy';
import type { LocalStack } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import type { DynamoCallStore } from '../../../functions/adapters/dynamo-call-store';
import { recordReliability } from '../../support/reliability';
import { callIdOf, connectCaller, speech, startStack } from '../../support/stack';

let stack: LocalStack;
let store: DynamoCallStore;
beforeAll(async () => {
  ({ stack, store } = await startStack('late-frames', { provisionedByFunction: { media: 6 } }));
}, 180_000);
afterAll(async () => stack?.stop());

const FORMAT: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };

/** The utterance as the caller sends it (CallerSession.speak: 20 ms frames, the last one padded with silence), classified as the agent does. */
function framesOf(audio: Uint8Array) {
  const frameBytes = bytesForMs(20, FORMAT);
  const frames: { payload: string; speech: boolean }[] = [];
  for (let i = 0; i < audio.byteLength; i += frameBytes) {
    const frame = new Uint8Array(frameBytes).fill(0xff);
    frame.set(audio.subarray(i, Math.min(i + frameBytes, audio.byteLength)));
    frames.push({ payload: Buffer.from(frame).toString('base64'), speech: isSpeech(toPcm16(frame, FORMAT), DEFAULT_ENDPOINTING, FORMAT.sampleRate) });
  }
  return frames;
}

it('hears every word of every utterance whose last speech frames reach the function after the endpoint was due', async () => {
  const caller = await connectCaller(stack);
  await caller.waitForTurn(1);
  const callId = await callIdOf(stack, caller.streamSid);
  const lateBefore = stack.logs.metric('LateFrames').sum;
  const mergedBefore = stack.logs.metric('LateFramesMerged').sum;
  // Delays past the 400 ms endpoint silence: 250 ms lands the frames before the watcher looks (it then watches the
  // utterance's true end); 450 ms after it claimed the endpoint, while the turn is being transcribed (nothing sent yet).
  const lines: [string, RegExp, number][] = [
    ['what are your opening hours', /hours/, 250],
    ['where are you located', /location/, 450],
    ['cancel my appointment', /cancel/, 450],
  ];
  const outcomes: string[] = [];
  let turn = 1;
  for (const [line, intent, delayMs] of lines) {
    turn++;
    await caller.waitForAgentSilence(300);
    const audio = await speech(line);
    const frames = framesOf(audio);
    const speechFrames = frames.filter((f) => f.speech);
    const late = new Set(speechFrames.slice(-3).map((f) => f.payload));
    const delay = stack.delayInvocations({
      functionName: 'media',
      delayMs,
      match: (event) => {
        const body = JSON.parse((event as { body?: string }).body ?? '{}') as { event?: string; media?: { payload?: string } };
        return body.event === 'media' && late.has(body.media?.payload ?? '');
      },
    });
    try {
      await caller.speak(audio);
      const report = await caller.waitForTurn(turn, 30_000);
      expect(delay.delayed).toBe(late.size);
      expect(report?.status).toBe('completed');
      expect(report?.intent).toMatch(intent);
      expect(wordErrorRate(line, report?.transcript ?? '')).toBeLessThanOrEqual(0.25);
      // Every speech frame the caller sent is in the turn: the delayed ones included.
      const record = (await store.listTurns(callId)).find((t) => t.turn === turn);
      expect({ turn, speechMs: record?.speechMs }).toEqual({ turn, speechMs: speechFrames.length * 20 });
      outcomes.push(`"${line}": last 3 speech frames ${delayMs} ms late, ${record?.speechMs} ms of speech heard of ${speechFrames.length * 20}`);
    } finally {
      delay.stop();
    }
  }
  const lost = stack.logs.metric('LateFrames').sum - lateBefore;
  const merged = stack.logs.metric('LateFramesMerged').sum - mergedBefore;
  expect(lost).toBe(0);
  recordReliability({
    area: 'faults',
    tried: 'the last 3 speech frames of each of 3 utterances delayed 250–450 ms in the Lambda runtime (past the 400 ms endpoint)',
    cases: lines.length * 3,
    outcome: `${outcomes.join('; ')}; LateFramesMerged +${merged} (answered again on the whole utterance), LateFrames +${lost}`,
    ok: lost === 0,
  });
  await caller.hangUp();
}, 180_000);
