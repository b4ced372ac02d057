/** Checking a rule definition before it answers anyone: every state, template, slot, slot type and intent it names exists. */
import { stepsOf, type Handler, type RuleDefinition, type Step } from './definition';

/** A definition that does not hold together (unknown state, template, slot or intent). */
export class RuleDefinitionError extends Error {
  override readonly name = 'RuleDefinitionError';
}

/** Checks every reference in the definition; throws RuleDefinitionError on the first broken one. */
export function validateDefinition(def: RuleDefinition): void {
  const fail = (msg: string): never => {
    throw new RuleDefinitionError(msg);
  };
  const intentNames = new Set(def.intents.map((i) => i.name));
  if (intentNames.size !== def.intents.length) fail('duplicate intent names');
  const template = (key: string, where: string): void => {
    if (!Object.hasOwn(def.templates, key)) fail(`${where}: unknown template "${key}"`);
  };
  const slot = (name: string, where: string): void => {
    if (!Object.hasOwn(def.slots, name)) fail(`${where}: unknown slot "${name}"`);
  };
  const checkStep = (s: Step, where: string): void => {
    s.say?.forEach((k) => template(k, where));
    Object.keys(s.set ?? {}).forEach((k) => slot(k, where));
    s.clear?.forEach((k) => slot(k, where));
    s.when?.has?.forEach((k) => slot(k, where));
    s.when?.missing?.forEach((k) => slot(k, where));
    for (const t of [...(s.when?.heard ?? []), ...(s.when?.heardAny ?? [])]) {
      if (!Object.hasOwn(def.slotTypes, t)) fail(`${where}: unknown slot type "${t}"`);
    }
    if (s.goto !== undefined && !Object.hasOwn(def.states, s.goto)) fail(`${where}: unknown state "${s.goto}"`);
  };
  const checkHandlers = (on: Readonly<Record<string, Handler>>, where: string): void => {
    for (const [intent, h] of Object.entries(on)) {
      if (!intentNames.has(intent)) fail(`${where}: unknown intent "${intent}"`);
      stepsOf(h).forEach((s) => checkStep(s, `${where}.${intent}`));
    }
  };
  for (const [name, type] of Object.entries(def.slots)) {
    if (!Object.hasOwn(def.slotTypes, type)) fail(`slot "${name}": unknown slot type "${type}"`);
  }
  if (!Object.hasOwn(def.states, def.initialState)) fail(`unknown initial state "${def.initialState}"`);
  def.greeting.forEach((k) => template(k, 'greeting'));
  def.fallback.say.forEach((k) => template(k, 'fallback'));
  if (def.fallback.say.length === 0) fail('fallback.say is empty');
  checkStep(def.fallback.escalate, 'fallback.escalate');
  checkHandlers(def.global, 'global');
  for (const [name, state] of Object.entries(def.states)) {
    state.prompt.forEach((k) => template(k, `${name}.prompt`));
    state.reprompt?.forEach((k) => template(k, `${name}.reprompt`));
    checkHandlers(state.on ?? {}, name);
    if (state.onSlots) stepsOf(state.onSlots.then).forEach((s) => checkStep(s, `${name}.onSlots`));
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
