import { createRuleResponder, FRONT_DESK } from '../../../functions/domain/responder';
import type { DialogState, Reply, Responder, ResponderInput } from '../../../functions/domain/responder';

/** Tuesday 3 June 2025, 11:00 in New York. */
export const TUESDAY_MORNING = new Date('2025-06-03T15:00:00Z');

export function frontDesk(now: Date = TUESDAY_MORNING): Responder {
  return createRuleResponder(FRONT_DESK, { name: 'front-desk', now: () => now });
}

export type Say = string | { readonly dtmf: string };

const input = (s: Say): ResponderInput => (typeof s === 'string' ? { text: s } : s);

/**
 * Plays a conversation the way production does: each turn on a fresh responder instance, with the state
 * stored as JSON in between (as in DynamoDB).
 */
export async function converse(turns: readonly Say[], start?: DialogState): Promise<Reply[]> {
  let stored = JSON.stringify(start ?? frontDesk().initialState());
  const replies: Reply[] = [];
  for (const turn of turns) {
    const reply = await frontDesk().respond(input(turn), JSON.parse(stored) as DialogState);
    const json = JSON.stringify(reply.state);
    expect(JSON.parse(json)).toEqual(reply.state);
    stored = json;
    replies.push(reply);
  }
  return replies;
}

/** The last reply of a conversation. */
export async function last(turns: readonly Say[], start?: DialogState): Promise<Reply> {
  const replies = await converse(turns, start);
  const reply = replies[replies.length - 1];
  if (!reply) throw new Error('no turns');
  return reply;
}

export const withAppointment = (day: string, time: string): DialogState => ({
  name: 'main',
  slots: { appt_day: day, appt_time: time },
  misses: 0,
});
