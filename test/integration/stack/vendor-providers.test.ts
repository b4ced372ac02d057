/**
 * The same call through the Deepgram and ElevenLabs SDK adapters, chosen by configuration (PROVIDERS=zero: the
 * local stand-ins speaking the vendors' APIs, no added latency), end to end through the local stack.
 */
import { LocalStack } from '../../../local/stack';
import { connectCaller, speech, startStack } from '../../support/stack';

let stack: LocalStack;
const turnLines: { stt?: string; tts?: string; route?: string }[] = [];

beforeAll(async () => {
  ({ stack } = await startStack('vendor-providers', { providers: 'zero', provisionedByFunction: { media: 3 } }));
  stack.logs.onLine((_fn, line) => {
    if (line.includes('"turn finished"')) turnLines.push(JSON.parse(line.slice(line.indexOf('{'))));
  });
}, 180_000);
afterAll(async () => stack?.stop());

it('hears through Deepgram and speaks through ElevenLabs, preemptively, with exact transcripts', async () => {
  const caller = await connectCaller(stack);
  const greeting = await caller.waitForTurn(1);
  expect(greeting?.reply).toMatch(/thanks for calling/i);
  await caller.waitForAgentSilence(300);
  let turn = 2;
  for (const [say, intent] of [
    ['what are your opening hours', /hours/],
    ['i would like to book an appointment', /book/],
  ] as const) {
    await caller.speak(await speech(say));
    const report = await caller.waitForTurn(turn);
    expect(report).toMatchObject({ transcript: say, status: 'completed' });
    expect(report?.intent).toMatch(intent);
    turn = report!.turn + 1;
    await caller.waitForAgentSilence(300);
  }
  await caller.hangUp();
  // Every turn went through the vendor adapters (the offline engines are named offline-*).
  expect(turnLines.length).toBeGreaterThanOrEqual(3);
  for (const line of turnLines) expect({ stt: line.stt, tts: line.tts }).toEqual({ stt: 'deepgram', tts: 'elevenlabs' });
  expect(stack.logs.metric('TurnsPreempted').sum).toBeGreaterThanOrEqual(1);
  expect(stack.logs.metric('ProviderErrors').sum).toBe(0);
});

it('refuses PROVIDERS=cloud without the vendor keys, with a clear error', async () => {
  const saved = { dg: process.env.DEEPGRAM_API_KEY, el: process.env.ELEVENLABS_API_KEY };
  delete process.env.DEEPGRAM_API_KEY;
  delete process.env.ELEVENLABS_API_KEY;
  try {
    await expect(new LocalStack({ port: 0, providers: 'cloud', skipBuild: true, logsDir: '.cache/test-logs/cloud-refused' }).start()).rejects.toThrow(
      /PROVIDERS=cloud .* set DEEPGRAM_API_KEY and ELEVENLABS_API_KEY/,
    );
  } finally {
    if (saved.dg !== undefined) process.env.DEEPGRAM_API_KEY = saved.dg;
    if (saved.el !== undefined) process.env.ELEVENLABS_API_KEY = saved.el;
  }
}, 120_000);
