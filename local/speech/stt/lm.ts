/**
 * Domain language model and dictionary for pocketsphinx, built from a list of domain sentences.
 *
 * The LM is a Witten-Bell smoothed backoff trigram model in ARPA format (log10 probabilities), so word sequences
 * that are not in the corpus but recombine its n-grams ("book an appointment for friday at nine thirty") stay
 * possible. Pronunciations come from the cmudict shipped with Debian's pocketsphinx-en-us.
 */
import { readFileSync } from 'node:fs';

export const EN_US_MODEL_DIR = '/usr/share/pocketsphinx/model/en-us';
export const CMUDICT_PATH = `${EN_US_MODEL_DIR}/cmudict-en-us.dict`;

const BOS = '<s>';
const EOS = '</s>';

/** Lower case, digits and apostrophes kept, everything else a word boundary. */
export function normalizeText(text: string): string {
  return text
    .toLowerCase()
    .replace(/[’‘]/g, "'")
    .replace(/[^a-z0-9']+/g, ' ')
    .replace(/(^| )'+|'+(?= |$)/g, '$1')
    .trim()
    .replace(/\s+/g, ' ');
}

export function tokenize(text: string): string[] {
  const n = normalizeText(text);
  return n === '' ? [] : n.split(' ');
}

/** Word error rate of `hypothesis` against `reference` (Levenshtein on normalized words / reference length). */
export function wordErrorRate(reference: string, hypothesis: string): number {
  const r = tokenize(reference);
  const h = tokenize(hypothesis);
  if (r.length === 0) return h.length === 0 ? 0 : 1;
  let prev = Array.from({ length: h.length + 1 }, (_, j) => j);
  for (let i = 1; i <= r.length; i++) {
    const cur = [i];
    for (let j = 1; j <= h.length; j++) {
      const sub = prev[j - 1]! + (r[i - 1] === h[j - 1] ? 0 : 1);
      cur.push(Math.min(sub, prev[j]! + 1, cur[j - 1]! + 1));
    }
    prev = cur;
  }
  return prev[h.length]! / r.length;
}

const fmt = (x: number): string => (Number.isFinite(x) ? x.toFixed(6) : '-99.000000');
const log10 = (p: number): number => (p > 0 ? Math.log10(p) : -99);

/**
 * Builds an ARPA backoff n-gram LM (order 1..3) from sentences. Words are normalized with `tokenize`; sentences are
 * wrapped in <s> … </s>. Returns the ARPA text.
 */
export function buildArpa(sentences: readonly string[], order: 1 | 2 | 3 = 3): string {
  const counts: Array<Map<string, number>> = [new Map(), new Map(), new Map()];
  const sents = sentences.map(tokenize).filter((s) => s.length > 0);
  if (sents.length === 0) throw new Error('buildArpa: corpus has no words');
  for (const words of sents) {
    const seq = [BOS, ...words, EOS];
    for (let n = 1; n <= order; n++) {
      for (let i = 0; i + n <= seq.length; i++) {
        const gram = seq.slice(i, i + n);
        if (n === 1 && gram[0] === BOS) continue; // <s> is never predicted
        const key = gram.join(' ');
        counts[n - 1]!.set(key, (counts[n - 1]!.get(key) ?? 0) + 1);
      }
    }
  }

  // History statistics: total count c(h) and number of distinct followers T(h).
  const histTotal = new Map<string, number>();
  const histTypes = new Map<string, number>();
  const followers = new Map<string, string[]>();
  for (let n = 2; n <= order; n++) {
    for (const [key, c] of counts[n - 1]!) {
      const parts = key.split(' ');
      const h = parts.slice(0, -1).join(' ');
      histTotal.set(h, (histTotal.get(h) ?? 0) + c);
      histTypes.set(h, (histTypes.get(h) ?? 0) + 1);
      const f = followers.get(h) ?? [];
      f.push(parts[parts.length - 1]!);
      followers.set(h, f);
    }
  }

  // Unigrams: add-one smoothed over the vocabulary (</s> included) so every word stays reachable.
  const vocab = [...counts[0]!.keys()];
  const uniTotal = [...counts[0]!.values()].reduce((a, b) => a + b, 0);
  const p1 = new Map<string, number>();
  for (const w of vocab) p1.set(w, (counts[0]!.get(w)! + 1) / (uniTotal + vocab.length));

  // Higher orders: Witten-Bell discounted ML for seen n-grams.
  const pn: Array<Map<string, number>> = [p1, new Map(), new Map()];
  for (let n = 2; n <= order; n++) {
    for (const [key, c] of counts[n - 1]!) {
      const h = key.split(' ').slice(0, -1).join(' ');
      pn[n - 1]!.set(key, c / (histTotal.get(h)! + histTypes.get(h)!));
    }
  }

  /** Backed-off probability of word w after history words `h` (length < order). */
  const prob = (h: string[], w: string): number => {
    if (h.length === 0) return p1.get(w) ?? 0;
    const key = [...h, w].join(' ');
    const seen = pn[h.length]!.get(key);
    if (seen !== undefined) return seen;
    return (backoff.get(h.join(' ')) ?? 1) * prob(h.slice(1), w);
  };

  // Backoff weights, lower orders first (prob() of a shorter history needs its weights).
  const backoff = new Map<string, number>();
  for (let hn = 1; hn < order; hn++) {
    for (const [h, fs] of followers) {
      const hw = h.split(' ');
      if (hw.length !== hn) continue;
      let seenHigh = 0;
      let seenLow = 0;
      for (const w of fs) {
        seenHigh += pn[hn]!.get(`${h} ${w}`)!;
        seenLow += prob(hw.slice(1), w);
      }
      const num = 1 - seenHigh;
      const den = 1 - seenLow;
      backoff.set(h, den > 1e-12 ? num / den : 1);
    }
  }

  const lines: string[] = ['\\data\\'];
  const sizes = [vocab.length + 1, counts[1]!.size, counts[2]!.size].slice(0, order);
  sizes.forEach((s, i) => lines.push(`ngram ${i + 1}=${s}`));
  lines.push('', '\\1-grams:');
  lines.push(`-99.000000\t${BOS}\t${fmt(log10(backoff.get(BOS) ?? 1))}`);
  for (const w of vocab.sort()) {
    const bo = backoff.get(w);
    lines.push(`${fmt(log10(p1.get(w)!))}\t${w}${bo !== undefined && order > 1 ? `\t${fmt(log10(bo))}` : ''}`);
  }
  for (let n = 2; n <= order; n++) {
    lines.push('', `\\${n}-grams:`);
    for (const key of [...counts[n - 1]!.keys()].sort()) {
      const bo = n < order ? backoff.get(key) : undefined;
      lines.push(`${fmt(log10(pn[n - 1]!.get(key)!))}\t${key}${bo !== undefined ? `\t${fmt(log10(bo))}` : ''}`);
    }
  }
  lines.push('', '\\end\\', '');
  return lines.join('\n');
}

export interface DictionaryResult {
  /** Dictionary text in pocketsphinx format ("word PH ONES", alternates as "word(2)"). */
  readonly text: string;
  /** Corpus words without a pronunciation in cmudict (left out; the decoder cannot recognize them). */
  readonly missing: string[];
}

let cmudictCache: Map<string, string[]> | undefined;

/** Loads cmudict into word → lines (all pronunciation variants). */
export function loadCmudict(path = CMUDICT_PATH): Map<string, string[]> {
  if (cmudictCache && path === CMUDICT_PATH) return cmudictCache;
  const map = new Map<string, string[]>();
  for (const line of readFileSync(path, 'utf8').split('\n')) {
    const sp = line.indexOf(' ');
    if (sp <= 0) continue;
    const head = line.slice(0, sp);
    const word = head.replace(/\(\d+\)$/, '');
    const list = map.get(word) ?? [];
    list.push(line.trim());
    map.set(word, list);
  }
  if (path === CMUDICT_PATH) cmudictCache = map;
  return map;
}

/** Dictionary restricted to the corpus vocabulary. */
export function buildDictionary(sentences: readonly string[], cmudict = loadCmudict()): DictionaryResult {
  const words = new Set(sentences.flatMap(tokenize));
  const out: string[] = [];
  const missing: string[] = [];
  for (const w of [...words].sort()) {
    const entries = cmudict.get(w);
    if (entries) out.push(...entries);
    else missing.push(w);
  }
  return { text: out.join('\n') + '\n', missing };
}
