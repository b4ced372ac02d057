/**
 * The rule engine: interprets a declarative RuleDefinition as a Responder. Each turn is a pure function of
 * (input, state, clock): normalize → extract slots → score intents → run the matching handler's step.
 */
import { stepsOf, WEEKDAYS, type Condition, type FormDefinition, type Handler, type OpeningHours, type RuleDefinition, type StateDefinition, type Step, type Weekday } from './definition';
import type { DialogState, Reply, Responder, ResponderInput } from './responder';
import { fitsHours } from './business-hours';
import { speakClock, stem, tokenize } from './normalize';
import { capitalize, createRenderer, spanText } from './rule-rendering';
import { createUnderstanding, type Heard } from './rule-understanding';
import { validateDefinition } from './rule-validation';
import { phraseCompleteness, type Completeness } from './completeness';

export interface RuleResponderOptions {
  /** Responder name (default `rules`). */
  readonly name?: string;
  /** Clock for "today"/"tomorrow" (default: system clock). */
  readonly now?: () => Date;
}


const FALLBACK_INTENT = 'fallback';
const MAX_CHAINED_STEPS = 8;




/** Mutable working copy of one turn. */
interface Turn {
  name: string;
  slots: Record<string, string>;
  parts: string[];
  action?: 'hangup' | 'transfer';
  readonly heard: Heard;
  readonly variant: number;
  readonly canTransfer?: boolean;
}

