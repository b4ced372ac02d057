/** Whether a caller's words sound finished: the words alone, then the rule responder's understanding in its state. */
import fc from 'fast-check';
import { phraseCompleteness } from '../../../functions/domain/responder/completeness';
import { frontDeskResponder } from '../../../functions/domain/responder';

const main = frontDeskResponder.initialState();
const judge = (text: string, state = main) => frontDeskResponder.completeness!(text, state);

describe('phraseCompleteness', () => {
  it.each([
    ['i would like to book it for', 'incomplete'],
    ['can i come in on tuesday and', 'incomplete'],
    ["i'd like", 'incomplete'],
    ['my number is five five five', 'incomplete'],
    ['um', 'incomplete'],
    ['my number is five five five one two three four', 'unsure'],
    ['tuesday at three', 'unsure'],
    ['yes please', 'unsure'],
    ['i think so', 'unsure'],
    ['', 'unsure'],
  ] as const)('%j → %s', (text, expected) => {
    expect(phraseCompleteness(text)).toBe(expected);
  });

  it('words that stop on a conjunction, a preposition or an article are unfinished, whatever came before', () => {
    const words = fc.array(fc.constantFrom('book', 'tuesday', 'three', 'yes', 'hours', 'please', 'where', 'is', 'it'), { maxLength: 8 });
    fc.assert(fc.property(words, fc.constantFrom('and', 'for', 'the', 'at', 'to', 'um'), (before, last) => phraseCompleteness([...before, last].join(' ')) === 'incomplete'));
  });
});

describe('the rule responder', () => {
  it('calls understood words complete and words stopping mid-phrase incomplete, even when understood', () => {
    expect(judge('what are your opening hours')).toBe('complete');
    expect(judge('i would like to book an appointment')).toBe('complete');
    expect(judge('i would like to book an appointment for')).toBe('incomplete');
    expect(judge('the weather is nice')).toBe('unsure');
  });

  it('judges in the dialog state: a bare day is complete where the state asks for one', () => {
    const asking = frontDeskResponder.respond({ text: 'i would like to book an appointment' }, main) as { state: typeof main };
    expect(judge('tuesday', asking.state)).toBe('complete');
  });
});
