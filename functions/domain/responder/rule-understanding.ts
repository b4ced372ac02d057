/**
 * Understanding a caller's words against a rule definition: the slot values heard (days, times) and the intent that
 * scores best among those the dialog state allows. Pure: the same words, state and clock give the same answer.
 */
import type { IntentDefinition, RuleDefinition, Weekday } from './definition';
import { WEEKDAYS } from './definition';
import {
  type CompiledDayType,
  type CompiledTimeType,
  compileDayType,
  compileTimeType,
  extractDay,
  extractTime,
  matchesAt,
  stem,
  tokenize,
} from './normalize';

/** Slot values heard in one utterance, by slot type. */
export type Heard = Partial<Record<string, string>>;

export interface CompiledIntent {
  readonly name: string;
  readonly phrases: ReadonlyArray<readonly string[]>;
  readonly keywords: ReadonlySet<string>;
  readonly dtmf: ReadonlySet<string>;
  readonly negatable: boolean;
}

export interface Understanding {
  readonly intents: readonly CompiledIntent[];
  /** The slot values in the words; a type the dialog awaits is read more generously (a bare "nine" is a time). */
  hear(stemmed: readonly string[], awaiting: ReadonlySet<string>): Heard;
  /** The best-scoring intent among the `active` ones, or undefined when none scores. */
  classify(stemmed: readonly string[], active: ReadonlySet<string>): string | undefined;
}

export function createUnderstanding(def: RuleDefinition, now: () => Date): Understanding {
  let weekdayFormat: Intl.DateTimeFormat | undefined; // created on first use: costs ~1 ms
  const intents: CompiledIntent[] = def.intents.map(compileIntent);
  const negators = new Set(def.negators.flatMap((w) => tokenize(w).map(stem)));
  const slotTypes: Array<[string, CompiledDayType | CompiledTimeType]> = Object.entries(def.slotTypes).map(
    ([name, t]) => [name, t.kind === 'weekday' ? compileDayType(t) : compileTimeType(t)],
  );

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

  return { intents, hear, classify };
}

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
