/**
 * THE front-desk agent, declared as data: business facts, intents and their trigger phrases, slot types, reply
 * templates and dialog states. `createRuleResponder(FRONT_DESK)` turns it into a Responder.
 *
 * Dialog: `main` answers questions (hours, location) and starts tasks. Booking and moving collect a day and a time
 * in a form state (`book.collect`, `move.collect`; validated against opening hours), then ask for confirmation
 * (`book.confirm`, `move.confirm`). Cancelling confirms first (`cancel.confirm`). Three misses in a row offer a
 * transfer (`offer_transfer`). The booked appointment lives in the slots `appt_day` / `appt_time`; the request
 * being collected in `day` / `time`.
 */
import type { Handler, RuleDefinition, Step } from './definition';

// ---- shared steps (plain data, reused by several states) ---------------------------------------------------------

const backToMain = (...say: string[]): Step => ({ say, goto: 'main', prompt: true });
// A line that cannot hand the caller to a person says so, and the call goes on.
const transfer: Handler = [
  { when: { canTransfer: false }, say: ['transfer_unavailable'], goto: 'main', prompt: true },
  { say: ['transfer'], action: 'transfer', goto: 'main' },
];
const goodbye: Step = { say: ['goodbye'], action: 'hangup', goto: 'main' };
const abandonBooking: Step = { say: ['booking_abandoned'], clear: ['day', 'time'], goto: 'main', prompt: true };
const abandonMove: Step = { say: ['move_abandoned'], clear: ['day', 'time'], goto: 'main', prompt: true };

const confirmBooking: Handler = [
  { when: { heardAny: ['day', 'time'] }, goto: 'book.collect' }, // "yes but at four" → re-collect, re-confirm
  { say: ['booked'], set: { appt_day: '{day}', appt_time: '{time}' }, clear: ['day', 'time'], goto: 'main', prompt: true },
];
const confirmMove: Handler = [
  { when: { heardAny: ['day', 'time'] }, goto: 'move.collect' },
  { say: ['moved'], set: { appt_day: '{day}', appt_time: '{time}' }, clear: ['day', 'time'], goto: 'main', prompt: true },
];
const confirmCancel: Step = {
  say: ['cancelled'],
  clear: ['appt_day', 'appt_time', 'day', 'time'],
  goto: 'main',
  prompt: true,
};

const openingHours = {
  kind: 'opening_hours',
  daySlot: 'day',
  timeSlot: 'time',
  closedDay: 'closed_day',
  outsideHours: 'outside_hours',
  outsideAllHours: 'outside_all_hours',
} as const;

// ---- the definition -----------------------------------------------------------------------------------------------

