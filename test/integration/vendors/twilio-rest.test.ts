/**
 * The product's Twilio REST adapter (functions/adapters/twilio-calls.ts: the official `twilio` client's Calls resource)
 * against the local stand-in (local/vendors/twilio-rest-server.ts): what goes over the wire and every refusal the
 * product handles, in Twilio's shapes.
 */
import { randomBytes } from 'node:crypto';
import { TwilioCallError, TwilioCalls } from '../../../functions/adapters/twilio-calls';
import { TwilioRestServer } from '../../../local/vendors/twilio-rest-server';

const accountSid = 'AC' + randomBytes(16).toString('hex');
const authToken = randomBytes(16).toString('hex');
const NUMBER = '+15557654321';
let twilio: TwilioRestServer;

beforeAll(async () => {
  twilio = new TwilioRestServer({ accountSid, authToken, numbers: [NUMBER] });
  await twilio.start();
});
afterAll(() => twilio.stop());

const calls = (token = authToken) => new TwilioCalls({ accountSid, authToken: token }, twilio.url);
const last = () => twilio.requests.at(-1)!;

describe('transfer: redirect a live call to <Dial>', () => {
  it('posts the new TwiML to the call, authenticated as the account', async () => {
    const callSid = 'CA' + randomBytes(16).toString('hex');
    twilio.ringing(callSid);
    await calls().transfer(callSid, '+15551112222');
    expect(last()).toMatchObject({ method: 'POST', path: `/2010-04-01/Accounts/${accountSid}/Calls/${callSid}.json`, status: 200 });
    expect(last().params.Twiml).toBe('<?xml version="1.0" encoding="UTF-8"?><Response><Dial answerOnBridge="true">+15551112222</Dial></Response>');
  });

  it('a call Twilio does not know: 404, code 20404', async () => {
    const error = await calls().transfer('CA' + '0'.repeat(32), '+15551112222').catch((e: unknown) => e);
    expect(error).toBeInstanceOf(TwilioCallError);
    expect(error).toMatchObject({ status: 404, code: 20404 });
  });

  it('a call already over: 400, code 21220', async () => {
    const callSid = 'CA' + randomBytes(16).toString('hex');
    twilio.ringing(callSid);
    await calls().transfer(callSid, '+15551112222');
    await expect(calls().transfer(callSid, '+15551112222')).rejects.toMatchObject({ status: 400, code: 21220 });
  });

  it('the wrong auth token: 401, code 20003, and the message never carries the token', async () => {
    const callSid = 'CA' + randomBytes(16).toString('hex');
    twilio.ringing(callSid);
    const wrong = randomBytes(16).toString('hex');
    const error = (await calls(wrong).transfer(callSid, '+15551112222').catch((e: unknown) => e)) as TwilioCallError;
    expect(error).toMatchObject({ status: 401, code: 20003 });
    expect(error.message).not.toContain(wrong);
    expect(error.message).not.toContain(authToken);
  });
});

describe('outbound: place a call connected to the stream', () => {
  it('creates the call from the account\'s number with TwiML that streams to the agent', async () => {
    const placed = await calls().place('+15553334444', NUMBER, 'wss://voice.example.com/agent');
    expect(placed).toEqual({ callSid: expect.stringMatching(/^CA[0-9a-f]{32}$/), status: 'queued' });
    expect(last()).toMatchObject({ method: 'POST', path: `/2010-04-01/Accounts/${accountSid}/Calls.json`, status: 201 });
    expect(last().params).toMatchObject({ To: '+15553334444', From: NUMBER });
    expect(last().params.Twiml).toContain('<Connect><Stream url="wss://voice.example.com/agent"><Parameter name="direction" value="outbound"/>');
  });

  it.each([
    ['a malformed To', '555-3334', NUMBER, 21211],
    ['a From the account does not own', '+15553334444', '+15550001111', 21210],
  ])('refuses %s with Twilio\'s code', async (_what, to, from, code) => {
    await expect(calls().place(to, from, 'wss://voice.example.com/agent')).rejects.toMatchObject({ status: 400, code });
  });
});
