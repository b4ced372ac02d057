/**
 * Reply text cut into sentences: each is synthesized on its own, the next one while the one before plays, and the
 * prompt cache keys its entries by sentence.
 */
export function splitSentences(text: string): string[] {
  const parts = text.match(/[^.!?]+[.!?]*/g) ?? [];
  const sentences = parts.map((s) => s.trim()).filter((s) => s.length > 0);
  return sentences.length > 0 ? sentences : [text];
}
