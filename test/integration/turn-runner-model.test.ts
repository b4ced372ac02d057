/**
 * Turns answered by a language model, end to end inside one environment: the turn runner, the model responder with the
 * front desk agent, the product's Bedrock adapter and the unchanged SDK against the local Bedrock Runtime stand-in, and a
 * real DynamoDB API (dynalite). What is checked: the reply is spoken sentence by sentence while the model is still
 * writing, the stages are timed, tool calls change the stored facts, a failed model still gets the caller an answer,
 * and a speculation's model call is stopped and counted when it is discarded.
 */
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { DEFAULT_ENDPOINTING } from '../../functions/contracts/turn-policy';
import { DEFAULT_MEDIA_CONFIG } from '../../functions/domain/call/media-processor';
import { DEFAULT_TURN_CONFIG, TurnRunner } from '../../functions/domain/call/turn-runner';
import { wireCall } from '../../functions/domain/call/wiring';
import { createRuleResponder, FRONT_DESK } from '../../functions/domain/responder';
import { FRONT_DESK_AGENT } from '../../functions/domain/responder/front-desk-agent';
import { createModelResponder } from '../../functions/domain/responder/model-responder';
import { BedrockLanguageModel } from '../../functions/providers/bedrock/converse-stream';
import type { ModelPolicy } from '../../local/vendors/bedrock/policy';
import { BedrockRuntimeServer, ZERO_MODEL_LATENCY } from '../../local/vendors/bedrock/server';
import { startTestTable, type TestTable } from '../support/dynamo';
import { LengthSpeechToText, MemoryTelemetry, RecordingSender, ToneTextToSpeech } from '../support/fakes';

const MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
let table: TestTable;
let bedrock: BedrockRuntimeServer;
let policy: ModelPolicy;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'local-test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'x';
  table = await startTestTable();
  bedrock = new BedrockRuntimeServer({ latency: ZERO_MODEL_LATENCY, policy: (input) => policy(input) });
  await bedrock.start();
});
afterAll(async () => {
  await bedrock.close();
  await table.close();
});
beforeEach(() => {
  bedrock.faults.clear();
  bedrock.latency = ZERO_MODEL_LATENCY;
});

let n = 0;
async function setup() {
  const store = new DynamoCallStore(table.tableName, table.client);
  const sender = new RecordingSender();
  const telemetry = new MemoryTelemetry();
  const tts = new ToneTextToSpeech();
  const model = new BedrockLanguageModel({ modelId: MODEL, region: 'us-east-1', endpoint: bedrock.url, firstEventMs: 1000, idleMs: 1000 });
  const responder = createModelResponder(FRONT_DESK_AGENT, { model, fallback: createRuleResponder(FRONT_DESK) });
  const config = { ...DEFAULT_TURN_CONFIG, sttTimeoutMs: 500, ttsTimeoutMs: 500 };
  const now = () => Date.now();
  const stt = new LengthSpeechToText(() => 'please book me in on tuesday at three pm');
  const runner = new TurnRunner({ store, sender, stt, tts, responder, telemetry, config, now });
  const callId = `model-turn-${++n}`;
  const { calls } = wireCall({ store, sender, stt, tts, responder, telemetry, turnConfig: config, mediaConfig: { ...DEFAULT_ENDPOINTING, ...DEFAULT_MEDIA_CONFIG }, now });
  await calls.connect(callId, `conn-${n}`);
  await calls.start(callId, { event: 'start', sequenceNumber: 1, streamSid: `MZ${n}`, start: { streamSid: `MZ${n}` } }, Date.now());
  const claim = async () => (await store.claimEndpoint(callId, (await store.getCall(callId))!.lastEndpointChunk, 100 * (n + 1), true))!;
  return { store, sender, telemetry, tts, runner, callId, claim };
}

type Call = Awaited<ReturnType<Awaited<ReturnType<typeof setup>>['claim']>>;
const speechTurn = (call: Call) => ({
  kind: 'speech' as const,
  turn: call.turnCount,
  call,
  audio: new Uint8Array(8000),
  timings: { speechEndAt: Date.now() - 400, endpointAt: Date.now() },
});

it('speaks the first sentence while the model is still writing the rest, and times each stage', async () => {
  policy = () => ({ text: 'Sure, I can help with that. We have Tuesday afternoons open most weeks. Let me check three PM for you now.' });
  bedrock.latency = { firstToken: { kind: 'fixed', ms: 150 }, tokensPerSecond: 40 }; // ~27 tokens: ~0.7 s of writing
  const w = await setup();
  const greeting = w.tts.texts.length;
  const record = await w.runner.run(speechTurn(await w.claim()));
  const served = bedrock.requests.at(-1)!;
  expect(served.stopReason).toBe('end_turn');
  expect(record.status).toBe('completed');
  expect(record.reply).toBe('Sure, I can help with that. We have Tuesday afternoons open most weeks. Let me check three PM for you now.');
  expect(w.tts.texts.slice(greeting)).toEqual(['Sure, I can help with that.', 'We have Tuesday afternoons open most weeks.', 'Let me check three PM for you now.']);
  const t = record.timings;
  expect(t.transcriptAt! <= t.firstTokenAt!).toBe(true);
  expect(t.firstTokenAt! <= t.replyAt!).toBe(true);
  expect(t.replyAt! <= t.ttsFirstByteAt!).toBe(true);
  expect(record.providerMs!.modelFirstToken).toBeGreaterThanOrEqual(140);
  // The caller heard the first sentence long before the model had written the last one (~0.7 s of output at 40/s).
  expect(t.lastAudioAt! - t.firstAudioAt!).toBeGreaterThan(300);
  expect(w.telemetry.timings.get('ModelFirstTokenLatency')).toHaveLength(1);
  expect(w.telemetry.counts.get('ModelCalls')).toBe(1);
  expect(w.telemetry.counts.get('ModelOutputTokens')).toBe(served.outputTokens);
  // The conversation is stored for the next turn, apart from the call item (which every frame's tick reads).
  expect(await w.store.getHistory(w.callId)).toEqual([
    { role: 'user', content: [{ text: 'please book me in on tuesday at three pm' }] },
    { role: 'assistant', content: [{ text: record.reply }] },
  ]);
  const stored = await w.store.getCall(w.callId);
  expect(stored!.dialog).toEqual({ name: 'main', slots: {}, misses: 0 });
});

