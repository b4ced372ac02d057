/**
 * The model responder's own logic (functions/domain/responder/model-responder.ts) with the front desk agent, on a
 * scripted LanguageModel: each model call answers the next scripted turn, so what is tested is what the responder does
 * with text, tool calls, refusals and failures — not a model. (The Bedrock adapter against the wire is tested in
 * test/integration/vendors/bedrock-model.test.ts.)
 */
import { ModelError, type LanguageModel, type ModelEvent, type ModelRequest } from '../../../functions/domain/language-model';
import { createRuleResponder, FRONT_DESK } from '../../../functions/domain/responder';
import { FRONT_DESK_AGENT } from '../../../functions/domain/responder/front-desk-agent';
import { boundHistory, createModelResponder, MODEL_FAILURE_TEXT } from '../../../functions/domain/responder/model-responder';
import type { DialogState, ModelUsage } from '../../../functions/domain/responder/responder';

type Script = (request: ModelRequest) => Array<ModelEvent | Error>;

/** A model that plays scripted turns: one function per call, in order. Records each request. */
function scripted(...turns: Script[]): LanguageModel & { requests: ModelRequest[] } {
  const requests: ModelRequest[] = [];
  return {
    name: 'scripted',
    requests,
    async *stream(request) {
      requests.push(structuredClone(request));
      const turn = turns[requests.length - 1];
      if (!turn) throw new Error(`no scripted turn ${requests.length}`);
      for (const event of turn(request)) {
        if (event instanceof Error) throw event;
        yield event;
      }
    },
  };
}

const say = (...pieces: string[]): ModelEvent[] => [
  ...pieces.map((text) => ({ type: 'text' as const, text })),
  { type: 'stop', reason: 'end_turn' },
  { type: 'usage', inputTokens: 100, outputTokens: 10 },
];
const call = (name: string, input: unknown, text = ''): ModelEvent[] => [
  ...(text ? [{ type: 'text' as const, text }] : []),
  { type: 'toolUse', toolUseId: `tooluse_${name}`, name, input, raw: JSON.stringify(input) },
  { type: 'stop', reason: 'tool_use' },
  { type: 'usage', inputTokens: 120, outputTokens: 20 },
];

// A Monday in New York, so "today" in the prompt is fixed.
const NOW = new Date('2026-12-07T15:00:00Z');
const rules = createRuleResponder(FRONT_DESK, { now: () => NOW });
const responder = (model: LanguageModel) => createModelResponder(FRONT_DESK_AGENT, { model, fallback: rules, now: () => NOW });

async function turn(model: LanguageModel, text: string, state?: DialogState, canTransfer?: boolean) {
  const r = responder(model);
  const { text: pieces, reply } = r.stream!({ text, canTransfer }, state ?? r.initialState());
  const heard: string[] = [];
  for await (const piece of pieces) heard.push(piece);
  return { heard, reply: await reply };
}

it('streams the model text piece by piece, and keeps the exchange as history', async () => {
  const model = scripted(() => say('We open ', 'at 9 AM ', 'on Monday.'));
  const { heard, reply } = await turn(model, 'when do you open monday');
  expect(heard).toEqual(['We open ', 'at 9 AM ', 'on Monday.']);
  expect(reply.text).toBe('We open at 9 AM on Monday.');
  expect(reply.intent).toBe('model');
  expect(reply.state.history).toEqual([
    { role: 'user', content: [{ text: 'when do you open monday' }] },
    { role: 'assistant', content: [{ text: 'We open at 9 AM on Monday.' }] },
  ]);
  expect(reply.model).toEqual<ModelUsage>({ calls: 1, inputTokens: 100, outputTokens: 10, errors: [], fellBack: false, tools: [] });
  const request = model.requests[0]!;
  expect(request.system).toContain('Maple Street Dental');
  expect(request.system).toContain('Today is Monday.');
  expect(request.tools.map((t) => t.name)).toEqual(['get_opening_hours', 'book_appointment', 'move_appointment', 'cancel_appointment', 'transfer_to_person', 'end_call']);
  expect(request.tools[1]!.inputSchema).toMatchObject({ type: 'object', properties: { day: { enum: expect.arrayContaining(['monday']) }, time: { type: 'string' } }, required: ['day', 'time'] });
});

