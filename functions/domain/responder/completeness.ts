/**
 * Whether a caller's words sound finished: the signal the end of a turn waits on (docs/LATENCY.md, "End of turn").
 * A cheap judgment on a transcript, made once per speculation, never a second model call.
 *
 * - `complete`: the words say the caller is done (the responder understood them); the endpoint may come early.
 * - `incomplete`: the words say the caller is not done (a sentence that stops on "for", "and", "the", a number being
 *   read out digit by digit); the endpoint waits longer, bounded.
 * - `unsure`: neither; the ordinary endpoint silence.
 */
import { tokenize } from './normalize';

export type Completeness = 'complete' | 'incomplete' | 'unsure';

/**
 * Words an English sentence does not end on: conjunctions, prepositions, articles, possessives, fillers, and the
 * verbs a request is built on ("I'd like", "I want", "can you"). A sentence that stops on one of them is
 * unfinished, whatever the responder made of its first half. Words that also end sentences ("I think so", "yes I can",
 * "okay then", "yes please") are left out: a complete sentence taken for an unfinished one costs a late answer, the
 * other way round a caller cut off.
 */
const HOLDING_WORDS = new Set([
  'and', 'or', 'but', 'because', 'if', 'than', 'which',
  'for', 'at', 'on', 'to', 'in', 'of', 'from', 'with', 'about', 'until', 'by', 'into',
  'the', 'a', 'an', 'my', 'your', 'our', 'his', 'their',
  'um', 'uh', 'er', 'erm', 'hmm',
  'im', 'id', 'want', 'need', 'like',
]);

/** Digits read one by one: this many or more in a row at the end is a number still being read out… */
const DIGIT_RUN = 2;
/** …until it is as long as a phone number without its area code. */
const NUMBER_DONE = 7;

/**
 * What the words alone say: `incomplete` when they stop mid-phrase or mid-number, `unsure` otherwise (whether they
 * are complete is the responder's to say: `Responder.completeness`).
 */
export function phraseCompleteness(text: string): Exclude<Completeness, 'complete'> {
  const tokens = tokenize(text);
  const last = tokens.at(-1);
  if (last === undefined) return 'unsure';
  if (HOLDING_WORDS.has(last)) return 'incomplete';
  let digits = 0;
  for (let i = tokens.length - 1; i >= 0 && /^\d$/.test(tokens[i]!); i--) digits++;
  if (digits >= DIGIT_RUN && digits < NUMBER_DONE) return 'incomplete';
  return 'unsure';
}
