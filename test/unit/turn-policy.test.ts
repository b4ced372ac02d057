/** The end of a turn, judged from the words: which silence each judgment gets, and when a judgment is not trusted. */
import { DEFAULT_ENDPOINTING, endOfTurnFor, longestEndpointSilence } from '../../functions/contracts/turn-policy';

const adaptive = DEFAULT_ENDPOINTING;
const fixed = { ...DEFAULT_ENDPOINTING, endOfTurn: 'fixed' as const };

describe('endOfTurnFor', () => {
  it('gives each judgment its silence', () => {
    expect(endOfTurnFor(adaptive, { completeness: 'complete', confidence: 0.9 })).toEqual({ silenceMs: 300, heard: 'complete' });
    expect(endOfTurnFor(adaptive, { completeness: 'unsure' })).toEqual({ silenceMs: 700, heard: 'unsure' });
    expect(endOfTurnFor(adaptive, { completeness: 'incomplete', confidence: 0.1 })).toEqual({ silenceMs: 1000, heard: 'incomplete' });
  });

  it('takes words nobody transcribed in time, or transcribed unsurely, as unsure', () => {
    expect(endOfTurnFor(adaptive, undefined)).toEqual({ silenceMs: 700, heard: 'unsure' });
    expect(endOfTurnFor(adaptive, { completeness: 'complete', confidence: 0.69 })).toEqual({ silenceMs: 700, heard: 'unsure' });
    // A provider that gives no confidence is taken at its word.
    expect(endOfTurnFor(adaptive, { completeness: 'complete' })).toEqual({ silenceMs: 300, heard: 'complete' });
  });

  it('with a fixed end of turn, ignores the words', () => {
    expect(endOfTurnFor(fixed, { completeness: 'complete', confidence: 1 })).toEqual({ silenceMs: 400 });
    expect(endOfTurnFor(fixed, { completeness: 'incomplete' })).toEqual({ silenceMs: 400 });
  });

  it('never waits longer than the watch is held for', () => {
    const odd = { ...adaptive, unsureSilenceMs: 5000 };
    expect(endOfTurnFor(odd, { completeness: 'unsure' }).silenceMs).toBe(longestEndpointSilence(odd));
    expect(longestEndpointSilence(adaptive)).toBe(1000);
    expect(longestEndpointSilence(fixed)).toBe(400);
  });
});
