/**
 * Reply text cut into sentences: each is synthesized on its own, the next one while the one before plays, and the
 * prompt cache keys its entries by sentence. A streamed reply is cut as it arrives: a sentence is complete once its
 * end mark is followed by a space (so "3.5" or "9.30" stay whole), or when the text ends.
 */
export function splitSentences(text: string): string[] {
  const parts = text.match(/[^.!?]+[.!?]*/g) ?? [];
  const sentences = parts.map((s) => s.trim()).filter((s) => s.length > 0);
  return sentences.length > 0 ? sentences : [text];
}

const SENTENCE_END = /[.!?]+\s/;

/** The sentences of a reply that arrives in pieces, each yielded the moment it is complete. */
export async function* sentencesOf(pieces: AsyncIterable<string>): AsyncGenerator<string> {
  let buffer = '';
  for await (const piece of pieces) {
    buffer += piece;
    for (let end = SENTENCE_END.exec(buffer); end; end = SENTENCE_END.exec(buffer)) {
      const sentence = buffer.slice(0, end.index + end[0].length).trim();
      buffer = buffer.slice(end.index + end[0].length);
      if (sentence !== '') yield sentence;
    }
  }
  if (buffer.trim() !== '') yield buffer.trim();
}
