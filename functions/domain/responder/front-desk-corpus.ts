/** The front desk's speech corpus: what its callers say, apart from what the agent does with it (front-desk.ts). */
import { WEEKDAYS } from './definition';

/**
 * What callers say, by intent (`slots`: answers that only give a day and/or time). Lower-case, no punctuation.
 * The speech recognizer builds its language model from these; simulated callers draw utterances from them.
 */
export const FRONT_DESK_CORPUS_BY_INTENT: Readonly<Record<string, readonly string[]>> = {
  hours: [
    'what are your hours',
    'what are your opening hours',
    'when are you open',
    'what time do you open',
    'what time do you close today',
    'are you open on saturday',
    'are you open on sunday',
    'are you open tomorrow',
    'what are your hours on friday',
    'are you open today',
    'when do you close on wednesday',
  ],
  location: [
    'where are you located',
    'what is your address',
    'how do i get there',
    'where is your office',
    'can you give me directions',
  ],
  book: [
    'i would like to book an appointment',
    'i need to make an appointment',
    'can i schedule an appointment',
    'i want to book an appointment on tuesday at three pm',
    'can i come in tomorrow at ten thirty',
    'book me in for monday at nine am',
    'i would like an appointment on thursday at noon',
    'can i book for wednesday at 3 pm',
    'i need a cleaning on friday at eleven am',
    'do you have anything available today at two thirty',
    'can i get a check up on saturday at ten am',
    'id like to come in on monday',
    'book an appointment for sunday at ten am',
  ],
  slots: [
    'tuesday at three pm',
    ...WEEKDAYS,
    'today',
    'tomorrow',
    'three pm',
    'ten thirty',
    'nine am',
    '3 pm',
    'noon',
    'at four',
    'half past two',
    'eleven in the morning',
    'two oclock',
    'quarter past ten',
    'how about friday at one pm',
    'tomorrow at noon',
    'wednesday at nine thirty am',
    'saturday at eleven',
    'thursday afternoon at four',
  ],
  move: [
    'i need to reschedule my appointment',
    'can i move my appointment',
    'i want to change my appointment to friday at two pm',
    'can we move it to thursday at ten am',
    'i need a different time',
    'can i reschedule to tomorrow',
  ],
  cancel: [
    'i need to cancel my appointment',
    'please cancel my appointment',
    'cancel it',
    'i want to cancel',
    'i cant make it',
  ],
  yes: ['yes', 'yes please', 'yeah that works', 'sure', 'thats right', 'sounds good', 'correct', 'okay go ahead'],
  no: ['no', 'no thanks', 'nope', 'not really', 'never mind', 'no thats not right'],
  transfer: [
    'can i speak to a person',
    'i want to talk to a human',
    'operator',
    'representative',
    'let me talk to someone',
    'can i speak to the receptionist',
  ],
  goodbye: ['goodbye', 'bye', 'thats all thank you goodbye', 'thats all', 'have a good day bye'],
  thanks: ['thank you', 'thanks', 'thanks a lot'],
  help: ['what can you do', 'help', 'what are my options'],
  repeat: ['can you repeat that', 'say that again', 'pardon'],
};

/** Every corpus sentence, once. */
export const FRONT_DESK_CORPUS: string[] = [...new Set(Object.values(FRONT_DESK_CORPUS_BY_INTENT).flat())];
