import {
  FRONT_DESK,
  FRONT_DESK_CORPUS,
  FRONT_DESK_CORPUS_BY_INTENT,
  RuleDefinitionError,
  createRuleResponder,
  frontDeskResponder,
  validateDefinition,
  weeklyHours,
} from '../../../functions/domain/responder';
import type { RuleDefinition } from '../../../functions/domain/responder';
import { frontDesk } from './helpers';

describe('front desk definition', () => {
  it('is consistent', () => {
    expect(() => validateDefinition(FRONT_DESK)).not.toThrow();
    expect(frontDeskResponder.name).toBe('front-desk');
  });

  it('rejects broken references', () => {
    const broken = (patch: Partial<RuleDefinition>): RuleDefinition => ({ ...FRONT_DESK, ...patch });
    expect(() => createRuleResponder(broken({ initialState: 'nowhere' }))).toThrow(RuleDefinitionError);
    expect(() => createRuleResponder(broken({ global: { ...FRONT_DESK.global, hours: { say: ['nope'] } } }))).toThrow(
      /unknown template "nope"/,
    );
    expect(() => createRuleResponder(broken({ global: { ...FRONT_DESK.global, dance: { say: ['okay'] } } }))).toThrow(
      /unknown intent "dance"/,
    );
    expect(() => createRuleResponder(broken({ global: { location: { goto: 'mars' } } }))).toThrow(/unknown state/);
    expect(() => createRuleResponder(broken({ global: { location: { clear: ['colour'] } } }))).toThrow(/unknown slot/);
  });

  it('summarizes the week', () => {
    expect(weeklyHours(FRONT_DESK.business.hours)).toBe(
      'Monday to Friday from 9 AM to 5 PM and Saturday from 10 AM to 2 PM',
    );
  });
});

describe('FRONT_DESK_CORPUS', () => {
  it('has at least 60 lower-case sentences without punctuation, no duplicates', () => {
    expect(FRONT_DESK_CORPUS.length).toBeGreaterThanOrEqual(60);
    expect(new Set(FRONT_DESK_CORPUS).size).toBe(FRONT_DESK_CORPUS.length);
    for (const s of FRONT_DESK_CORPUS) expect(s).toMatch(/^[a-z0-9]+( [a-z0-9]+)*$/);
  });

  it('covers every intent', () => {
    for (const intent of FRONT_DESK.intents) {
      expect(FRONT_DESK_CORPUS_BY_INTENT[intent.name]?.length ?? 0).toBeGreaterThan(0);
    }
  });

  it('covers every slot value form', () => {
    const words = new Set(FRONT_DESK_CORPUS.flatMap((s) => s.split(' ')));
    for (const w of ['monday', 'tuesday', 'wednesday', 'thursday', 'friday', 'saturday', 'sunday', 'today', 'tomorrow']) {
      expect(words).toContain(w);
    }
    for (const form of ['three pm', 'ten thirty', 'nine am', '3 pm', 'noon', 'half past', 'oclock', 'in the morning']) {
      expect(FRONT_DESK_CORPUS.some((s) => s.includes(form))).toBe(true);
    }
  });

  it.each(Object.entries(FRONT_DESK_CORPUS_BY_INTENT).flatMap(([intent, list]) => list.map((s) => [intent, s])))(
    '[%s] "%s" is understood at the start of a call',
    async (intent, sentence) => {
      const r = frontDesk();
      const reply = await r.respond({ text: sentence }, r.initialState());
      expect(reply.intent).toBe(intent === 'slots' ? 'book' : intent);
    },
  );

  it.each(FRONT_DESK_CORPUS_BY_INTENT.slots ?? [])('"%s" is understood while booking', async (sentence) => {
    const r = frontDesk();
    const started = await r.respond({ text: 'book an appointment' }, r.initialState());
    const reply = await r.respond({ text: sentence }, started.state);
    expect(reply.intent).toBe('book');
    expect(Object.keys(reply.state.slots).length + (reply.text.startsWith('Sorry') ? 1 : 0)).toBeGreaterThan(0);
  });
});
