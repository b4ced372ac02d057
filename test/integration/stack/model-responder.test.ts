/**
 * A call answered by the language model path, end to end through the local stack (RESPONDER=bedrock): the gateway,
 * the deployable bundles in the Lambda runtime, the Deepgram and ElevenLabs stand-ins, and the Bedrock Runtime
 * stand-in at a Haiku-class latency, answering with its front desk policy (not a model) through the unchanged SDK.
 * A booking is made through tool calls, the conversation is stored with the call, a failing model still gets the
 * caller an answer, and goodbye ends the call.
 */
import type { DynamoCallStore } from '../../../functions/adapters/dynamo-call-store';
import type { LocalStack } from '../../../local/stack';
import { callIdOf, connectCaller, speech, startStack, until } from '../../support/stack';

let stack: LocalStack;
let store: DynamoCallStore;

beforeAll(async () => {
  ({ stack, store } = await startStack('model-responder', { providers: 'zero', responder: 'bedrock', provisionedByFunction: { media: 3 } }));
}, 180_000);
afterAll(async () => stack?.stop());

it('books through tool calls, keeps the conversation, survives a failing model, and hangs up on goodbye', async () => {
  const caller = await connectCaller(stack);
  const greeting = await caller.waitForTurn(1);
  expect(greeting?.reply).toMatch(/thanks for calling maple street dental/i);
  await caller.waitForAgentSilence(300);
  const callId = await callIdOf(stack, caller.streamSid);

  let turn = 2;
  const say = async (words: string) => {
    await caller.speak(await speech(words));
    const report = await caller.waitForTurn(turn);
    expect(report).toMatchObject({ transcript: words, status: 'completed' });
    turn = report!.turn + 1;
    await caller.waitForAgentSilence(300);
    return report!;
  };

  expect((await say('i would like to book an appointment')).reply).toBe('What day and time would you like to come in?');
  expect((await say('tuesday at three pm')).reply).toBe("That's an appointment on Tuesday at 3 PM. Shall I book it?");
  const booked = await say('yes please');
  expect(booked.intent).toBe('book_appointment');
  expect(booked.reply).toMatch(/^One moment\. You're booked for Tuesday at 3 PM\./);
  expect(stack.bedrock!.requests.filter((r) => r.status === 200).slice(-2).map((r) => r.stopReason)).toEqual(['tool_use', 'end_turn']);
  const stored = await store.getCall(callId);
  expect(stored!.dialog!.slots).toEqual({ appt_day: 'tuesday', appt_time: '15:00' });
  expect(stored!.dialog!.history).toBeUndefined(); // kept apart from the call item
  expect((await store.getHistory(callId))!.length).toBeGreaterThanOrEqual(8);

  // The model fails (the try and its one retry) on every request while the caller says this: the rules answer from
  // the stored facts. Every request, not the next two: preemptive generation may start on a pause inside the words
  // (and be discarded), and its model calls would take two scripted faults the answer never meets (a CI run saw it).
  const failing = stack.bedrock!.requests.length;
  stack.bedrock!.faults.next('http-500', 1000);
  const fallback = await say('what are your opening hours');
  stack.bedrock!.faults.clear();
  expect(fallback.intent).toBe('hours');
  expect(fallback.reply).toMatch(/open Monday to Friday/);
  expect(stack.logs.metric('LlmFallbacks').sum).toBeGreaterThanOrEqual(1);
  expect(stack.logs.metric('LlmErrors').sum).toBeGreaterThanOrEqual(1);
  // The answer that fell back asked twice (the try and the retry), and got 500 both times.
  expect(stack.bedrock!.requests.slice(failing).filter((r) => r.status === 500).length).toBeGreaterThanOrEqual(2);

  const bye = await say('goodbye');
  expect(bye.intent).toBe('end_call');
  await until(() => caller.closed, 15_000);

  // Every model call was signed by a function allowed to make it (media), on the configured inference profile.
  expect(stack.bedrock!.requests.every((r) => r.status !== 403)).toBe(true);
  expect(stack.logs.metric('ModelCalls').sum).toBeGreaterThanOrEqual(6);
  expect(stack.logs.metric('ModelFirstTokenLatency').values.length).toBeGreaterThanOrEqual(5);
}, 180_000);
