import fc from 'fast-check';
import { FRONT_DESK_CORPUS } from '../../../functions/domain/responder';
import type { DialogState, Reply, ResponderInput } from '../../../functions/domain/responder';
import { frontDesk } from './helpers';

const STATES = ['main', 'book.collect', 'book.confirm', 'move.collect', 'move.confirm', 'cancel.confirm', 'offer_booking', 'offer_transfer'];

const text = fc.oneof(
  fc.string({ maxLength: 200 }),
  fc.string({ unit: 'grapheme', maxLength: 100 }),
  fc.constantFrom(...FRONT_DESK_CORPUS),
  fc.array(fc.constantFrom(...FRONT_DESK_CORPUS, 'no', 'at', 'pm', 'oh', 'quarter to', '13', '99', '0'), { maxLength: 6 }).map((w) => w.join(' ')),
);

const input: fc.Arbitrary<ResponderInput> = fc.oneof(
  text.map((t) => ({ text: t })),
  fc.string({ maxLength: 3 }).map((d) => ({ dtmf: d })),
  fc.constantFrom(...'0123456789*#').map((d) => ({ dtmf: d })),
  fc.constant({}),
);

const slotValue = fc.oneof(fc.constantFrom('monday', 'sunday', '15:00', '09:30', '23:59'), fc.string({ maxLength: 8 }));

const state: fc.Arbitrary<DialogState> = fc.record({
  name: fc.oneof(fc.constantFrom(...STATES), fc.string({ maxLength: 10 })),
  slots: fc.dictionary(fc.constantFrom('day', 'time', 'appt_day', 'appt_time', 'other'), slotValue, { maxKeys: 5 }),
  misses: fc.oneof(fc.nat(10), fc.integer(), fc.double()),
});

function checkReply(reply: Reply): void {
  expect(typeof reply.text).toBe('string');
  expect(reply.text.trim().length).toBeGreaterThan(0);
  expect(reply.text).not.toMatch(/\{[a-z_]+\}/); // no unrendered template variables
  expect(reply.intent).not.toBe('error');
  expect(JSON.parse(JSON.stringify(reply.state))).toEqual(reply.state);
  expect(STATES).toContain(reply.state.name);
  expect(Number.isInteger(reply.state.misses) && reply.state.misses >= 0).toBe(true);
  for (const v of Object.values(reply.state.slots)) expect(typeof v).toBe('string');
}

describe('front desk: properties', () => {
  it('never throws, always says something and returns a JSON-serializable state', async () => {
    const r = frontDesk();
    await fc.assert(
      fc.asyncProperty(input, state, async (i, s) => {
        checkReply(await r.respond(i, s));
      }),
      { numRuns: 1000 },
    );
  });

  it('holds over whole conversations, with a fresh responder and a JSON round trip every turn', async () => {
    await fc.assert(
      fc.asyncProperty(fc.array(input, { minLength: 1, maxLength: 10 }), async (turns) => {
        let stored = JSON.stringify(frontDesk().initialState());
        for (const turn of turns) {
          const reply = await frontDesk().respond(turn, JSON.parse(stored) as DialogState);
          checkReply(reply);
          stored = JSON.stringify(reply.state);
        }
      }),
      { numRuns: 150 },
    );
  });

  it('is a function of input and state', async () => {
    await fc.assert(
      fc.asyncProperty(input, state, async (i, s) => {
        expect(await frontDesk().respond(i, s)).toEqual(await frontDesk().respond(i, s));
      }),
      { numRuns: 300 },
    );
  });

  it('books whatever open day and time the caller names', async () => {
    const days = fc.constantFrom('monday', 'tuesday', 'wednesday', 'thursday', 'friday');
    const hour = fc.integer({ min: 9, max: 16 });
    const minute = fc.constantFrom(0, 15, 30);
    await fc.assert(
      fc.asyncProperty(days, hour, minute, async (day, h, m) => {
        const spoken = `${h > 12 ? h - 12 : h}${m === 0 ? '' : ` ${m}`} ${h >= 12 ? 'pm' : 'am'}`;
        const r = frontDesk();
        const ask = await r.respond({ text: `book ${day} at ${spoken}` }, r.initialState());
        const done = await r.respond({ text: 'yes' }, JSON.parse(JSON.stringify(ask.state)) as DialogState);
        const time = `${String(h).padStart(2, '0')}:${String(m).padStart(2, '0')}`;
        expect(done.state.slots).toEqual({ appt_day: day, appt_time: time });
      }),
      { numRuns: 200 },
    );
  });
});
