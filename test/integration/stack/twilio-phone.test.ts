/**
 * The phone line end to end on the local stack, as Twilio drives it: the voice webhook (signed form POST → TwiML),
 * then the Media Stream upgrade to the URL the TwiML names, signed with X-Twilio-Signature, and a multi-turn call
 * (connected, start with the TwiML's parameters, media, marks echoed, dtmf, stop). Signatures are computed here the
 * way Twilio documents them, independently of the product's helper library.
 */
import { createHmac, randomBytes } from 'node:crypto';
import type { LocalStack } from '../../../local/stack';
import { CallerSession } from '../../../tools/caller/session';
import { speech, startStack } from '../../support/stack';

jest.setTimeout(120_000);

const TWILIO_AUTH_TOKEN = randomBytes(16).toString('hex');
/** Twilio's request signature: base64 HMAC-SHA1 of the URL followed by each POST parameter (sorted) as name+value. */
const sign = (url: string, params: Record<string, string> = {}, key = TWILIO_AUTH_TOKEN) =>
  createHmac('sha1', key)
    .update(url + Object.keys(params).sort().map((k) => k + params[k]).join(''))
    .digest('base64');

let stack: LocalStack;
beforeAll(async () => {
  ({ stack } = await startStack('twilio-phone', { twilioAuthToken: TWILIO_AUTH_TOKEN, provisionedByFunction: { media: 3 } }));
});
afterAll(async () => stack?.stop());

const webhookUrl = () => `http://127.0.0.1:${stack.port}/twilio/voice`;
const incomingCall = () => ({
  AccountSid: 'AC' + randomBytes(16).toString('hex'),
  CallSid: 'CA' + randomBytes(16).toString('hex'),
  From: '+15551230001',
  To: '+15551239999',
  CallStatus: 'ringing',
  Direction: 'inbound',
});
const postWebhook = (params: Record<string, string>, signature?: string) =>
  fetch(webhookUrl(), {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', ...(signature ? { 'X-Twilio-Signature': signature } : {}) },
    body: new URLSearchParams(params).toString(),
  });

describe('the voice webhook', () => {
  it('answers a signed incoming call with TwiML that connects it to this stage, with the call metadata', async () => {
    const call = incomingCall();
    const res = await postWebhook(call, sign(webhookUrl(), call));
    expect(res.status).toBe(200);
    expect(res.headers.get('content-type')).toBe('text/xml');
    const xml = await res.text();
    expect(xml).toContain(`<Connect><Stream url="${stack.url}">`);
    expect(xml).toContain(`<Parameter name="callSid" value="${call.CallSid}"/>`);
    expect(xml).toContain('<Parameter name="from" value="+15551230001"/>');
    expect(xml).toContain('<Parameter name="to" value="+15551239999"/>');
  });

  it('refuses unsigned, forged and tampered requests with 403', async () => {
    const call = incomingCall();
    expect((await postWebhook(call)).status).toBe(403);
    expect((await postWebhook(call, sign(webhookUrl(), call, 'another-accounts-token'))).status).toBe(403);
    // Signed for other parameters: the caller's number was changed after signing.
    expect((await postWebhook({ ...call, From: '+15559990000' }, sign(webhookUrl(), call))).status).toBe(403);
  });
});

describe('the Media Stream', () => {
  const streamCaller = (headers: Record<string, string>, callSid = 'CA' + randomBytes(16).toString('hex')) =>
    new CallerSession({ url: stack.url, headers, events: true, customParameters: { callSid, from: '+15551230001', to: '+15551239999' } });

  it('takes a Twilio-signed session through a multi-turn call: speech, marks, dtmf 0 for a person, stop', async () => {
    const caller = streamCaller({ 'X-Twilio-Signature': sign(stack.url) });
    await caller.connect();
    expect((await caller.waitForTurn(1))?.status).toBe('completed'); // the greeting
    await caller.waitForAgentSilence(300);
    await caller.speak(await speech('what are your opening hours'));
    const hours = await caller.waitForTurn(2, 20_000);
    expect(hours).toMatchObject({ status: 'completed', transcript: 'what are your opening hours' });
    await caller.waitForAgentSilence(300);
    await caller.speak(await speech('where are you located'));
    const where = await caller.waitForTurn(hours!.turn + 1, 20_000);
    expect(where).toMatchObject({ status: 'completed', transcript: 'where are you located' });
    await caller.waitForAgentSilence(300);
    caller.sendDtmf('0');
    const person = await caller.waitForTurn(where!.turn + 1, 20_000);
    expect(person).toMatchObject({ status: 'completed', intent: 'transfer' });
    await caller.hangUp();
    expect(caller.errors).toEqual([]);
    expect(caller.largestMessageBytes).toBeLessThanOrEqual(32 * 1024);
  });

  it('refuses unsigned and badly signed upgrades (403), so no call starts', async () => {
    for (const headers of [{} as Record<string, string>, { 'X-Twilio-Signature': sign(stack.url, {}, 'another-accounts-token') }, { 'X-Twilio-Signature': sign(`${stack.url}?x=1`) }]) {
      const refused = streamCaller(headers).connect();
      await expect(refused).rejects.toMatchObject({ statusCode: 403 });
    }
  });
});
