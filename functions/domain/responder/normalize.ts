/**
 * Text normalization and slot extraction for the rule responder. Pure functions, no state.
 */
import type { DaySlotType, TimeSlotType, Weekday } from './definition';
import { WEEKDAYS } from './definition';

/** Longest input considered; a transcript beyond this is cut (keeps every turn cheap). */
export const MAX_INPUT_CHARS = 500;

const UNITS: Readonly<Record<string, number>> = {
  zero: 0, one: 1, two: 2, three: 3, four: 4, five: 5, six: 6, seven: 7, eight: 8, nine: 9, ten: 10,
  eleven: 11, twelve: 12, thirteen: 13, fourteen: 14, fifteen: 15, sixteen: 16, seventeen: 17, eighteen: 18,
  nineteen: 19,
};
const TENS: Readonly<Record<string, number>> = {
  twenty: 20, thirty: 30, forty: 40, fourty: 40, fifty: 50, sixty: 60, seventy: 70, eighty: 80, ninety: 90,
};
const DIGIT_WORDS = ['zero', 'one', 'two', 'three', 'four', 'five', 'six', 'seven', 'eight', 'nine'];

const own = (o: object, k: string): boolean => Object.prototype.hasOwnProperty.call(o, k);

/** Lower-case, strip punctuation, split `3pm`, join `p m`, number words → digits. Returns tokens. */
export function tokenize(text: string): string[] {
  const s = text
    .slice(0, MAX_INPUT_CHARS)
    .toLowerCase()
    .normalize('NFKD')
    .replace(/[\u0300-\u036f]/g, '')
    .replace(/['’`]/g, '')
    .replace(/&/g, ' and ')
    .replace(/[^a-z0-9]+/g, ' ')
    .replace(/(\d)([a-z])/g, '$1 $2')
    .replace(/([a-z])(\d)/g, '$1 $2');
  const raw = s.split(' ').filter((t) => t.length > 0);
  const out: string[] = [];
  for (let i = 0; i < raw.length; i++) {
    const t = raw[i] as string;
    const next = raw[i + 1];
    if ((t === 'a' || t === 'p') && next === 'm') {
      out.push(`${t}m`);
      i++;
    } else if (t === 'o' && next === 'clock') {
      out.push('oclock');
      i++;
    } else if (own(TENS, t)) {
      const unit = next !== undefined && own(UNITS, next) ? (UNITS[next] as number) : undefined;
      if (unit !== undefined && unit >= 1 && unit <= 9) {
        out.push(String((TENS[t] as number) + unit));
        i++;
      } else {
        out.push(String(TENS[t]));
      }
    } else if (own(UNITS, t)) {
      out.push(String(UNITS[t]));
    } else {
      out.push(t);
    }
  }
  return out;
}

/** Normalized text: tokens joined by single spaces. */
export function normalize(text: string): string {
  return tokenize(text).join(' ');
}

/** Digits → number words ("3 pm" → "three pm", "10 30" → "ten thirty"); for text meant to be spoken or matched
 *  against a word-only vocabulary. */
export function digitsToWords(text: string): string {
  return text.replace(/\d+/g, (d) => {
    const n = Number(d);
    if (d.length > 1 && d.startsWith('0')) return d.split('').map((c) => (c === '0' ? 'oh' : DIGIT_WORDS[Number(c)])).join(' ');
    return numberToWords(n) ?? d.split('').map((c) => DIGIT_WORDS[Number(c)]).join(' ');
  });
}

function numberToWords(n: number): string | undefined {
  if (n < 20) return Object.keys(UNITS).find((k) => UNITS[k] === n);
  if (n < 100) {
    const tens = Object.keys(TENS).find((k) => TENS[k] === n - (n % 10) && k !== 'fourty');
    return n % 10 === 0 ? tens : `${tens} ${DIGIT_WORDS[n % 10]}`;
  }
  return undefined;
}

/** Light stemming used for matching only: `hours` → `hour`, `tuesdays` → `tuesday`. */
export function stem(token: string): string {
  return token.length > 3 && token.endsWith('s') && !token.endsWith('ss') ? token.slice(0, -1) : token;
}

/** Index of `phrase` in `tokens` at `from`, else -1 (both already stemmed). */
export function matchesAt(tokens: readonly string[], phrase: readonly string[], at: number): boolean {
  if (phrase.length === 0 || at + phrase.length > tokens.length) return false;
  for (let k = 0; k < phrase.length; k++) if (tokens[at + k] !== phrase[k]) return false;
  return true;
}

/** Compiled phrase list, longest first. */
export type PhraseTable<V> = ReadonlyArray<{ readonly words: readonly string[]; readonly value: V }>;

export function phraseTable<V>(entries: Iterable<[string, V]>): PhraseTable<V> {
  const rows: Array<{ words: string[]; value: V }> = [];
  for (const [phrase, value] of entries) {
    const words = tokenize(phrase).map(stem);
    if (words.length > 0) rows.push({ words, value });
  }
  return rows.sort((a, b) => b.words.length - a.words.length);
}

function lookup<V>(table: PhraseTable<V>, tokens: readonly string[], at: number): { value: V; length: number } | undefined {
  for (const row of table) if (matchesAt(tokens, row.words, at)) return { value: row.value, length: row.words.length };
  return undefined;
}

// ---------------------------------------------------------------------------------------------------------------
// Day of week

export interface CompiledDayType {
  readonly kind: 'weekday';
  readonly table: PhraseTable<{ readonly day?: Weekday; readonly offset?: number }>;
}

export function compileDayType(t: DaySlotType): CompiledDayType {
  const entries: Array<[string, { day?: Weekday; offset?: number }]> = [];
  for (const day of WEEKDAYS) for (const name of [day, ...t.names[day]]) entries.push([name, { day }]);
  for (const [phrase, offset] of Object.entries(t.relative)) entries.push([phrase, { offset }]);
  return { kind: 'weekday', table: phraseTable(entries) };
}

/** The last day mentioned ("from thursday to friday" → friday); `today` gives the current weekday (called only
 *  for relative days). */
export function extractDay(
  stemmed: readonly string[],
  t: CompiledDayType,
  today: Weekday | (() => Weekday),
): Weekday | undefined {
  let found: Weekday | undefined;
  for (let i = 0; i < stemmed.length; i++) {
    const hit = lookup(t.table, stemmed, i);
    if (!hit) continue;
    if (hit.value.day) found = hit.value.day;
    else if (hit.value.offset !== undefined) {
      const idx = (WEEKDAYS.indexOf(typeof today === 'function' ? today() : today) + hit.value.offset) % 7;
      found = WEEKDAYS[(idx + 7) % 7];
    }
    i += hit.length - 1;
  }
  return found;
}

// ---------------------------------------------------------------------------------------------------------------
// Clock time

export interface CompiledTimeType {
  readonly kind: 'clock';
  readonly named: PhraseTable<string>;
  readonly offsets: PhraseTable<number>;
  readonly meridiem: PhraseTable<'am' | 'pm'>;
  readonly oclock: ReadonlySet<string>;
  readonly cues: ReadonlySet<string>;
  readonly assumePmBelow: number;
  readonly soundsLike: ReadonlyMap<string, number>;
}

export function compileTimeType(t: TimeSlotType): CompiledTimeType {
  return {
    kind: 'clock',
    named: phraseTable(Object.entries(t.named)),
    offsets: phraseTable(Object.entries(t.offsets)),
    meridiem: phraseTable<'am' | 'pm'>([
      ...t.am.map((p): [string, 'am'] => [p, 'am']),
      ...t.pm.map((p): [string, 'pm'] => [p, 'pm']),
    ]),
    oclock: new Set(t.oclock.flatMap((w) => tokenize(w).map(stem))),
    cues: new Set(t.cues.flatMap((w) => tokenize(w).map(stem))),
    assumePmBelow: t.assumePmBelow,
    soundsLike: new Map(Object.entries(t.soundsLike ?? {}).map(([w, n]) => [stem(w), n])),
  };
}

const isNumber = (t: string | undefined): t is string => t !== undefined && /^\d{1,4}$/.test(t);
const FILLER = new Set(['in', 'the', 'at', 'this', 'of']);

/** am/pm right after position `at` (allowing "in the"), with the number of tokens it spans. */
function meridiemAfter(tokens: readonly string[], t: CompiledTimeType, at: number): { value: 'am' | 'pm'; end: number } | undefined {
  let j = at;
  while (j < tokens.length && j < at + 2 && FILLER.has(tokens[j] as string)) j++;
  const hit = lookup(t.meridiem, tokens, j);
  return hit ? { value: hit.value, end: j + hit.length } : undefined;
}

export function formatClock(h: number, m: number): string {
  return `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
}

function compose(t: CompiledTimeType, hour: number, minute: number, mer: 'am' | 'pm' | undefined): string | undefined {
  if (!Number.isInteger(hour) || minute < 0 || minute > 59) return undefined;
  let h = hour;
  if (mer) {
    if (h < 1 || h > 12) return h >= 13 && h <= 23 ? formatClock(h, minute) : undefined;
    h = mer === 'pm' ? (h % 12) + 12 : h % 12;
  } else if (h > 23) {
    return undefined;
  } else if (h >= 1 && h < t.assumePmBelow) {
    h += 12;
  }
  return formatClock(h, minute);
}

/**
 * The last time mentioned: "3 pm", "10 30", "9 am", "noon", "half past 2", "quarter to 5", "at 4", "3 oclock",
 * "10 in the morning". `lenient` also accepts a lone number ("3") — used when the dialog just asked for a time.
 */
export function extractTime(stemmed: readonly string[], t: CompiledTimeType, lenient: boolean): string | undefined {
  let found: string | undefined;
  let numbers = 0;
  let lone: number | undefined;
  for (let i = 0; i < stemmed.length; i++) {
    const named = lookup(t.named, stemmed, i);
    if (named) {
      found = named.value;
      i += named.length - 1;
      continue;
    }
    const offset = lookup(t.offsets, stemmed, i);
    if (offset) {
      const hourToken = stemmed[i + offset.length];
      if (isNumber(hourToken) && Number(hourToken) >= 1 && Number(hourToken) <= 12) {
        const mer = meridiemAfter(stemmed, t, i + offset.length + 1);
        const base = Number(hourToken) * 60 + offset.value;
        const total = (base + 24 * 60) % (24 * 60);
        const value = compose(t, Math.floor(total / 60) === 0 ? 12 : Math.floor(total / 60), total % 60, mer?.value);
        if (value) found = value;
        i = (mer?.end ?? i + offset.length + 1) - 1;
        continue;
      }
    }
    let tok = stemmed[i];
    const alike = tok === undefined ? undefined : t.soundsLike.get(tok);
    if (alike !== undefined && (t.oclock.has(stemmed[i + 1] as string) || meridiemAfter(stemmed, t, i + 1))) {
      tok = String(alike);
    }
    if (!isNumber(tok)) continue;
    numbers++;
    const hour = Number(tok);
    let j = i + 1;
    let minute = 0;
    let explicit = false;
    const next = stemmed[j];
    const after = stemmed[j + 1];
    if (next === 'oh' && isNumber(after) && Number(after) <= 9) {
      minute = Number(after);
      j += 2;
      explicit = true;
    } else if (isNumber(next) && (next === '00' || (Number(next) >= 10 && Number(next) <= 59)) && hour <= 23) {
      minute = Number(next);
      j += 1;
      explicit = true;
      numbers++;
    }
    if (t.oclock.has(stemmed[j] as string)) {
      j++;
      explicit = true;
    }
    const mer = meridiemAfter(stemmed, t, j);
    const cued = i > 0 && t.cues.has(stemmed[i - 1] as string);
    if (mer || explicit || cued) {
      const value = compose(t, hour, minute, mer?.value);
      if (value) found = value;
      i = (mer?.end ?? j) - 1;
    } else {
      lone = hour;
    }
  }
  if (found === undefined && lenient && numbers === 1 && lone !== undefined && lone >= 1 && lone <= 12) {
    found = compose(t, lone, 0, undefined);
  }
  return found;
}

/** `15:00` → `3 PM`, `10:30` → `10:30 AM`. */
export function speakClock(value: string): string {
  const m = /^(\d{2}):(\d{2})$/.exec(value);
  if (!m) return value;
  const h = Number(m[1]);
  const min = Number(m[2]);
  const suffix = h >= 12 ? 'PM' : 'AM';
  const h12 = h % 12 === 0 ? 12 : h % 12;
  return min === 0 ? `${h12} ${suffix}` : `${h12}:${String(min).padStart(2, '0')} ${suffix}`;
}

export function clockMinutes(value: string): number | undefined {
  const m = /^(\d{2}):(\d{2})$/.exec(value);
  return m ? Number(m[1]) * 60 + Number(m[2]) : undefined;
}