it('books through a tool call in the same turn: the tool checks the hours, the result goes back, the facts are stored', async () => {
  const model = scripted(
    () => call('book_appointment', { day: 'tuesday', time: '15:00' }, 'Let me book that.'),
    (request) => {
      const result = request.messages.at(-1)!.content[0]!;
      expect(result).toEqual({ toolResult: { toolUseId: 'tooluse_book_appointment', content: { ok: true, booked: 'Tuesday at 3 PM' }, status: 'success' } });
      return say("You're booked for Tuesday at 3 PM.");
    },
  );
  const { heard, reply } = await turn(model, 'book me tuesday at three pm');
  expect(heard.join('')).toBe("Let me book that. You're booked for Tuesday at 3 PM.");
  expect(reply.state.slots).toEqual({ appt_day: 'tuesday', appt_time: '15:00' });
  expect(reply.intent).toBe('book_appointment');
  expect(reply.model).toMatchObject({ calls: 2, tools: ['book_appointment'], inputTokens: 220, outputTokens: 30 });
  expect(reply.state.history!.map((m) => m.role)).toEqual(['user', 'assistant', 'user', 'assistant']);
  // The next turn's prompt knows the booking.
  const next = scripted(() => say('See you then.'));
  await turn(next, 'thanks', reply.state);
  expect(next.requests[0]!.system).toContain('The caller has an appointment on Tuesday at 3 PM.');
  expect(next.requests[0]!.messages).toHaveLength(5);
});

it('a booking the business rules refuse is answered by the model with the reason, and nothing is stored', async () => {
  const model = scripted(
    () => call('book_appointment', { day: 'sunday', time: '10:00' }),
    (request) => {
      expect(request.messages.at(-1)!.content[0]).toMatchObject({ toolResult: { status: 'error', content: { ok: false, reason: 'closed on Sunday' } } });
      return say("Sorry, we're closed on Sunday. Would Monday work?");
    },
  );
  const { reply } = await turn(model, 'sunday at ten');
  expect(reply.state.slots).toEqual({});
  expect(reply.text).toBe("Sorry, we're closed on Sunday. Would Monday work?");
});

it.each([
  ['input that is not JSON', { type: 'toolUse', toolUseId: 'tooluse_x', name: 'book_appointment', input: undefined, raw: '{"day":"mon' } as ModelEvent, 'the tool input was not valid JSON'],
  ['a tool that does not exist', { type: 'toolUse', toolUseId: 'tooluse_x', name: 'no_such_tool', input: {}, raw: '{}' } as ModelEvent, 'there is no tool named no_such_tool'],
  ['input outside the schema', { type: 'toolUse', toolUseId: 'tooluse_x', name: 'book_appointment', input: { day: 'someday', time: '3pm' }, raw: '' } as ModelEvent, 'invalid input at day'],
])('a malformed tool call (%s) is answered with an error result, not crashed on', async (_name, use, reason) => {
  const model = scripted(
    () => [use, { type: 'stop', reason: 'tool_use' }],
    (request) => {
      const result = request.messages.at(-1)!.content[0] as { toolResult: { status: string; content: { reason: string } } };
      expect(result.toolResult.status).toBe('error');
      expect(result.toolResult.content.reason).toContain(reason);
      // The assistant's tool call is stored with an object input (the API refuses anything else).
      expect(request.messages.at(-2)!.content[0]).toMatchObject({ toolUse: { input: expect.any(Object) } });
      return say('Which day would you like?');
    },
  );
  const { reply } = await turn(model, 'book something');
  expect(reply.text).toBe('Which day would you like?');
  expect(reply.state.slots).toEqual({});
});

