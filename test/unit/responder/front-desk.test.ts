import { TUESDAY_MORNING, converse, frontDesk, last, withAppointment } from './helpers';
import { frontDeskResponder } from '../../../functions/domain/responder';

describe('front desk: greeting and questions', () => {
  it('greets with the business name and an open question, keeping the state', () => {
    const r = frontDesk();
    const state = r.initialState();
    const reply = r.greet(state);
    expect(reply.text).toBe('Thanks for calling Maple Street Dental. How can I help you?');
    expect(reply.intent).toBe('greeting');
    expect(reply.state).toEqual(state);
    expect(state).toEqual({ name: 'main', slots: {}, misses: 0 });
  });

  it('gives the weekly opening hours', async () => {
    const reply = await last(['What are your hours?']);
    expect(reply.intent).toBe('hours');
    expect(reply.text).toContain('Monday to Friday from 9 AM to 5 PM and Saturday from 10 AM to 2 PM');
    expect(reply.text).toContain('closed on Sunday');
    expect(reply.text).toContain('anything else');
  });

  it('gives the hours for a given day, including relative days and closed days', async () => {
    expect((await last(['are you open on saturday'])).text).toMatch(/^On Saturday we're open from 10 AM to 2 PM\./);
    expect((await last(['are you open on sunday'])).text).toMatch(/^We're closed on Sunday\./);
    expect((await last(['are you open tomorrow'])).text).toMatch(/^On Wednesday we're open from 9 AM to 5 PM/);
  });

  it('gives the location', async () => {
    const reply = await last(['where are you located']);
    expect(reply.intent).toBe('location');
    expect(reply.text).toContain('42 Maple Street');
  });

  it('answers help, thanks and repeat without losing its place', async () => {
    expect((await last(['what can you do'])).intent).toBe('help');
    expect((await last(['thank you'])).text).toMatch(/^You're welcome\./);
    const repeat = await last(['book an appointment', 'can you repeat that']);
    expect(repeat.intent).toBe('repeat');
    expect(repeat.text).toBe('What day and time would you like to come in?');
    expect(repeat.state.name).toBe('book.collect');
  });

  it('answers a question in the middle of a booking, then asks again', async () => {
    const reply = await last(['i want to book for friday', 'where are you']);
    expect(reply.text).toBe("We're at 42 Maple Street, right next to the public library. What time on Friday would suit you?");
    expect(reply.state).toMatchObject({ name: 'book.collect', slots: { day: 'friday' } });
  });
});

describe('front desk: booking', () => {
  it('books in one shot when day and time are both given', async () => {
    const [ask, done] = await converse(['I want to book an appointment on Tuesday at three PM', 'yes']);
    expect(ask?.text).toBe("That's an appointment on Tuesday at 3 PM. Shall I book it?");
    expect(ask?.state).toMatchObject({ name: 'book.confirm', slots: { day: 'tuesday', time: '15:00' } });
    expect(done?.intent).toBe('yes');
    expect(done?.text).toMatch(/^You're booked for Tuesday at 3 PM\./);
    expect(done?.state).toEqual({ name: 'main', slots: { appt_day: 'tuesday', appt_time: '15:00' }, misses: 0 });
  });

  it('fills the slots across turns, asking for what is missing', async () => {
    const replies = await converse(['i need an appointment', 'wednesday', 'ten thirty', 'yeah']);
    expect(replies.map((r) => r.text)).toEqual([
      'What day and time would you like to come in?',
      'What time on Wednesday would suit you?',
      "That's an appointment on Wednesday at 10:30 AM. Shall I book it?",
      "You're booked for Wednesday at 10:30 AM. We look forward to seeing you. Is there anything else I can help you with?",
    ]);
    expect(replies.map((r) => r.state.name)).toEqual(['book.collect', 'book.collect', 'book.confirm', 'main']);
    expect(replies.every((r) => r.intent !== 'fallback')).toBe(true);
  });

  it('asks for the day when only the time is given', async () => {
    const replies = await converse(['book an appointment at nine am', 'tomorrow', 'yes']);
    expect(replies[0]?.text).toBe('What day would you like to come in?');
    expect(replies[1]?.text).toBe("That's an appointment on Wednesday at 9 AM. Shall I book it?");
    expect(replies[2]?.state.slots).toEqual({ appt_day: 'wednesday', appt_time: '09:00' });
  });

  it('accepts a lone number as the time when it asked for one', async () => {
    const reply = await last(['book thursday', 'two']);
    expect(reply.state).toMatchObject({ name: 'book.confirm', slots: { day: 'thursday', time: '14:00' } });
  });

  it('treats a bare day and time as a booking request', async () => {
    const reply = await last(['friday at noon']);
    expect(reply.intent).toBe('book');
    expect(reply.text).toBe("That's an appointment on Friday at 12 PM. Shall I book it?");
  });

  it('on no, books nothing and asks for another day and time', async () => {
    const replies = await converse(['book monday at 3 pm', 'no', 'friday at 11 am', 'yes']);
    expect(replies[1]?.text).toBe("No problem, I haven't booked that. What day and time would you like to come in?");
    expect(replies[1]?.state).toEqual({ name: 'book.collect', slots: {}, misses: 0 });
    expect(replies[3]?.state.slots).toEqual({ appt_day: 'friday', appt_time: '11:00' });
  });

  it('takes a correction at the confirmation step', async () => {
    const replies = await converse(['book monday at 3 pm', 'no make it wednesday', 'actually four pm', 'yes']);
    expect(replies[1]?.text).toBe("That's an appointment on Wednesday at 3 PM. Shall I book it?");
    expect(replies[2]?.text).toBe("That's an appointment on Wednesday at 4 PM. Shall I book it?");
    expect(replies[3]?.state.slots).toEqual({ appt_day: 'wednesday', appt_time: '16:00' });
  });

  it('gives up the booking on a second no', async () => {
    const reply = await last(['book monday at 3 pm', 'no', 'never mind']);
    expect(reply.text).toBe("Okay, I won't book anything. Is there anything else I can help you with?");
    expect(reply.state).toEqual({ name: 'main', slots: {}, misses: 0 });
  });

  it('rejects a closed day, keeps the time and asks for another day', async () => {
    const replies = await converse(['book an appointment on sunday at ten am', 'monday', 'yes']);
    expect(replies[0]?.text).toBe("Sorry, we're closed on Sunday. What day would you like to come in?");
    expect(replies[0]?.state.slots).toEqual({ time: '10:00' });
    expect(replies[1]?.text).toBe("That's an appointment on Monday at 10 AM. Shall I book it?");
    expect(replies[2]?.state.slots).toEqual({ appt_day: 'monday', appt_time: '10:00' });
  });

  it('rejects a time outside that day’s hours and asks for another time', async () => {
    const replies = await converse(['book saturday at 3 pm', 'eleven am']);
    expect(replies[0]?.text).toBe(
      "Sorry, 3 PM doesn't work on Saturday; we're open from 10 AM to 2 PM. What time on Saturday would suit you?",
    );
    expect(replies[0]?.state.slots).toEqual({ day: 'saturday' });
    expect(replies[1]?.state).toMatchObject({ name: 'book.confirm', slots: { day: 'saturday', time: '11:00' } });
  });

  it('rejects a slot that would end after closing', async () => {
    const reply = await last(['book friday at four forty five pm']);
    expect(reply.text).toMatch(/^Sorry, 4:45 PM doesn't work on Friday/);
  });

  it('rejects a time we are never open before knowing the day', async () => {
    const reply = await last(['book an appointment at seven pm']);
    expect(reply.text).toBe("Sorry, we're not open at 7 PM. What day and time would you like to come in?");
    expect(reply.state.slots).toEqual({});
  });

  it('moves an existing appointment instead of double-booking', async () => {
    const reply = await last(['book an appointment'], withAppointment('monday', '10:00'));
    expect(reply.text).toMatch(/^You already have an appointment on Monday at 10 AM/);
    expect(reply.state.name).toBe('move.collect');
  });
});

describe('front desk: moving an appointment', () => {
  const start = withAppointment('thursday', '14:00');

  it('collects the new day and time, confirms and moves', async () => {
    const replies = await converse(['i need to reschedule my appointment', 'friday', 'ten am', 'yes'], start);
    expect(replies[0]?.text).toBe(
      'Your appointment is on Thursday at 2 PM. What day and time would you like instead?',
    );
    expect(replies[1]?.text).toBe('What time on Friday would you like instead?');
    expect(replies[2]?.text).toBe(
      "That's moving your appointment from Thursday at 2 PM to Friday at 10 AM. Shall I make the change?",
    );
    expect(replies[3]?.text).toMatch(/^Done\. Your appointment is now on Friday at 10 AM\./);
    expect(replies[3]?.state).toEqual({ name: 'main', slots: { appt_day: 'friday', appt_time: '10:00' }, misses: 0 });
  });

  it('moves in one shot', async () => {
    const replies = await converse(['can we move it to monday at nine thirty am', 'yes please'], start);
    expect(replies[0]?.state.name).toBe('move.confirm');
    expect(replies[1]?.state.slots).toEqual({ appt_day: 'monday', appt_time: '09:30' });
  });

  it('keeps the appointment when the caller gives up', async () => {
    const reply = await last(['move my appointment', 'never mind'], start);
    expect(reply.text).toBe('Okay, your appointment stays on Thursday at 2 PM. Is there anything else I can help you with?');
    expect(reply.state.slots).toEqual({ appt_day: 'thursday', appt_time: '14:00' });
  });

  it('respects opening hours', async () => {
    const reply = await last(['move my appointment to sunday at noon'], start);
    expect(reply.text).toMatch(/^Sorry, we're closed on Sunday\./);
    expect(reply.state.name).toBe('move.collect');
  });

  it('offers to book when there is nothing to move', async () => {
    const replies = await converse(['i want to reschedule', 'yes', 'tuesday at three pm', 'yes']);
    expect(replies[0]?.text).toBe("I don't see an appointment booked for you yet. Would you like to book one?");
    expect(replies[1]?.state.name).toBe('book.collect');
    expect(replies[3]?.state.slots).toEqual({ appt_day: 'tuesday', appt_time: '15:00' });
  });
});

describe('front desk: cancelling', () => {
  const start = withAppointment('thursday', '14:00');

  it('confirms, then cancels', async () => {
    const replies = await converse(['I need to cancel my appointment', 'yes'], start);
    expect(replies[0]?.text).toBe('You want to cancel your appointment on Thursday at 2 PM. Is that right?');
    expect(replies[0]?.state.name).toBe('cancel.confirm');
    expect(replies[1]?.text).toMatch(/^Your appointment on Thursday at 2 PM has been cancelled\./);
    expect(replies[1]?.state).toEqual({ name: 'main', slots: {}, misses: 0 });
  });

  it('keeps the appointment on no, also when the caller says "don\'t cancel it"', async () => {
    for (const answer of ['no', 'no dont cancel it']) {
      const reply = await last(['cancel my appointment', answer], start);
      expect(reply.intent).toBe('no');
      expect(reply.text).toMatch(/^Okay, I'll keep your appointment on Thursday at 2 PM\./);
      expect(reply.state.slots).toEqual(start.slots);
    }
  });

  it('books, then cancels, within one call', async () => {
    const reply = await last(['book friday at 10 am', 'yes', 'cancel it', 'yes']);
    expect(reply.text).toMatch(/^Your appointment on Friday at 10 AM has been cancelled/);
    expect(reply.state.slots).toEqual({});
  });

  it('says so when there is nothing to cancel', async () => {
    const reply = await last(['cancel my appointment']);
    expect(reply.text).toBe("I don't see an appointment booked for you yet. Would you like to book one?");
  });
});

describe('front desk: transfer, goodbye, misses', () => {
  it.each(['can i speak to a person', 'human please', 'operator', 'get me a representative'])(
    '"%s" transfers',
    async (text) => {
      const reply = await last([text]);
      expect(reply.intent).toBe('transfer');
      expect(reply.action).toBe('transfer');
      expect(reply.text).toContain('connect you');
    },
  );

  it('on a line that cannot transfer, says so and carries on in the main state, with nothing to do', async () => {
    for (const [say, state] of [[{ dtmf: '0' }, undefined], ['can i speak to a person', withAppointment('monday', '10:00')]] as const) {
      const reply = await frontDesk().respond({ ...(typeof say === 'string' ? { text: say } : say), canTransfer: false }, state ?? frontDesk().initialState());
      expect(reply.intent).toBe('transfer');
      expect(reply.action).toBeUndefined();
      expect(reply.text).toMatch(/^I'm sorry, I can't connect you with a member of our team on this line\. .+/);
      expect(reply.state).toMatchObject({ name: 'main', slots: state?.slots ?? {} });
    }
    // Told it can (a phone line with a transfer number), or not told (the client decides): the transfer itself.
    for (const canTransfer of [true, undefined]) expect((await frontDesk().respond({ dtmf: '0', canTransfer }, frontDesk().initialState())).action).toBe('transfer');
  });

  it('DTMF 0 transfers from any state', async () => {
    expect((await last([{ dtmf: '0' }])).action).toBe('transfer');
    expect((await last(['book an appointment', { dtmf: '0' }])).action).toBe('transfer');
  });

  it('DTMF 1 and 2 answer yes and no; unknown keys are misses', async () => {
    expect((await last(['book monday at 10 am', { dtmf: '1' }])).state.slots).toEqual({
      appt_day: 'monday',
      appt_time: '10:00',
    });
    expect((await last(['book monday at 10 am', { dtmf: '2' }])).intent).toBe('no');
    expect((await last([{ dtmf: '5' }])).intent).toBe('fallback');
  });

  it.each(['goodbye', 'thats all thank you goodbye', 'bye'])('"%s" hangs up', async (text) => {
    const reply = await last([text]);
    expect(reply.intent).toBe('goodbye');
    expect(reply.action).toBe('hangup');
    expect(reply.text).toBe('Thanks for calling Maple Street Dental. Goodbye!');
  });

  it('"no" to "anything else" hangs up', async () => {
    const reply = await last(['what are your hours', 'no thanks']);
    expect(reply.action).toBe('hangup');
  });

  it('re-prompts when not understood and offers a transfer after three misses in a row', async () => {
    const replies = await converse(['purple monkey dishwasher', 'blah', 'hmm', 'yes']);
    expect(replies.slice(0, 3).map((r) => r.intent)).toEqual(['fallback', 'fallback', 'fallback']);
    expect(replies.slice(0, 3).map((r) => r.state.misses)).toEqual([1, 2, 3]);
    expect(replies[0]?.text).toMatch(/^Sorry, I didn't catch that\./);
    expect(replies[1]?.text).toMatch(/^Sorry, I still didn't get that\./);
    expect(replies[0]?.action).toBeUndefined();
    expect(replies[2]?.text).toContain('Would you like me to connect you with a member of our team?');
    expect(replies[2]?.state.name).toBe('offer_transfer');
    expect(replies[3]?.action).toBe('transfer');
  });

  it('declining the transfer resets the miss count', async () => {
    const reply = await last(['blah', 'blah', 'blah', 'no']);
    expect(reply.text).toBe("Okay, let's try again. How can I help you?");
    expect(reply.state).toEqual({ name: 'main', slots: {}, misses: 0 });
  });

  it('an understood turn resets the miss count', async () => {
    const replies = await converse(['blah', 'blah', 'what are your hours', 'blah']);
    expect(replies.map((r) => r.state.misses)).toEqual([1, 2, 0, 1]);
  });

  it('re-prompts inside a form with the pending question', async () => {
    const reply = await last(['book for friday', 'banana']);
    expect(reply.text).toBe("Sorry, I didn't catch that. What time on Friday would suit you?");
    expect(reply.state).toMatchObject({ name: 'book.collect', slots: { day: 'friday' }, misses: 1 });
  });

  it('treats silence as a miss', async () => {
    expect((await last([''])).intent).toBe('fallback');
    expect((await last([{ dtmf: '' }])).intent).toBe('fallback');
  });
});

describe('front desk: robustness', () => {
  it('recovers from a stored state it does not know', async () => {
    const reply = await frontDesk().respond(
      { text: 'what are your hours' },
      JSON.parse('{"name":"gone.state","slots":{"appt_day":"monday","junk":"x","__proto__":"y","day":7},"misses":-4}'),
    );
    expect(reply.intent).toBe('hours');
    expect(reply.state).toEqual({ name: 'main', slots: { appt_day: 'monday' }, misses: 0 });
    expect(Object.getPrototypeOf(reply.state.slots)).toBe(Object.prototype);
  });

  it('is deterministic for a fixed clock', async () => {
    const turns = ['book an appointment tomorrow', 'half past two', 'yes', 'move it', 'blah', 'cancel'];
    expect(await converse(turns)).toEqual(await converse(turns));
  });

  it('resolves "today" against the business time zone', async () => {
    // 02:00 UTC on Wednesday is still Tuesday evening in New York.
    const r = frontDesk(new Date('2025-06-04T02:00:00Z'));
    const reply = await r.respond({ text: 'book today at 3 pm' }, r.initialState());
    expect(reply.state.slots).toEqual({ day: 'tuesday', time: '15:00' });
    expect(TUESDAY_MORNING.toISOString()).toBe('2025-06-03T15:00:00.000Z');
  });
});

describe('static prompts (synthesized ahead, replayed without a round trip)', () => {
  const prompts = frontDeskResponder.staticPrompts!();

  it('include the greeting, the goodbye and the re-prompts, rendered for the business', () => {
    const greeting = frontDeskResponder.greet(frontDeskResponder.initialState()).text;
    expect(prompts).toContain(greeting);
    expect(prompts).toContain('Thanks for calling Maple Street Dental. Goodbye!');
    expect(prompts).toEqual(expect.arrayContaining(["Sorry, I didn't catch that.", "Sorry, I still didn't get that."]));
    for (const p of prompts) expect(p).not.toMatch(/[{}]/);
  });

  it('leave out every template that depends on the call (what was heard, the booked slot)', () => {
    const booking = frontDeskResponder.respond({ text: 'book an appointment on tuesday at 3 pm' }, frontDeskResponder.initialState()) as { text: string };
    expect(booking.text).toMatch(/tuesday/i);
    expect(prompts).not.toContain(booking.text);
    expect(prompts.some((p) => p.startsWith("That's an appointment"))).toBe(false);
  });
});