export function createRuleResponder(definition: RuleDefinition, options: RuleResponderOptions = {}): Responder {
  const def = definition;
  validateDefinition(def);
  const now = options.now ?? (() => new Date());
  const { intents, hear, classify } = createUnderstanding(def, now);
  const { hoursOn, render, fill } = createRenderer(def);

  const initialState = (): DialogState => ({ name: def.initialState, slots: {}, misses: 0 });

  // ---- dialog ---------------------------------------------------------------------------------------------------

  function holds(c: Condition | undefined, turn: Turn): boolean {
    if (!c) return true;
    if (c.has && !c.has.every((s) => Object.hasOwn(turn.slots, s))) return false;
    if (c.missing && !c.missing.every((s) => !Object.hasOwn(turn.slots, s))) return false;
    if (c.heard && !c.heard.every((s) => turn.heard[s] !== undefined)) return false;
    if (c.heardAny && !c.heardAny.some((s) => turn.heard[s] !== undefined)) return false;
    if (c.canTransfer !== undefined && (turn.canTransfer ?? true) !== c.canTransfer) return false;
    if (c.dayClosed !== undefined) {
      const hours = hoursOn(turn.heard.day ?? turn.slots.day);
      if (hours === undefined || (hours === null) !== c.dayClosed) return false;
    }
    return true;
  }

  function runHandler(handler: Handler, turn: Turn, depth = 0): void {
    const step = stepsOf(handler).find((s) => holds(s.when, turn));
    if (step) runStep(step, turn, depth);
  }

  function runStep(step: Step, turn: Turn, depth: number): void {
    if (depth > MAX_CHAINED_STEPS) return;
    for (const key of step.say ?? []) turn.parts.push(render(key, turn));
    for (const [slot, value] of Object.entries(step.set ?? {})) {
      const ref = /^\{([a-z_]+)\}$/.exec(value);
      const resolved = ref ? turn.slots[ref[1] as string] : value;
      if (resolved !== undefined) turn.slots[slot] = resolved;
    }
    for (const slot of step.clear ?? []) delete turn.slots[slot];
    if (step.action) turn.action = step.action;
    if (step.goto !== undefined) {
      turn.name = step.goto;
      const form = def.states[step.goto]?.form;
      if (form && fillForm(form, turn, depth)) return; // the form completed and ran its own step
    }
    if (step.prompt) turn.parts.push(...prompt(turn));
  }

  /** Fills the current form state from what was heard; returns true when it completed (and ran `complete`). */
  function fillForm(form: FormDefinition, turn: Turn, depth: number): boolean {
    for (const slot of form.slots) {
      const v = turn.heard[def.slots[slot] as string];
      if (v !== undefined) turn.slots[slot] = v;
    }
    if (form.validate) validateHours(form.validate, turn);
    if (form.slots.every((s) => Object.hasOwn(turn.slots, s))) {
      runStep(form.complete, turn, depth + 1);
      return true;
    }
    turn.parts.push(...prompt(turn));
    return false;
  }

  function validateHours(v: NonNullable<FormDefinition['validate']>, turn: Turn): void {
    const day = turn.slots[v.daySlot];
    const time = turn.slots[v.timeSlot];
    const fits = (h: OpeningHours | null | undefined): boolean => time !== undefined && fitsHours(def.business, h, time);
    const extra = { day: day === undefined ? '' : capitalize(day), time: time === undefined ? '' : speakClock(time) };
    if (day !== undefined) {
      const hours = hoursOn(day);
      if (!hours) {
        turn.parts.push(render(v.closedDay, turn, extra));
        delete turn.slots[v.daySlot];
      } else if (time !== undefined && !fits(hours)) {
        turn.parts.push(render(v.outsideHours, turn, { ...extra, day_hours: spanText(hours) }));
        delete turn.slots[v.timeSlot];
      }
    } else if (time !== undefined && !WEEKDAYS.some((d) => fits(def.business.hours[d]))) {
      turn.parts.push(render(v.outsideAllHours, turn, extra));
      delete turn.slots[v.timeSlot];
    }
  }

  /** The current state's question; a form state asks for what is still missing. */
  function prompt(turn: Turn): string[] {
    const state = def.states[turn.name] as StateDefinition;
    const form = state.form;
    if (form) {
      const missing = form.slots.filter((s) => !Object.hasOwn(turn.slots, s));
      const key = missing.join('+');
      if (missing.length > 0) {
        if (Object.hasOwn(form.ask, key)) return [render(form.ask[key] as string, turn)];
        return missing.map((s) => (Object.hasOwn(form.ask, s) ? render(form.ask[s] as string, turn) : '')).filter(Boolean);
      }
    }
    return state.prompt.map((k) => render(k, turn));
  }

  function awaitedTypes(state: DialogState): Set<string> {
    const form = def.states[state.name]?.form;
    const out = new Set<string>();
    if (form) for (const s of form.slots) if (!Object.hasOwn(state.slots, s)) out.add(def.slots[s] as string);
    return out;
  }

  function turnOf(state: DialogState, heard: Heard, variant = 0): Turn {
    return { name: state.name, slots: { ...state.slots }, parts: [], heard, variant };
  }

  function reply(turn: Turn, intent: string, misses: number): Reply {
    let text = turn.parts.filter((p) => p.length > 0).join(' ').replace(/\s+/g, ' ').trim();
    if (text.length === 0) text = render(def.fallback.say[0] ?? '', turn) || '…';
    const state: DialogState = { name: turn.name, slots: turn.slots, misses };
    return turn.action ? { text, state, intent, action: turn.action } : { text, state, intent };
  }

  function miss(state: DialogState, heard: Heard): Reply {
    const misses = state.misses + 1;
    const turn = turnOf(state, heard, misses - 1);
    if (misses >= def.fallback.maxMisses) {
      runStep(def.fallback.escalate, turn, 0);
    } else {
      const stateDef = def.states[state.name] as StateDefinition;
      if (stateDef.reprompt) turn.parts.push(...stateDef.reprompt.map((k) => render(k, turn)));
      else turn.parts.push(...def.fallback.say.map((k) => render(k, turn)), ...prompt(turn));
    }
    return reply(turn, FALLBACK_INTENT, misses);
  }

  function respondSync(input: ResponderInput, raw: DialogState): Reply {
    const state = sanitize(raw);
    const stateDef = def.states[state.name] as StateDefinition;
    const active = new Set([...Object.keys(def.global), ...Object.keys(stateDef.on ?? {})]);

    let intent: string | undefined;
    let heard: Heard = {};
    const dtmf = typeof input.dtmf === 'string' ? input.dtmf.trim() : '';
    if (dtmf.length > 0) {
      intent = intents.find((i) => active.has(i.name) && i.dtmf.has(dtmf))?.name;
    } else {
      const stemmed = tokenize(typeof input.text === 'string' ? input.text : '').map(stem);
      heard = hear(stemmed, awaitedTypes(state));
      intent = classify(stemmed, active);
    }

    const turn: Turn = { ...turnOf(state, heard), canTransfer: input.canTransfer };
    if (intent !== undefined) {
      const handler = stateDef.on && Object.hasOwn(stateDef.on, intent) ? stateDef.on[intent] : def.global[intent];
      if (handler) runHandler(handler, turn);
    } else if (stateDef.onSlots && Object.keys(heard).length > 0) {
      intent = stateDef.onSlots.intent;
      runHandler(stateDef.onSlots.then, turn);
    }
    if (intent === undefined || turn.parts.length === 0) return miss(state, heard);
    return reply(turn, intent, 0);
  }

  /**
   * Complete when the words are understood in this state (an intent, or slot values the state takes) and do not stop
   * mid-phrase; incomplete when they do; unsure otherwise. The same understanding as `respond`, without the dialog.
   */
  function completeness(text: string, raw: DialogState): Completeness {
    const phrase = phraseCompleteness(text);
    if (phrase === 'incomplete') return phrase;
    const state = sanitize(raw);
    const stateDef = def.states[state.name] as StateDefinition;
    const active = new Set([...Object.keys(def.global), ...Object.keys(stateDef.on ?? {})]);
    const stemmed = tokenize(text).map(stem);
    if (classify(stemmed, active) !== undefined) return 'complete';
    const takesSlots = stateDef.onSlots !== undefined || stateDef.form !== undefined;
    return takesSlots && Object.keys(hear(stemmed, awaitedTypes(state))).length > 0 ? 'complete' : phrase;
  }

  function sanitize(raw: unknown): DialogState {
    if (!raw || typeof raw !== 'object') return initialState();
    const r = raw as { name?: unknown; slots?: unknown; misses?: unknown };
    const name = typeof r.name === 'string' && Object.hasOwn(def.states, r.name) ? r.name : def.initialState;
    const slots: Record<string, string> = {};
    if (r.slots && typeof r.slots === 'object') {
      for (const [k, v] of Object.entries(r.slots)) if (Object.hasOwn(def.slots, k) && typeof v === 'string') slots[k] = v;
    }
    const misses =
      typeof r.misses === 'number' && Number.isInteger(r.misses) && r.misses > 0 ? Math.min(r.misses, 1000) : 0;
    return { name, slots, misses };
  }

  /** Placeholders whose value is the business's, the same for every call. */
  const CALL_INDEPENDENT = new Set(['business', 'address', 'hours', 'closed_days']);

  function staticPrompts(): string[] {
    const texts = new Set<string>();
    for (const template of Object.values(def.templates)) {
      for (const variant of typeof template === 'string' ? [template] : template) {
        const names = [...variant.matchAll(/\{([a-z_]+)\}/g)].map((m) => m[1]!);
        if (!names.every((n) => CALL_INDEPENDENT.has(n))) continue;
        const text = variant.replace(/\{([a-z_]+)\}/g, (_, name: string) => fill(`{${name}}`, turnOf(initialState(), {}))).trim();
        if (text) texts.add(text);
      }
    }
    return [...texts];
  }

  return {
    name: options.name ?? 'rules',
    initialState,
    staticPrompts,
    completeness,
    greet(state: DialogState): Reply {
      const s = sanitize(state);
      const turn = turnOf(s, {});
      turn.parts.push(...def.greeting.map((k) => render(k, turn)));
      return reply(turn, 'greeting', s.misses);
    },
    respond(input: ResponderInput, state: DialogState): Reply {
      try {
        return respondSync(input ?? {}, state);
      } catch {
        // Never fail a live call: should a definition/engine bug surface, re-prompt from the start state.
        const turn = turnOf(initialState(), {});
        turn.parts.push(...def.fallback.say.map((k) => render(k, turn)), ...prompt(turn));
        return reply(turn, 'error', 0);
      }
    },
  };
}
