/**
 * The rule engine: interprets a declarative RuleDefinition as a Responder. Each turn is a pure function of
 * (input, state, clock): normalize → extract slots → score intents → run the matching handler's step.
 */
import type {
  Condition,
  FormDefinition,
  Handler,
  IntentDefinition,
  OpeningHours,
  RuleDefinition,
  StateDefinition,
  Step,
  Weekday,
} from './definition';
import { WEEKDAYS } from './definition';
import type { DialogState, Reply, Responder, ResponderInput } from './responder';
import {
  type CompiledDayType,
  type CompiledTimeType,
  clockMinutes,
  compileDayType,
  compileTimeType,
  extractDay,
  extractTime,
  matchesAt,
  speakClock,
  stem,
  tokenize,
} from './normalize';

export interface RuleResponderOptions {
  /** Responder name (default `rules`). */
  readonly name?: string;
  /** Clock for "today"/"tomorrow" (default: system clock). */
  readonly now?: () => Date;
}

/** A definition that does not hold together (unknown state, template, slot or intent). */
export class RuleDefinitionError extends Error {
  override readonly name = 'RuleDefinitionError';
}

const FALLBACK_INTENT = 'fallback';
const MAX_CHAINED_STEPS = 8;

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);
const steps = (h: Handler): readonly Step[] => (Array.isArray(h) ? (h as readonly Step[]) : [h as Step]);

interface CompiledIntent {
  readonly name: string;
  readonly phrases: ReadonlyArray<readonly string[]>;
  readonly keywords: ReadonlySet<string>;
  readonly dtmf: ReadonlySet<string>;
  readonly negatable: boolean;
}

