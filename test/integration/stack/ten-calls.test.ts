/**
 * Ten calls at once through the local stack, with the vendor stand-ins (`seed`: Deepgram and ElevenLabs as the
 * official SDKs speak to them, with the seed study's latencies; the Deepgram stand-in recognizes the known lines by
 * fingerprint, local/vendors/known-utterances.ts).
 *
 * Why not the offline engines, as call-flow.test.ts uses for one call at a time: ten pocketsphinx decodes at once
 * saturate this machine's two cores for seconds; media invocations then took 81 ms at the median instead of a few,
 * 276 were in flight at the peak against 36 provisioned environments, and the cold starts that followed held frames
 * for seconds — past the start of their turn's answer, where a word is lost to it (LateFrames), as it would be on AWS
 * with provisioned concurrency sized far too small. That made this test fail 4 of 9 runs on 2026-12-02 (one of them a fresh-clone CI)
 * (heard "person" for "i want to talk to a person"). What it is about is isolation, which the cheap recognizer
 * checks as well: another call's audio in this call's utterance would not match this call's line.
 */
import type { LocalStack } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import { connectCaller, speech, startStack } from '../../support/stack';

let stack: LocalStack;

beforeAll(async () => {
  // Media needs an environment per turn in flight (turns run inline) and per watcher, plus a few for frames.
  ({ stack } = await startStack('ten-calls', {
    providers: 'seed',
    vendorAudio: 'synthetic',
    provisionedByFunction: { media: 24, start: 6 },
  }));
}, 180_000);
afterAll(async () => stack?.stop());

describe('ten simultaneous calls', () => {
  it('keeps ten simultaneous calls apart: each call hears its own words and gets its own answer', async () => {
    const lines: [string, string][] = [
      ['what are your opening hours', 'hours'],
      ['where are you located', 'location'],
      ['cancel my appointment', 'cancel'],
      ['i want to talk to a person', 'transfer'],
      ['what time do you open on saturday', 'hours'],
      ['goodbye', 'goodbye'],
      ['i would like to book an appointment', 'book'],
      ['where are you located', 'location'],
      ['what are your opening hours', 'hours'],
      ['i want to talk to a person', 'transfer'],
    ];
    const results = await Promise.all(
      lines.map(async ([line, intent], i) => {
        await new Promise((r) => setTimeout(r, i * 150)); // callers arriving over 1.5 s, all active at once
        // 100 ms chunks: this test is about isolation between calls; capacity at Twilio's 20 ms framing is measured
        // by the load benchmark, not asserted here.
        const caller = await connectCaller(stack, { frameMs: 100 });
        await caller.waitForTurn(1);
        await caller.waitForAgentSilence(300);
        await caller.speak(await speech(line));
        const report = await caller.waitForTurn(2, 60_000);
        await caller.hangUp();
        return { line, intent, report };
      }),
    );
    // Each call got the answer to its own words: no call heard another's audio or answer.
    for (const { line, intent, report } of results) {
      expect(report?.status).toBe('completed');
      expect(report?.intent).toBe(intent);
      // Guards against garbage or another call's words; exact quality is the single-call tests' job.
      const wer = wordErrorRate(line, report?.transcript ?? '');
      expect({ line, heard: report?.transcript, werAtMostHalf: wer <= 0.5 }).toEqual({ line, heard: report?.transcript, werAtMostHalf: true });
    }
  }, 120_000);
});