it('books through a tool call: the tool result goes back in the same turn and the booking is stored', async () => {
  policy = ({ toolResults }) =>
    toolResults.length > 0
      ? { text: `Done: ${(toolResults[0]!.content as { booked: string }).booked}.` }
      : { text: 'One moment.', toolUses: [{ name: 'book_appointment', input: { day: 'tuesday', time: '15:00' } }] };
  const w = await setup();
  const record = await w.runner.run(speechTurn(await w.claim()));
  expect(record.reply).toBe('One moment. Done: Tuesday at 3 PM.');
  expect(record.intent).toBe('book_appointment');
  expect(bedrock.requests.slice(-2).map((r) => r.stopReason)).toEqual(['tool_use', 'end_turn']);
  expect((await w.store.getCall(w.callId))!.dialog!.slots).toEqual({ appt_day: 'tuesday', appt_time: '15:00' });
  expect(w.telemetry.counts.get('ModelCalls')).toBe(2);
});

it('a model that stays down (throttled, then failing) is answered by the rules: LlmErrors, LlmFallbacks, no silence', async () => {
  policy = () => ({ text: 'never said' });
  bedrock.faults.next('http-429').next('http-500');
  const w = await setup();
  const record = await w.runner.run(speechTurn(await w.claim()));
  expect(record.status).toBe('completed');
  expect(record.reply).not.toContain('never said');
  expect(record.reply).toMatch(/Tuesday at 3 PM/); // the rule responder understood the same words
  expect(w.sender.events('media').length).toBeGreaterThan(0);
  expect(w.telemetry.counts.get('LlmErrors')).toBe(1);
  expect(w.telemetry.counts.get('LlmFallbacks')).toBe(1);
});

it('a prepared (speculative) model answer that is discarded stops the model and counts what it spent', async () => {
  policy = () => ({ text: 'First sentence here. Then a second one that the caller will never hear.' });
  bedrock.latency = { firstToken: { kind: 'fixed', ms: 20 }, tokensPerSecond: 100 };
  const w = await setup();
  const call = await w.claim();
  const abort = new AbortController();
  const prepared = await w.runner.prepare(call, new Uint8Array(8000), abort.signal);
  expect(prepared.head!.text).toBe('First sentence here.');
  expect(prepared.answer).toBeDefined();
  abort.abort();
  prepared.discard();
  await new Promise((r) => setTimeout(r, 300));
  expect(w.telemetry.counts.get('SpeculationModelCalls')).toBe(1);
  expect(bedrock.requests.at(-1)!.stopReason).not.toBe('end_turn'); // the stream was abandoned before its end
});

it('a prepared model answer that is delivered plays its first sentence from the synthesis already open', async () => {
  policy = () => ({ text: 'Prepared first. And the rest follows.' });
  const w = await setup();
  const call = await w.claim();
  const prepared = await w.runner.prepare(call, new Uint8Array(8000), new AbortController().signal);
  const record = await w.runner.run({ ...speechTurn(call), prepared });
  expect(record.preempted).toBe(true);
  expect(record.reply).toBe('Prepared first. And the rest follows.');
  expect(w.tts.texts.filter((t) => t === 'Prepared first.')).toHaveLength(1); // not synthesized twice
  expect(record.timings.firstTokenAt).toBe(record.timings.endpointAt);
});

it('the conversation is read once a turn and an older turn finishing late does not overwrite a newer one', async () => {
  policy = ({ userText }) => ({ text: `Heard: ${userText}.` });
  const w = await setup();
  await w.runner.run(speechTurn(await w.claim()));
  const afterFirst = await w.store.getHistory(w.callId);
  expect(afterFirst).toHaveLength(2);
  // The second turn answers with the first in its conversation.
  await w.runner.run(speechTurn(await w.claim()));
  expect(bedrock.requests.at(-1)!.body!.messages).toHaveLength(3);
  const afterSecond = await w.store.getHistory(w.callId);
  expect(afterSecond).toHaveLength(4);
  // A stale turn (number 1) finishing now changes neither the call's dialog nor the conversation.
  const stale = { name: 'main', slots: { appt_day: 'monday', appt_time: '09:00' }, misses: 0, history: afterFirst };
  await w.store.finishTurn(w.callId, { turn: 1, kind: 'speech', status: 'completed', timings: { endpointAt: Date.now() } }, { dialog: stale });
  expect(await w.store.getHistory(w.callId)).toEqual(afterSecond);
  expect((await w.store.getCall(w.callId))!.dialog!.slots).toEqual({});
});