type Heard = Partial<Record<string, string>>;

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
  let weekdayFormat: Intl.DateTimeFormat | undefined; // created on first use: costs ~1 ms

  const intents: CompiledIntent[] = def.intents.map(compileIntent);
  const negators = new Set(def.negators.flatMap((w) => tokenize(w).map(stem)));
  const slotTypes: Array<[string, CompiledDayType | CompiledTimeType]> = Object.entries(def.slotTypes).map(
    ([name, t]) => [name, t.kind === 'weekday' ? compileDayType(t) : compileTimeType(t)],
  );

  const initialState = (): DialogState => ({ name: def.initialState, slots: {}, misses: 0 });

  // ---- understanding -------------------------------------------------------------------------------------------

  function today(): Weekday {
    weekdayFormat ??= new Intl.DateTimeFormat('en-US', { weekday: 'long', timeZone: def.business.timeZone });
    const day = weekdayFormat.format(now()).toLowerCase();
    return (WEEKDAYS as readonly string[]).includes(day) ? (day as Weekday) : 'monday';
  }

  function hear(stemmed: readonly string[], awaiting: ReadonlySet<string>): Heard {
    const heard: Heard = {};
    for (const [name, type] of slotTypes) {
      const value =
        type.kind === 'weekday'
          ? extractDay(stemmed, type, today)
          : extractTime(stemmed, type, awaiting.has(name));
      if (value !== undefined) heard[name] = value;
    }
    return heard;
  }

  function negated(stemmed: readonly string[], at: number): boolean {
    for (let k = Math.max(0, at - 3); k < at; k++) if (negators.has(stemmed[k] as string)) return true;
    return false;
  }

  function classify(stemmed: readonly string[], active: ReadonlySet<string>): string | undefined {
    let best: { name: string; score: number } | undefined;
    for (const intent of intents) {
      if (!active.has(intent.name)) continue;
      let score = 0;
      for (const phrase of intent.phrases) {
        for (let i = 0; i + phrase.length <= stemmed.length; i++) {
          if (matchesAt(stemmed, phrase, i) && !(intent.negatable && negated(stemmed, i))) {
            score += 2 * phrase.length;
            break;
          }
        }
      }
      stemmed.forEach((tok, i) => {
        if (intent.keywords.has(tok) && !(intent.negatable && negated(stemmed, i))) score += 1;
      });
      if (score > 0 && (!best || score > best.score)) best = { name: intent.name, score };
    }
    return best?.name;
  }

  // ---- rendering ----------------------------------------------------------------------------------------------

  function hoursOn(day: string | undefined): OpeningHours | null | undefined {
    return day !== undefined && own(def.business.hours, day) ? def.business.hours[day as Weekday] : undefined;
  }

  function render(key: string, turn: Turn, extra: Readonly<Record<string, string>> = {}): string {
    const template = def.templates[key];
    const text = typeof template === 'string' ? template : (template?.[turn.variant % template.length] ?? '');
    return text.replace(/\{([a-z_]+)\}/g, (_, name: string) => variable(name, turn, extra));
  }

  function variable(name: string, turn: Turn, extra: Readonly<Record<string, string>>): string {
    if (own(extra, name)) return extra[name] as string;
    switch (name) {
      case 'business':
        return def.business.name;
      case 'address':
        return def.business.address;
      case 'hours':
        return weeklyHours(def.business.hours);
      case 'closed_days':
        return joinList(WEEKDAYS.filter((d) => !def.business.hours[d]).map(capitalize));
      case 'day_hours': {
        const h = hoursOn(turn.heard.day ?? turn.slots.day);
        return h ? spanText(h) : '';
      }
    }
    if (name.startsWith('heard_')) {
      const type = name.slice('heard_'.length);
      const v = turn.heard[type];
      return v === undefined ? '' : speakValue(type, v);
    }
    if (own(def.slots, name) && own(turn.slots, name)) {
      return speakValue(def.slots[name] as string, turn.slots[name] as string);
    }
    return '';
  }

  function speakValue(typeName: string, value: string): string {
    const type = def.slotTypes[typeName];
    if (type?.kind === 'clock') return speakClock(value);
    if (type?.kind === 'weekday') return capitalize(value);
    return value;
  }

  // ---- dialog ---------------------------------------------------------------------------------------------------

  function holds(c: Condition | undefined, turn: Turn): boolean {
    if (!c) return true;
    if (c.has && !c.has.every((s) => own(turn.slots, s))) return false;
    if (c.missing && !c.missing.every((s) => !own(turn.slots, s))) return false;
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
    const step = steps(handler).find((s) => holds(s.when, turn));
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
    if (form.slots.every((s) => own(turn.slots, s))) {
      runStep(form.complete, turn, depth + 1);
      return true;
    }
    turn.parts.push(...prompt(turn));
    return false;
  }

  function validateHours(v: NonNullable<FormDefinition['validate']>, turn: Turn): void {
    const day = turn.slots[v.daySlot];
    const time = turn.slots[v.timeSlot];
    const minutes = time === undefined ? undefined : clockMinutes(time);
    const fits = (h: OpeningHours | null | undefined): boolean => {
      if (!h || minutes === undefined) return false;
      const open = clockMinutes(h.open) ?? 0;
      const close = clockMinutes(h.close) ?? 0;
      return minutes >= open && minutes + def.business.appointmentMinutes <= close;
    };
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
      const missing = form.slots.filter((s) => !own(turn.slots, s));
      const key = missing.join('+');
      if (missing.length > 0) {
        if (own(form.ask, key)) return [render(form.ask[key] as string, turn)];
        return missing.map((s) => (own(form.ask, s) ? render(form.ask[s] as string, turn) : '')).filter(Boolean);
      }
    }
    return state.prompt.map((k) => render(k, turn));
  }

  function awaitedTypes(state: DialogState): Set<string> {
    const form = def.states[state.name]?.form;
    const out = new Set<string>();
    if (form) for (const s of form.slots) if (!own(state.slots, s)) out.add(def.slots[s] as string);
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
      const handler = stateDef.on && own(stateDef.on, intent) ? stateDef.on[intent] : def.global[intent];
      if (handler) runHandler(handler, turn);
    } else if (stateDef.onSlots && Object.keys(heard).length > 0) {
      intent = stateDef.onSlots.intent;
      runHandler(stateDef.onSlots.then, turn);
    }
    if (intent === undefined || turn.parts.length === 0) return miss(state, heard);
    return reply(turn, intent, 0);
  }

  function sanitize(raw: unknown): DialogState {
    if (!raw || typeof raw !== 'object') return initialState();
    const r = raw as { name?: unknown; slots?: unknown; misses?: unknown };
    const name = typeof r.name === 'string' && own(def.states, r.name) ? r.name : def.initialState;
    const slots: Record<string, string> = {};
    if (r.slots && typeof r.slots === 'object') {
      for (const [k, v] of Object.entries(r.slots)) if (own(def.slots, k) && typeof v === 'string') slots[k] = v;
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
        const text = variant.replace(/\{([a-z_]+)\}/g, (_, name: string) => variable(name, turnOf(initialState(), {}), {})).trim();
        if (text) texts.add(text);
      }
    }
    return [...texts];
  }

  return {
    name: options.name ?? 'rules',
    initialState,
    staticPrompts,
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

// ---- helpers ------------------------------------------------------------------------------------------------------

function compileIntent(intent: IntentDefinition): CompiledIntent {
  return {
    name: intent.name,
    phrases: [...new Set((intent.phrases ?? []).map((p) => tokenize(p).map(stem).join(' ')))]
      .filter((p) => p.length > 0)
      .map((p) => p.split(' ')),
    keywords: new Set((intent.keywords ?? []).flatMap((k) => tokenize(k).map(stem))),
    dtmf: new Set(intent.dtmf ?? []),
    negatable: intent.negatable ?? true,
  };
}

function capitalize(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

function spanText(h: OpeningHours): string {
  return `from ${speakClock(h.open)} to ${speakClock(h.close)}`;
}

/** "Monday to Friday from 9 AM to 5 PM and Saturday from 10 AM to 2 PM". */
export function weeklyHours(hours: Readonly<Record<Weekday, OpeningHours | null>>): string {
  const groups: Array<{ from: Weekday; to: Weekday; hours: OpeningHours }> = [];
  for (const day of WEEKDAYS) {
    const h = hours[day];
    const last = groups[groups.length - 1];
    const prev = WEEKDAYS[WEEKDAYS.indexOf(day) - 1];
    if (!h) continue;
    if (last && prev === last.to && last.hours.open === h.open && last.hours.close === h.close) last.to = day;
    else groups.push({ from: day, to: day, hours: h });
  }
  return joinList(
    groups.map((g) =>
      g.from === g.to
        ? `${capitalize(g.from)} ${spanText(g.hours)}`
        : `${capitalize(g.from)} to ${capitalize(g.to)} ${spanText(g.hours)}`,
    ),
  );
}

/** Checks every reference in the definition; throws RuleDefinitionError on the first broken one. */
export function validateDefinition(def: RuleDefinition): void {
  const fail = (msg: string): never => {
    throw new RuleDefinitionError(msg);
  };
  const intentNames = new Set(def.intents.map((i) => i.name));
  if (intentNames.size !== def.intents.length) fail('duplicate intent names');
  const template = (key: string, where: string): void => {
    if (!own(def.templates, key)) fail(`${where}: unknown template "${key}"`);
  };
  const slot = (name: string, where: string): void => {
    if (!own(def.slots, name)) fail(`${where}: unknown slot "${name}"`);
  };
  const checkStep = (s: Step, where: string): void => {
    s.say?.forEach((k) => template(k, where));
    Object.keys(s.set ?? {}).forEach((k) => slot(k, where));
    s.clear?.forEach((k) => slot(k, where));
    s.when?.has?.forEach((k) => slot(k, where));
    s.when?.missing?.forEach((k) => slot(k, where));
    for (const t of [...(s.when?.heard ?? []), ...(s.when?.heardAny ?? [])]) {
      if (!own(def.slotTypes, t)) fail(`${where}: unknown slot type "${t}"`);
    }
    if (s.goto !== undefined && !own(def.states, s.goto)) fail(`${where}: unknown state "${s.goto}"`);
  };
  const checkHandlers = (on: Readonly<Record<string, Handler>>, where: string): void => {
    for (const [intent, h] of Object.entries(on)) {
      if (!intentNames.has(intent)) fail(`${where}: unknown intent "${intent}"`);
      steps(h).forEach((s) => checkStep(s, `${where}.${intent}`));
    }
  };
  for (const [name, type] of Object.entries(def.slots)) {
    if (!own(def.slotTypes, type)) fail(`slot "${name}": unknown slot type "${type}"`);
  }
  if (!own(def.states, def.initialState)) fail(`unknown initial state "${def.initialState}"`);
  def.greeting.forEach((k) => template(k, 'greeting'));
  def.fallback.say.forEach((k) => template(k, 'fallback'));
  if (def.fallback.say.length === 0) fail('fallback.say is empty');
  checkStep(def.fallback.escalate, 'fallback.escalate');
  checkHandlers(def.global, 'global');
  for (const [name, state] of Object.entries(def.states)) {
    state.prompt.forEach((k) => template(k, `${name}.prompt`));
    state.reprompt?.forEach((k) => template(k, `${name}.reprompt`));
    checkHandlers(state.on ?? {}, name);
    if (state.onSlots) steps(state.onSlots.then).forEach((s) => checkStep(s, `${name}.onSlots`));
    if (state.form) {
      state.form.slots.forEach((s) => slot(s, `${name}.form`));
      Object.values(state.form.ask).forEach((k) => template(k, `${name}.form.ask`));
      checkStep(state.form.complete, `${name}.form.complete`);
      const v = state.form.validate;
      if (v) {
        slot(v.daySlot, `${name}.form.validate`);
        slot(v.timeSlot, `${name}.form.validate`);
        [v.closedDay, v.outsideHours, v.outsideAllHours].forEach((k) => template(k, `${name}.form.validate`));
      }
    }
  }
}