export const FRONT_DESK: RuleDefinition = {
  business: {
    name: 'Maple Street Dental',
    address: '42 Maple Street, right next to the public library',
    timeZone: 'America/New_York',
    hours: {
      monday: { open: '09:00', close: '17:00' },
      tuesday: { open: '09:00', close: '17:00' },
      wednesday: { open: '09:00', close: '17:00' },
      thursday: { open: '09:00', close: '17:00' },
      friday: { open: '09:00', close: '17:00' },
      saturday: { open: '10:00', close: '14:00' },
      sunday: null,
    },
    appointmentMinutes: 30,
  },

  slotTypes: {
    day: {
      kind: 'weekday',
      names: {
        monday: ['mon'],
        tuesday: ['tue', 'tues'],
        wednesday: ['wed', 'weds', 'wednes day'],
        thursday: ['thu', 'thur', 'thurs'],
        friday: ['fri'],
        saturday: ['sat', 'satur day'],
        sunday: ['sun day'],
      },
      relative: { today: 0, 'this afternoon': 0, 'this morning': 0, tomorrow: 1, 'day after tomorrow': 2 },
    },
    time: {
      kind: 'clock',
      named: { noon: '12:00', midday: '12:00', 'lunch time': '12:00', lunchtime: '12:00' },
      am: ['am', 'morning', 'in the morning'],
      pm: ['pm', 'afternoon', 'in the afternoon', 'evening', 'in the evening'],
      oclock: ['oclock'],
      offsets: { 'half past': 30, 'quarter past': 15, 'quarter after': 15, 'quarter to': -15, 'quarter of': -15 },
      cues: ['at', 'for', 'around', 'about', 'by', 'after', 'before', 'say'],
      soundsLike: { to: 2, too: 2, for: 4, tree: 3, free: 3, ate: 8, won: 1, tin: 10, nigh: 9 },
      assumePmBelow: 7,
    },
  },

  slots: { day: 'day', time: 'time', appt_day: 'day', appt_time: 'time' },

  // Ties go to the intent listed first.
  intents: [
    {
      name: 'transfer',
      phrases: ['speak to someone', 'talk to someone', 'speak to a', 'talk to a', 'real person', 'front desk', 'put me through', 'connect me'],
      keywords: ['person', 'human', 'operator', 'representative', 'receptionist', 'agent', 'someone', 'somebody', 'staff'],
      dtmf: ['0'],
    },
    {
      name: 'goodbye',
      phrases: ['bye', 'goodbye', 'good bye', 'thats all', 'that is all', 'thats it', 'that will be all', 'have a good day', 'hang up'],
      keywords: ['bye', 'goodbye'],
      dtmf: ['#'],
    },
    {
      name: 'no',
      phrases: ['no', 'nope', 'nah', 'not really', 'never mind', 'nevermind', 'forget it', 'changed my mind', 'dont book', 'dont cancel', 'dont change', 'dont move', 'do not', 'no thanks', 'nothing', 'not now'],
      negatable: false,
      dtmf: ['2'],
    },
    {
      name: 'yes',
      phrases: ['yes', 'yeah', 'yep', 'yup', 'sure', 'correct', 'thats right', 'that is right', 'right', 'sounds good', 'please do', 'go ahead', 'ok', 'okay', 'absolutely', 'perfect', 'of course', 'do it', 'confirm'],
      negatable: false,
      dtmf: ['1'],
    },
    {
      name: 'cancel',
      phrases: ['cancel my appointment', 'cancel the appointment', 'cancel my booking', 'cancel it', 'cancel', 'call off', 'wont be able to make it', 'cant make it', 'cant come'],
      keywords: ['cancel', 'cancellation', 'canceling', 'cancelling'],
    },
    {
      name: 'move',
      phrases: ['move my appointment', 'change my appointment', 'reschedule', 'move it', 'change it', 'change the time', 'change the day', 'different time', 'different day', 'push it back', 'bring it forward', 'another day', 'another time'],
      keywords: ['move', 'reschedule', 'rescheduling', 'change', 'postpone', 'different', 'instead'],
    },
    {
      name: 'book',
      phrases: ['book an appointment', 'make an appointment', 'schedule an appointment', 'set up an appointment', 'need an appointment', 'want an appointment', 'get an appointment', 'come in', 'book', 'schedule', 'see the dentist', 'check up', 'cleaning'],
      keywords: ['book', 'booking', 'appointment', 'schedule', 'reserve', 'reservation', 'available', 'availability', 'slot', 'visit'],
    },
    {
      name: 'hours',
      phrases: ['what are your hours', 'opening hours', 'business hours', 'office hours', 'are you open', 'when are you open', 'when do you open', 'when do you close', 'what time do you open', 'what time do you close', 'open on', 'open today', 'open tomorrow'],
      keywords: ['hours', 'open', 'opening', 'close', 'closed', 'closing'],
    },
    {
      name: 'location',
      phrases: ['where are you', 'where are you located', 'your address', 'what is your address', 'how do i get there', 'how do i find you', 'find you'],
      keywords: ['address', 'where', 'located', 'location', 'directions', 'street', 'parking'],
    },
    {
      name: 'help',
      phrases: ['what can you do', 'help', 'what are my options', 'options', 'menu'],
      dtmf: ['9'],
    },
    {
      name: 'repeat',
      phrases: ['repeat that', 'say that again', 'come again', 'pardon', 'what did you say', 'repeat'],
      dtmf: ['*'],
    },
    {
      name: 'thanks',
      phrases: ['thank', 'appreciate it'],
    },
  ],

  negators: ['dont', 'not', 'never', 'doesnt', 'didnt', 'wont'],

  templates: {
    greeting: 'Thanks for calling {business}. How can I help you?',
    anything_else: 'Is there anything else I can help you with?',
    how_can_i_help: 'Sure. What can I help you with?',
    hours_all: "We're open {hours}, and closed on {closed_days}.",
    hours_day: "On {heard_day} we're open {day_hours}.",
    closed_on_day: "We're closed on {heard_day}.",
    location: "We're at {address}.",
    help: 'I can tell you our opening hours and our address, and book, move or cancel an appointment.',
    welcome: "You're welcome.",
    okay: 'Okay.',
    ask_day_time: 'What day and time would you like to come in?',
    ask_day: 'What day would you like to come in?',
    ask_time: 'What time on {day} would suit you?',
    confirm_booking: "That's an appointment on {day} at {time}. Shall I book it?",
    booked: "You're booked for {day} at {time}. We look forward to seeing you.",
    booking_not_booked: "No problem, I haven't booked that.",
    booking_abandoned: "Okay, I won't book anything.",
    already_booked: 'You already have an appointment on {appt_day} at {appt_time}, so let me move it for you.',
    closed_day: "Sorry, we're closed on {day}.",
    outside_hours: "Sorry, {time} doesn't work on {day}; we're open {day_hours}.",
    outside_all_hours: "Sorry, we're not open at {time}.",
    move_ask_day_time: 'Your appointment is on {appt_day} at {appt_time}. What day and time would you like instead?',
    move_ask_day: 'Which day would you like to move it to?',
    move_ask_time: 'What time on {day} would you like instead?',
    confirm_move: "That's moving your appointment from {appt_day} at {appt_time} to {day} at {time}. Shall I make the change?",
    moved: 'Done. Your appointment is now on {day} at {time}.',
    move_not_moved: "No problem, I haven't changed anything.",
    move_abandoned: 'Okay, your appointment stays on {appt_day} at {appt_time}.',
    no_appointment: "I don't see an appointment booked for you yet. Would you like to book one?",
    confirm_cancel: 'You want to cancel your appointment on {appt_day} at {appt_time}. Is that right?',
    cancelled: 'Your appointment on {appt_day} at {appt_time} has been cancelled.',
    cancel_declined: "Okay, I'll keep your appointment on {appt_day} at {appt_time}.",
    transfer: "Sure, I'll connect you with a member of our team. Please hold.",
    transfer_unavailable: "I'm sorry, I can't connect you with a member of our team on this line.",
    goodbye: 'Thanks for calling {business}. Goodbye!',
    reprompt: ["Sorry, I didn't catch that.", "Sorry, I still didn't get that."],
    main_reprompt: [
      "Sorry, I didn't catch that. You can ask about our hours or our address, or book, move or cancel an appointment.",
      'Sorry, I still didn\'t get that. For example, you can say "book an appointment on Tuesday at 3 PM", or "what are your hours".',
    ],
    yes_or_no: 'Please say yes or no.',
    offer_transfer: "I'm sorry, I'm having trouble understanding. Would you like me to connect you with a member of our team?",
    offer_transfer_prompt: 'Would you like me to connect you with a member of our team?',
    try_again: "Okay, let's try again. How can I help you?",
  },

  greeting: ['greeting'],
  initialState: 'main',

  global: {
    transfer,
    goodbye,
    hours: [
      { when: { heard: ['day'], dayClosed: true }, say: ['closed_on_day'], prompt: true },
      { when: { heard: ['day'] }, say: ['hours_day'], prompt: true },
      { say: ['hours_all'], prompt: true },
    ],
    location: { say: ['location'], prompt: true },
    help: { say: ['help'], prompt: true },
    repeat: { prompt: true },
    thanks: { say: ['welcome'], prompt: true },
    book: [
      { when: { has: ['appt_day', 'appt_time'] }, say: ['already_booked'], clear: ['day', 'time'], goto: 'move.collect' },
      { clear: ['day', 'time'], goto: 'book.collect' },
    ],
    move: [
      { when: { missing: ['appt_day'] }, say: ['no_appointment'], clear: ['day', 'time'], goto: 'offer_booking' },
      { clear: ['day', 'time'], goto: 'move.collect' },
    ],
    cancel: [
      { when: { missing: ['appt_day'] }, say: ['no_appointment'], clear: ['day', 'time'], goto: 'offer_booking' },
      { say: ['confirm_cancel'], clear: ['day', 'time'], goto: 'cancel.confirm' },
    ],
  },

  states: {
    main: {
      prompt: ['anything_else'],
      reprompt: ['main_reprompt'],
      on: {
        yes: { say: ['how_can_i_help'] },
        no: goodbye,
      },
      // "Tuesday at three" with no verb: that's a booking request.
      onSlots: { intent: 'book', then: { clear: ['day', 'time'], goto: 'book.collect' } },
    },

    'book.collect': {
      prompt: ['ask_day_time'],
      form: {
        intent: 'book',
        slots: ['day', 'time'],
        ask: { 'day+time': 'ask_day_time', day: 'ask_day', time: 'ask_time' },
        validate: openingHours,
        complete: { goto: 'book.confirm', prompt: true },
      },
      on: { book: { goto: 'book.collect' }, no: abandonBooking, cancel: abandonBooking },
      onSlots: { intent: 'book', then: { goto: 'book.collect' } },
    },

    'book.confirm': {
      prompt: ['confirm_booking'],
      on: {
        yes: confirmBooking,
        book: confirmBooking,
        no: [
          { when: { heardAny: ['day', 'time'] }, goto: 'book.collect' }, // "no, make it Wednesday"
          { say: ['booking_not_booked'], clear: ['day', 'time'], goto: 'book.collect' },
        ],
        move: { goto: 'book.collect' },
        cancel: abandonBooking,
      },
      onSlots: { intent: 'book', then: { goto: 'book.collect' } },
    },

    'move.collect': {
      prompt: ['move_ask_day_time'],
      form: {
        intent: 'move',
        slots: ['day', 'time'],
        ask: { 'day+time': 'move_ask_day_time', day: 'move_ask_day', time: 'move_ask_time' },
        validate: openingHours,
        complete: { goto: 'move.confirm', prompt: true },
      },
      on: { move: { goto: 'move.collect' }, book: { goto: 'move.collect' }, no: abandonMove },
      onSlots: { intent: 'move', then: { goto: 'move.collect' } },
    },

    'move.confirm': {
      prompt: ['confirm_move'],
      on: {
        yes: confirmMove,
        move: confirmMove,
        no: [
          { when: { heardAny: ['day', 'time'] }, goto: 'move.collect' },
          { say: ['move_not_moved'], clear: ['day', 'time'], goto: 'move.collect' },
        ],
      },
      onSlots: { intent: 'move', then: { goto: 'move.collect' } },
    },

    'cancel.confirm': {
      prompt: ['confirm_cancel'],
      on: {
        yes: confirmCancel,
        cancel: confirmCancel,
        no: backToMain('cancel_declined'),
        move: { clear: ['day', 'time'], goto: 'move.collect' },
      },
    },

    offer_booking: {
      prompt: ['no_appointment'],
      on: {
        yes: { clear: ['day', 'time'], goto: 'book.collect' },
        book: { clear: ['day', 'time'], goto: 'book.collect' },
        no: backToMain('okay'),
      },
      onSlots: { intent: 'book', then: { clear: ['day', 'time'], goto: 'book.collect' } },
    },

    offer_transfer: {
      prompt: ['offer_transfer_prompt'],
      reprompt: ['offer_transfer_prompt', 'yes_or_no'],
      on: {
        yes: transfer,
        no: { say: ['try_again'], clear: ['day', 'time'], goto: 'main' },
      },
    },
  },

  fallback: {
    say: ['reprompt'],
    maxMisses: 3,
    escalate: { say: ['offer_transfer'], goto: 'offer_transfer' },
  },
};
