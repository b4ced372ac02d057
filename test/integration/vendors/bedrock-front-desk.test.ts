/**
 * A whole conversation on the model path, as the local stack runs it: the front desk agent's model responder, the
 * Bedrock adapter and the unchanged SDK, and the stand-in answering with its front desk policy (the rules replayed,
 * changes asked for as tool calls). Checks that a booking is made through tool calls whose results go back to the
 * "model", that the facts and the conversation carry from turn to turn, and that transfer and goodbye become actions.
 */
import { FRONT_DESK, createRuleResponder } from '../../../functions/domain/responder';
import { FRONT_DESK_AGENT } from '../../../functions/domain/responder/front-desk-agent';
import { createModelResponder } from '../../../functions/domain/responder/model-responder';
import type { DialogState, Reply } from '../../../functions/domain/responder/responder';
import { BedrockLanguageModel } from '../../../functions/providers/bedrock/converse-stream';
import { frontDeskPolicy } from '../../../local/vendors/bedrock/front-desk-policy';
import { BedrockRuntimeServer, ZERO_MODEL_LATENCY } from '../../../local/vendors/bedrock/server';

// A Monday afternoon in New York.
const NOW = new Date('2026-12-07T18:00:00Z');
let server: BedrockRuntimeServer;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'local-test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'x';
  server = new BedrockRuntimeServer({ latency: ZERO_MODEL_LATENCY, policy: frontDeskPolicy(() => NOW) });
  await server.start();
});
afterAll(() => server.close());

function conversation(canTransfer?: boolean) {
  const model = new BedrockLanguageModel({ modelId: 'us.anthropic.claude-3-5-haiku-20241022-v1:0', region: 'us-east-1', endpoint: server.url });
  const responder = createModelResponder(FRONT_DESK_AGENT, { model, fallback: createRuleResponder(FRONT_DESK, { now: () => NOW }), now: () => NOW });
  let state: DialogState = responder.initialState();
  return async (text: string): Promise<Reply> => {
    const reply = await responder.respond({ text, canTransfer }, state);
    state = reply.state;
    return reply;
  };
}

it('books, then cancels, through tool calls; the facts and the conversation carry between turns', async () => {
  const say = conversation();
  expect((await say('i would like to book an appointment')).text).toBe('What day and time would you like to come in?');
  expect((await say('tuesday at three pm')).text).toBe("That's an appointment on Tuesday at 3 PM. Shall I book it?");
  const booked = await say('yes please');
  expect(booked.text).toBe("One moment. You're booked for Tuesday at 3 PM. We look forward to seeing you. Is there anything else I can help you with?");
  expect(booked.intent).toBe('book_appointment');
  expect(booked.state.slots).toEqual({ appt_day: 'tuesday', appt_time: '15:00' });
  expect(booked.model).toMatchObject({ calls: 2, tools: ['book_appointment'], errors: [], fellBack: false });
  // The request that booked carried the whole conversation, and the prompt knew nothing was booked yet.
  const bookingRequest = server.requests.at(-2)!.body!;
  expect(bookingRequest.messages.filter((m) => m.role === 'user')).toHaveLength(3);

  expect((await say('can i cancel my appointment')).text).toBe('You want to cancel your appointment on Tuesday at 3 PM. Is that right?');
  const cancelled = await say('yes');
  expect(cancelled.intent).toBe('cancel_appointment');
  expect(cancelled.state.slots).toEqual({});
  expect(cancelled.text).toMatch(/^One moment\. Your appointment on Tuesday at 3 PM has been cancelled\./);
});

it('a booking outside the hours is refused by the rules before any tool, and said so', async () => {
  const say = conversation();
  await say('book an appointment');
  const reply = await say('sunday at ten am');
  expect(reply.text).toMatch(/closed on Sunday/);
  expect(reply.model!.tools).toEqual([]);
});

it('transfer and goodbye end the turn with the action, after the words', async () => {
  const transfer = await conversation(true)('can i talk to a person');
  expect(transfer.text).toBe("Sure, I'll connect you with a member of our team. Please hold.");
  expect(transfer.action).toBe('transfer');

  const noTransfer = await conversation(false)('can i talk to a person');
  expect(noTransfer.action).toBeUndefined();
  expect(noTransfer.text).toMatch(/I'm sorry, I can't connect you with a member of our team on this line/);

  const bye = await conversation()('thats all goodbye');
  expect(bye.action).toBe('hangup');
  expect(bye.model!.tools).toEqual(['end_call']);
});

it('the keypad reaches the policy as words: 0 is a transfer', async () => {
  const model = new BedrockLanguageModel({ modelId: 'm', region: 'us-east-1', endpoint: server.url });
  const responder = createModelResponder(FRONT_DESK_AGENT, { model, fallback: createRuleResponder(FRONT_DESK), now: () => NOW });
  const reply = await responder.respond({ dtmf: '0', canTransfer: true }, responder.initialState());
  expect(reply.action).toBe('transfer');
});