it('transfer: the action comes from the tool; a line that cannot transfer refuses it and the call goes on', async () => {
  const transfer = () => call('transfer_to_person', {}, "I'll connect you now.");
  const yes = await turn(scripted(transfer, () => say('')), 'a person please', undefined, true);
  expect(yes.reply.action).toBe('transfer');
  expect(yes.reply.text).toBe("I'll connect you now.");

  const no = await turn(
    scripted(transfer, (request) => {
      expect(request.messages.at(-1)!.content[0]).toMatchObject({ toolResult: { status: 'error', content: { reason: expect.stringContaining('cannot transfer') } } });
      return say('Sorry, I cannot transfer you, but I can help.');
    }),
    'a person please',
    undefined,
    false,
  );
  expect(no.reply.action).toBeUndefined();
  expect(no.reply.text).toContain('I cannot transfer you');
});

describe('failures: never silence', () => {
  it('a model that fails before any text: the rule responder answers from the stored facts', async () => {
    const model = scripted(() => [new ModelError('scripted', 'throttled', 'slow down')]);
    const state: DialogState = { name: 'main', slots: { appt_day: 'tuesday', appt_time: '15:00' }, misses: 0, history: [] };
    const { heard, reply } = await turn(model, 'what are your hours', state);
    expect(heard.join('')).toMatch(/open Monday to Friday from 9 AM to 5 PM/);
    expect(reply.model).toMatchObject({ fellBack: true, errors: ['scripted throttled: slow down'] });
    expect(reply.intent).toBe('hours');
    expect(reply.state.slots).toEqual(state.slots); // the facts survive; the rule's own state is not stored
    expect(reply.state.history!.at(-1)).toEqual({ role: 'assistant', content: [{ text: reply.text }] });
  });

  it('a model that fails mid-text: what was said stays, then the failure line', async () => {
    const model = scripted(() => [{ type: 'text', text: 'We are open' }, new ModelError('scripted', 'unavailable', 'stream broke')]);
    const { heard, reply } = await turn(model, 'hours');
    expect(heard).toEqual(['We are open', ` ${MODEL_FAILURE_TEXT}`]);
    expect(reply.model!.fellBack).toBe(false);
  });

  it('a model that says nothing: the failure line', async () => {
    const { reply } = await turn(scripted(() => say()), 'hello');
    expect(reply.text).toBe(MODEL_FAILURE_TEXT);
    expect(reply.model!.errors).toEqual(['the model said nothing']);
  });

  it('a model that keeps calling tools: at most maxRounds calls, then the failure line', async () => {
    const loop = () => call('get_opening_hours', {});
    const model = scripted(loop, loop, loop, loop);
    const { reply } = await turn(model, 'hours');
    expect(model.requests).toHaveLength(3);
    expect(reply.text).toBe(MODEL_FAILURE_TEXT);
  });

  it('respond() reads the whole stream: same reply', async () => {
    const r = responder(scripted(() => say('Hello there.')));
    await expect(r.respond({ text: 'hi' }, r.initialState())).resolves.toMatchObject({ text: 'Hello there.', intent: 'model' });
  });
});

describe('history bounds', () => {
  const words = (text: string) => ({ role: 'user' as const, content: [{ text }] });
  const answer = (text: string) => ({ role: 'assistant' as const, content: [{ text }] });
  const result = { role: 'user' as const, content: [{ toolResult: { toolUseId: 't', content: {}, status: 'success' as const } }] };

  it('keeps the newest messages, opening on the caller\'s words, within the character bound', () => {
    const messages = [words('a'), answer('b'), result, answer('c'), words('d'), answer('e')];
    expect(boundHistory(messages, 4, 10_000)).toEqual([words('d'), answer('e')]); // would open on a tool result, then on the assistant
    expect(boundHistory(messages, 16, 10_000)).toEqual(messages);
    expect(boundHistory([words('x'.repeat(500)), answer('y'), words('z'), answer('w')], 16, 200)).toEqual([words('z'), answer('w')]);
  });
});
