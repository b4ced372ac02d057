/**
 * The Bedrock stand-in's "model" for the front desk agent (functions/domain/responder/front-desk-agent.ts): not a
 * language model, and it says so (policy.ts). It replays the caller's words of the whole conversation through the
 * front desk's rule responder, which gives it the dialog the rules would have had, and answers as the rules would —
 * except that what changes the world is asked for as the agent's tool calls (book, move, cancel, transfer, end the
 * call), and said once the tool's result comes back. A refused tool call is answered with the tool's reason.
 *
 * So a local call on the model path exercises everything the product does with a model (streaming, tool calls and
 * their results, stored conversation, failures), with answers a person can follow, and no claim of intelligence.
 */
import { createRuleResponder, FRONT_DESK } from '../../../functions/domain/responder';
import type { DialogState, Reply } from '../../../functions/domain/responder/responder';
import type { ModelPolicy, ModelTurn, PolicyInput } from './policy';

const KEYPAD = /^\(The caller pressed (.) on the keypad\.\)$/;

export function frontDeskPolicy(now: () => Date = () => new Date()): ModelPolicy {
  const rules = createRuleResponder(FRONT_DESK, { now });

  /** The rules' answer to the last words of the conversation, and the state before it. */
  function replay(input: PolicyInput, canTransfer?: boolean): { before: DialogState; reply: Reply } | undefined {
    let state = rules.initialState();
    let last: { before: DialogState; reply: Reply } | undefined;
    const turns = input.body.messages.filter((m) => m.role === 'user' && m.content.some((c) => 'text' in c));
    for (const [i, message] of turns.entries()) {
      const words = message.content.flatMap((c) => ('text' in c ? [c.text] : [])).join(' ');
      const key = KEYPAD.exec(words)?.[1];
      const isLast = i === turns.length - 1;
      const reply = rules.respond(key !== undefined ? { dtmf: key } : { text: words, canTransfer: isLast ? canTransfer : undefined }, state) as Reply;
      last = { before: state, reply };
      state = reply.state;
    }
    return last;
  }

  return (input): ModelTurn => {
    if (input.toolResults.length > 0) {
      // A tool answered: say the outcome (the rules' words when it succeeded, the tool's reason when it did not).
      const refused = input.toolResults.find((r) => r.status === 'error');
      if (refused?.name === 'transfer_to_person') return { text: replay(input, false)?.reply.text ?? '' };
      if (refused) return { text: `Sorry, ${String((refused.content as { reason?: string }).reason ?? 'that did not work')}.` };
      const done = input.toolResults[0]!;
      if (done.name === 'transfer_to_person' || done.name === 'end_call') return { text: '' }; // said before the call
      return { text: replay(input)?.reply.text ?? '' };
    }
    const last = replay(input);
    if (!last) return { text: '' };
    const { before, reply } = last;
    const had = before.slots.appt_day !== undefined;
    const has = reply.state.slots.appt_day !== undefined;
    const changed = has && (reply.state.slots.appt_day !== before.slots.appt_day || reply.state.slots.appt_time !== before.slots.appt_time);
    const slot = { day: reply.state.slots.appt_day, time: reply.state.slots.appt_time };
    if (changed) return { text: 'One moment.', toolUses: [{ name: had ? 'move_appointment' : 'book_appointment', input: slot }] };
    if (had && !has) return { text: 'One moment.', toolUses: [{ name: 'cancel_appointment', input: {} }] };
    if (reply.action === 'transfer') return { text: reply.text, toolUses: [{ name: 'transfer_to_person', input: {} }] };
    if (reply.action === 'hangup') return { text: reply.text, toolUses: [{ name: 'end_call', input: {} }] };
    return { text: reply.text };
  };
}
