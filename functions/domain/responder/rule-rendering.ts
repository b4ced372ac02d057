/**
 * Rendering a rule definition's templates: `{variable}` filled from the business, the slots and what was heard,
 * days and clock times spoken the way a person says them.
 */
import type { OpeningHours, RuleDefinition, Weekday } from './definition';
import { WEEKDAYS } from './definition';
import { speakClock } from './normalize';
import type { Heard } from './rule-understanding';

/** What a template is rendered for: the reply's variant, what was heard, the slots filled so far. */
export interface RenderContext {
  readonly variant: number;
  readonly heard: Heard;
  readonly slots: Readonly<Record<string, string>>;
}

export interface Renderer {
  /** The business's hours on `day`: null when closed, undefined when `day` is not a day. */
  hoursOn(day: string | undefined): OpeningHours | null | undefined;
  /** The template `key` (its variant for this reply) with its variables filled. */
  render(key: string, turn: RenderContext, extra?: Readonly<Record<string, string>>): string;
  /** A template's text with its variables filled. */
  fill(text: string, turn: RenderContext, extra?: Readonly<Record<string, string>>): string;
}

export function createRenderer(def: RuleDefinition): Renderer {

  function hoursOn(day: string | undefined): OpeningHours | null | undefined {
    return day !== undefined && Object.hasOwn(def.business.hours, day) ? def.business.hours[day as Weekday] : undefined;
  }

  function render(key: string, turn: RenderContext, extra: Readonly<Record<string, string>> = {}): string {
    const template = def.templates[key];
    const text = typeof template === 'string' ? template : (template?.[turn.variant % template.length] ?? '');
    return fill(text, turn, extra);
  }

  function fill(text: string, turn: RenderContext, extra: Readonly<Record<string, string>> = {}): string {
    return text.replace(/\{([a-z_]+)\}/g, (_, name: string) => variable(name, turn, extra));
  }

  function variable(name: string, turn: RenderContext, extra: Readonly<Record<string, string>>): string {
    if (Object.hasOwn(extra, name)) return extra[name] as string;
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
    if (Object.hasOwn(def.slots, name) && Object.hasOwn(turn.slots, name)) {
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

  return { hoursOn, render, fill };
}

export function capitalize(s: string): string {
  return s.length === 0 ? s : s[0]!.toUpperCase() + s.slice(1);
}

export function joinList(items: readonly string[]): string {
  if (items.length <= 1) return items.join('');
  return `${items.slice(0, -1).join(', ')} and ${items[items.length - 1]}`;
}

export function spanText(h: OpeningHours): string {
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
