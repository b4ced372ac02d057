/**
 * THE front desk as a language-model agent: the file a team edits to make the line its own — the greeting, the system
 * prompt, and the tools with the business rules they check. The business facts are the rule responder's
 * (front-desk.ts), so both answer for the same practice; the rule responder remains the fallback when the model fails.
 *
 * Facts stored with the call: `appt_day` / `appt_time` (the booked appointment), the same slots the rule responder
 * keeps, so a turn answered by the fallback sees the booking the model made.
 */
import { z } from 'zod';
import { defineTool, refuse, succeed, type ModelAgent, type ToolContext } from './agent';
import { fitsHours } from './business-hours';
import { WEEKDAYS, type BusinessProfile, type Weekday } from './definition';
import { FRONT_DESK } from './front-desk';
import { speakClock } from './normalize';
import { capitalize, spanText, weeklyHours } from './rule-rendering';

const business: BusinessProfile = FRONT_DESK.business;

const Day = z.enum(WEEKDAYS as [Weekday, ...Weekday[]]).describe('Day of the week, lower case');
const Time = z
  .string()
  .regex(/^([01]\d|2[0-3]):[0-5]\d$/, 'a 24-hour time HH:MM')
  .describe('Start time, 24-hour HH:MM, local to the practice');
const Slot = z.object({ day: Day, time: Time }).strict();

/** Why an appointment does not fit, in words the model can pass on; undefined when it fits. */
function unavailable(day: Weekday, time: string): string | undefined {
  const hours = business.hours[day];
  if (!hours) return `closed on ${capitalize(day)}`;
  if (!fitsHours(business, hours, time)) {
    return `${speakClock(time)} does not work on ${capitalize(day)}: open ${spanText(hours)}, appointments last ${business.appointmentMinutes} minutes`;
  }
  return undefined;
}

const booked = (facts: ToolContext['facts']) =>
  facts.appt_day && facts.appt_time ? { day: facts.appt_day, time: facts.appt_time, spoken: `${capitalize(facts.appt_day)} at ${speakClock(facts.appt_time)}` } : undefined;

const tools = [
  defineTool('get_opening_hours', 'Opening hours of the practice, for one day or the whole week.', z.object({ day: Day.optional() }).strict(), ({ day }) => {
    if (day === undefined) return succeed({ hours: weeklyHours(business.hours) });
    const hours = business.hours[day];
    return succeed({ day, open: hours !== null, hours: hours ? spanText(hours) : 'closed' });
  }),
  defineTool('book_appointment', 'Books an appointment once the caller has agreed a day and a time.', Slot, ({ day, time }, { facts }) => {
    const existing = booked(facts);
    if (existing) return refuse(`the caller already has an appointment on ${existing.spoken}; move it instead`);
    const problem = unavailable(day, time);
    if (problem) return refuse(problem);
    return succeed({ booked: `${capitalize(day)} at ${speakClock(time)}` }, { facts: { appt_day: day, appt_time: time } });
  }),
  defineTool('move_appointment', "Moves the caller's booked appointment to another day and time.", Slot, ({ day, time }, { facts }) => {
    const existing = booked(facts);
    if (!existing) return refuse('the caller has no appointment to move');
    const problem = unavailable(day, time);
    if (problem) return refuse(problem);
    return succeed({ moved_from: existing.spoken, moved_to: `${capitalize(day)} at ${speakClock(time)}` }, { facts: { appt_day: day, appt_time: time } });
  }),
  defineTool('cancel_appointment', "Cancels the caller's booked appointment, once they have confirmed.", z.object({}).strict(), (_input, { facts }) => {
    const existing = booked(facts);
    if (!existing) return refuse('the caller has no appointment to cancel');
    return succeed({ cancelled: existing.spoken }, { facts: { appt_day: null, appt_time: null } });
  }),
  defineTool('transfer_to_person', 'Hands the call to a member of staff. Say that you are connecting them first.', z.object({}).strict(), (_input, { canTransfer }) =>
    canTransfer === false ? refuse('this line cannot transfer calls; offer to help instead') : succeed({ transferring: true }, { action: 'transfer' }),
  ),
  defineTool('end_call', 'Ends the call after the caller has said goodbye. Say goodbye first.', z.object({}).strict(), () => succeed({ ending: true }, { action: 'hangup' })),
];

export const FRONT_DESK_AGENT: ModelAgent = {
  name: 'front-desk-model',
  greeting: `Thanks for calling ${business.name}. How can I help you?`,
  tools,
  system({ facts, canTransfer, now }) {
    const today = new Intl.DateTimeFormat('en-US', { weekday: 'long', timeZone: business.timeZone }).format(now);
    const appointment = booked(facts);
    return [
      `You are the receptionist of ${business.name}, a dental practice at ${business.address}, answering the phone.`,
      'Your words are spoken aloud by a voice: answer in one or two short sentences, plain words, no lists, no markdown,',
      'times said the way people say them ("3 PM"). Ask one question at a time.',
      `Opening hours: ${weeklyHours(business.hours)}; closed on the other days. Appointments last ${business.appointmentMinutes} minutes.`,
      `Today is ${today}.`,
      appointment ? `The caller has an appointment on ${appointment.spoken}.` : 'The caller has no appointment booked.',
      'Book, move or cancel only with the tools, and only once the caller has agreed the day and time; a tool that refuses',
      'tells you why: say so and offer an alternative. Never claim a booking the tool did not confirm.',
      canTransfer === false ? 'This line cannot transfer calls to staff.' : 'If the caller asks for a person, transfer them.',
      'When the caller says goodbye, say goodbye and end the call.',
    ].join('\n');
  },
};
