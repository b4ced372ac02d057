/**
 * The shape of a declarative rule-responder definition: business facts, intents with trigger phrases, slot
 * types, reply templates and dialog states. `createRuleResponder` interprets it; a definition holds no code.
 */

export type Weekday = 'monday' | 'tuesday' | 'wednesday' | 'thursday' | 'friday' | 'saturday' | 'sunday';

export const WEEKDAYS: readonly Weekday[] = [
  'monday',
  'tuesday',
  'wednesday',
  'thursday',
  'friday',
  'saturday',
  'sunday',
];

/** 24-hour `HH:MM`, local to the business. `close` is exclusive. */
export interface OpeningHours {
  readonly open: string;
  readonly close: string;
}

export interface BusinessProfile {
  readonly name: string;
  readonly address: string;
  /** IANA time zone; resolves "today" / "tomorrow". */
  readonly timeZone: string;
  /** `null`: closed that day. */
  readonly hours: Readonly<Record<Weekday, OpeningHours | null>>;
  /** An appointment must end by closing time. */
  readonly appointmentMinutes: number;
}

export interface IntentDefinition {
  readonly name: string;
  /** Multi-word phrases; each one found adds twice its word count to the score. Normalized like the input. */
  readonly phrases?: readonly string[];
  /** Single words; each one found adds 1. */
  readonly keywords?: readonly string[];
  /** DTMF keys that mean this intent. */
  readonly dtmf?: readonly string[];
  /** Default true: a phrase right after a negator ("don't cancel") does not count. Off for yes/no. */
  readonly negatable?: boolean;
}

/** Day of week, with relative days resolved against the clock in the business's time zone. */
export interface DaySlotType {
  readonly kind: 'weekday';
  /** Words for each weekday (the canonical value is the key). */
  readonly names: Readonly<Record<Weekday, readonly string[]>>;
  /** Phrase → days from today (`today`: 0, `tomorrow`: 1). */
  readonly relative: Readonly<Record<string, number>>;
}

/** Clock time; canonical value `HH:MM` (24 h). */
export interface TimeSlotType {
  readonly kind: 'clock';
  /** Phrase → `HH:MM` (`noon`: `12:00`). */
  readonly named: Readonly<Record<string, string>>;
  readonly am: readonly string[];
  readonly pm: readonly string[];
  readonly oclock: readonly string[];
  /** Phrase before an hour → minutes offset (`half past`: 30, `quarter to`: -15). */
  readonly offsets: Readonly<Record<string, number>>;
  /** Words that make a bare number a time ("at three", "for ten"). */
  readonly cues: readonly string[];
  /** Recognizer slips read as an hour when am/pm or o'clock follows ("for pm" → 4 PM). */
  readonly soundsLike?: Readonly<Record<string, number>>;
  /** Without am/pm, hours 1..assumePmBelow-1 are afternoon ("at three" → 15:00), others morning. */
  readonly assumePmBelow: number;
}

export type SlotType = DaySlotType | TimeSlotType;

/** All listed conditions must hold. Slot names refer to DialogState slots; `heard` to slot types in the input. */
export interface Condition {
  readonly has?: readonly string[];
  readonly missing?: readonly string[];
  /** Every listed slot type was heard in this utterance. */
  readonly heard?: readonly string[];
  /** At least one listed slot type was heard in this utterance. */
  readonly heardAny?: readonly string[];
  /** The day in question (heard, else the `day` slot) is a closed day (true) or an open one (false). */
  readonly dayClosed?: boolean;
  /** The line can (true) or cannot (false) hand the caller to a person (ResponderInput.canTransfer). */
  readonly canTransfer?: boolean;
}

/** One transition. Order of effects: `say` is rendered with the slots before the step, then `set`/`clear`,
 *  then `goto` (a form state fills itself from the utterance), then the resulting state's prompt if `prompt`. */
export interface Step {
  readonly when?: Condition;
  /** Template keys, rendered and joined with spaces. */
  readonly say?: readonly string[];
  /** Slot → value; `{slot}` copies another slot's canonical value. */
  readonly set?: Readonly<Record<string, string>>;
  readonly clear?: readonly string[];
  /** Next state; default: stay. */
  readonly goto?: string;
  /** Append the resulting state's prompt. */
  readonly prompt?: boolean;
  readonly action?: 'hangup' | 'transfer';
}

/** Steps tried in order; the first whose `when` holds runs. */
export type Handler = Step | readonly Step[];

export interface OpeningHoursValidation {
  readonly kind: 'opening_hours';
  readonly daySlot: string;
  readonly timeSlot: string;
  /** Template keys for the rejections; rendered before the rejected slot is cleared. */
  readonly closedDay: string;
  readonly outsideHours: string;
  readonly outsideAllHours: string;
}

/** A state that collects slots: on entry and on every utterance with slot values it fills, validates, asks for
 *  what is missing, and runs `complete` once everything is there. */
export interface FormDefinition {
  /** Intent reported for turns that only fill slots. */
  readonly intent: string;
  readonly slots: readonly string[];
  /** Missing slots joined with `+` in form order (`day+time`, `day`, `time`) → template key. */
  readonly ask: Readonly<Record<string, string>>;
  readonly validate?: OpeningHoursValidation;
  readonly complete: Step;
}

export interface StateDefinition {
  /** Template keys for the question this state asks (a form state asks for its missing slots instead). */
  readonly prompt: readonly string[];
  /** Intent → handler; takes precedence over the global handlers. */
  readonly on?: Readonly<Record<string, Handler>>;
  /** When no intent matched but slot values were heard. */
  readonly onSlots?: { readonly intent: string; readonly then: Handler };
  readonly form?: FormDefinition;
  /** Not understood: these templates replace the default `fallback.say` + prompt. */
  readonly reprompt?: readonly string[];
}

export interface RuleDefinition {
  readonly business: BusinessProfile;
  /** Slot type name → type; extraction yields values keyed by type name. */
  readonly slotTypes: Readonly<Record<string, SlotType>>;
  /** Dialog slot name → slot type name (renders values, checks stored state). */
  readonly slots: Readonly<Record<string, string>>;
  /** In priority order: ties go to the intent listed first. */
  readonly intents: readonly IntentDefinition[];
  /** Words that cancel a following phrase of a negatable intent. */
  readonly negators: readonly string[];
  /** Template key → text (or variants, picked by consecutive misses). `{var}`: business, address, hours,
   *  closed_days, day_hours, a slot name, or heard_<slot type>. */
  readonly templates: Readonly<Record<string, string | readonly string[]>>;
  readonly greeting: readonly string[];
  readonly initialState: string;
  readonly states: Readonly<Record<string, StateDefinition>>;
  /** Intent → handler in every state. */
  readonly global: Readonly<Record<string, Handler>>;
  readonly fallback: {
    readonly say: readonly string[];
    /** After this many misses in a row, `escalate` runs instead. */
    readonly maxMisses: number;
    readonly escalate: Step;
  };
}

/** A handler's steps: one step, or a list of them. */
export const stepsOf = (h: Handler): readonly Step[] => (Array.isArray(h) ? (h as readonly Step[]) : [h as Step]);
