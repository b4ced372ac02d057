/** Domain LM builder and PCM helpers of the offline speech engines (no engine processes needed). */
import { buildArpa, buildDictionary, normalizeText, wordErrorRate } from '../../../local/speech/stt/lm';
import { levelDbfs as rmsDbfs } from '../../../functions/domain/audio';
import { resample } from '../../../local/speech/audio';
import { splitSentences } from '../../../local/speech/tts/flite';
import { DEV_CORPUS } from './corpus';

/** Parses ARPA text and returns the backed-off probability function. */
function arpaProb(arpa: string): { prob: (h: string[], w: string) => number; vocab: string[] } {
  const p = new Map<string, number>();
  const bo = new Map<string, number>();
  for (const l of arpa.split('\n')) {
    const f = l.split('\t');
    if (f.length < 2) continue;
    p.set(f[1]!, Number(f[0]));
    if (f[2] !== undefined) bo.set(f[1]!, Number(f[2]));
  }
  const prob = (h: string[], w: string): number => {
    const k = [...h, w].join(' ');
    if (p.has(k)) return 10 ** p.get(k)!;
    if (h.length === 0) return 0;
    return 10 ** (bo.get(h.join(' ')) ?? 0) * prob(h.slice(1), w);
  };
  return { prob, vocab: [...p.keys()].filter((k) => !k.includes(' ') && k !== '<s>') };
}

test('the ARPA trigram LM is a proper distribution after every history', () => {
  const arpa = buildArpa(DEV_CORPUS);
  expect(arpa).toMatch(/^\\data\\\nngram 1=\d+\nngram 2=\d+\nngram 3=\d+\n/);
  const { prob, vocab } = arpaProb(arpa);
  for (const h of [[], ['<s>'], ['appointment'], ['<s>', 'what'], ['an', 'appointment'], ['at', 'three'], ['goodbye'], ['friday', 'at']]) {
    expect(vocab.reduce((s, w) => s + prob(h, w), 0)).toBeCloseTo(1, 4);
  }
  // Unseen recombinations stay possible through backoff.
  expect(prob(['for', 'friday'], 'at')).toBeGreaterThan(0.1);
  expect(prob(['at'], 'nine')).toBeGreaterThan(0);
});

test('dictionary comes from cmudict with all variants; unknown words are reported', () => {
  const d = buildDictionary([...DEV_CORPUS, 'zorbleflux']);
  expect(d.missing).toEqual(['zorbleflux']);
  expect(d.text).toContain('appointment AH P OY N T M AH N T');
  expect(d.text).toContain('thirty(2) TH ER T IY');
});

test('normalization and word error rate', () => {
  expect(normalizeText("  What's   your, OPENING hours?! ")).toBe("what's your opening hours");
  expect(wordErrorRate('book an appointment', 'book an appointment')).toBe(0);
  expect(wordErrorRate('book an appointment', 'but can appointment')).toBeCloseTo(2 / 3);
  expect(wordErrorRate('yes', '')).toBe(1);
});

test('resampling keeps in-band tones and removes out-of-band ones', () => {
  const tone = (f: number, rate: number, n: number): Int16Array =>
    Int16Array.from({ length: n }, (_, i) => Math.round(10000 * Math.sin((2 * Math.PI * f * i) / rate)));
  const x = tone(1000, 16000, 16000);
  const down = resample(x, 16000, 8000);
  expect(down).toHaveLength(8000);
  const back = resample(down, 8000, 16000);
  let err = 0;
  for (let i = 200; i < back.length - 200; i++) err = Math.max(err, Math.abs(back[i]! - x[i]!));
  expect(err).toBeLessThan(50);
  expect(rmsDbfs(resample(tone(6000, 16000, 16000), 16000, 8000).slice(100, -100))).toBeLessThan(-60);
  expect(rmsDbfs(new Int16Array(100))).toBe(-Infinity);
});

test('sentence splitting for streamed synthesis', () => {
  expect(splitSentences('Hello there. How can I help? Bye!')).toEqual(['Hello there.', 'How can I help?', 'Bye!']);
  expect(splitSentences(' ... ')).toEqual([]);
  const long = splitSentences('word '.repeat(100), 50);
  expect(long.every((s) => s.length <= 50)).toBe(true);
  expect(long.join(' ').split(' ')).toHaveLength(100);
});
