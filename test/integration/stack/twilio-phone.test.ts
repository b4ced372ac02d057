/**
 * The phone line end to end on the local stack, as Twilio drives it: the voice webhook (signed form POST → TwiML),
 * then the Media Stream upgrade to the URL the TwiML names, signed with X-Twilio-Signature, and a multi-turn call
 * (connected, start with the TwiML's parameters, media, marks echoed, dtmf, stop). Signatures are computed here the
 * way Twilio documents them, independently of the product's helper library.
 */
import { randomBytes } from 'node:crypto';
import type { LocalStack } from '../../../local/stack';
import { CallerSession } from '../../../tools/caller/session';
import { speech, startStack, until } from '../../support/stack';
import { answeredCall, incomingCall, streamOf, twilioSignature } from '../../support/twilio';

jest.setTimeout(120_000);

const TWILIO_AUTH_TOKEN = randomBytes(16).toString('hex');
const sign = (url: string, params: Record<string, string> = {}, key = TWILIO_AUTH_TOKEN) => twilioSignature(key, url, params);

/** The stage is also mapped to a custom domain (lib/config.ts customDomain; the local gateway maps it as API Gateway does). */
const CUSTOM_DOMAIN = { domainName: 'voice.example.test', basePath: 'agent' };
/** The person a transfer dials, and the line's own number (outbound calls come from it). */
const TRANSFER_TO = '+12015550142';
const LINE_NUMBER = '+12015550100';

let stack: LocalStack;
beforeAll(async () => {
  ({ stack } = await startStack('twilio-phone', {
    twilioAuthToken: TWILIO_AUTH_TOKEN,
    twilio: { transferNumber: TRANSFER_TO, phoneNumber: LINE_NUMBER },
    provisionedByFunction: { media: 3 },
    customDomain: CUSTOM_DOMAIN,
  }));
});
afterAll(async () => stack?.stop());

const webhookUrl = () => `http://127.0.0.1:${stack.port}/twilio/voice`;
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
    // The stream URL Twilio is given is the custom domain's, not the stage's own.
    expect(stack.publicUrl).toBe('ws://voice.example.test/agent');
    expect(xml).toContain(`<Connect><Stream url="${stack.publicUrl}">`);
    expect(xml).toContain(`<Parameter name="callSid" value="${call.CallSid}"/>`);
    expect(xml).toContain('<Parameter name="from" value="+15551230001"/>');
    expect(xml).toContain('<Parameter name="to" value="+15551239999"/>');
    expect(streamOf(xml).parameters.streamTicket).toMatch(/^v1\./);
  });

  it('answers a replayed webhook again (Twilio retries too) with a fresh ticket, and starts nothing', async () => {
    const call = incomingCall();
    const started = stack.logs.metric('CallsStarted').sum;
    const answers = [];
    for (let i = 0; i < 3; i++) {
      const res = await postWebhook(call, sign(webhookUrl(), call));
      expect(res.status).toBe(200);
      answers.push(streamOf(await res.text()));
    }
    expect(new Set(answers.map((a) => a.parameters.streamTicket)).size).toBe(3);
    expect(answers.map((a) => a.url)).toEqual([stack.publicUrl, stack.publicUrl, stack.publicUrl]);
    expect(stack.logs.metric('CallsStarted').sum).toBe(started);
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
  /** Twilio's side of an incoming call: the webhook answered, then the stream it names opened with its parameters. */
  const streamCaller = async (headers: Record<string, string>) => {
    const answered = await answeredCall(webhookUrl(), TWILIO_AUTH_TOKEN);
    return new CallerSession({ url: stack.url, headers, events: true, callSid: answered.call.CallSid, customParameters: answered.parameters });
  };

  it('takes a Twilio-signed session through a multi-turn call: speech, marks, dtmf 0 for a person: transferred', async () => {
    const caller = await streamCaller({ 'X-Twilio-Signature': sign(stack.url) });
    stack.twilioRest!.ringing(caller.callSid); // Twilio knows the call it is streaming
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
    expect(person).toMatchObject({ status: 'completed', intent: 'transfer', reply: expect.stringMatching(/connect you with a member of our team/) });
    // Once the caller has heard that line (its end mark came back), the agent asks Twilio to redirect the live call
    // to <Dial> the transfer number, and the stream ends.
    await until(() => caller.closed, 20_000);
    const redirect = stack.twilioRest!.requests.find((r) => r.path.endsWith(`/Calls/${caller.callSid}.json`));
    expect(redirect).toMatchObject({ method: 'POST', status: 200 });
    expect(redirect!.params.Twiml).toContain(`<Dial answerOnBridge="true">${TRANSFER_TO}</Dial>`);
    expect(caller.errors).toEqual([]);
    expect(caller.largestMessageBytes).toBeLessThanOrEqual(32 * 1024);
  });

  it('behind the custom domain: Twilio connects to the URL the TwiML names, signed for it, and the call starts', async () => {
    // What Twilio does with <Stream url="ws://voice.example.test/agent">: resolves the domain (here: this machine),
    // sends Host: voice.example.test and signs the URL as given. The authorizer must check it against that URL, not
    // against the stage's own path.
    const { parameters } = await answeredCall(webhookUrl(), TWILIO_AUTH_TOKEN);
    const viaDomain = (signedFor: string) =>
      new CallerSession({
        url: `ws://127.0.0.1:${stack.port}/${CUSTOM_DOMAIN.basePath}`,
        headers: { Host: CUSTOM_DOMAIN.domainName, 'X-Twilio-Signature': sign(signedFor) },
        events: true,
        customParameters: parameters,
      });
    const caller = viaDomain(stack.publicUrl);
    await caller.connect();
    expect((await caller.waitForTurn(1))?.status).toBe('completed');
    await caller.hangUp();
    expect(caller.errors).toEqual([]);
    // A signature over the stage's own URL does not cover the domain's: refused.
    await expect(viaDomain(stack.url).connect()).rejects.toMatchObject({ statusCode: 403 });
    // The domain serves the stage at its mapping's path only.
    const elsewhere = new CallerSession({ url: `ws://127.0.0.1:${stack.port}/local`, headers: { Host: CUSTOM_DOMAIN.domainName, 'X-Twilio-Signature': sign(stack.publicUrl) } });
    await expect(elsewhere.connect()).rejects.toThrow(/connect refused: HTTP 4\d\d/);
  });

  it('refuses unsigned and badly signed upgrades (403), so no call starts', async () => {
    for (const headers of [{} as Record<string, string>, { 'X-Twilio-Signature': sign(stack.url, {}, 'another-accounts-token') }, { 'X-Twilio-Signature': sign(`${stack.url}?x=1`) }]) {
      const refused = (await streamCaller(headers)).connect();
      await expect(refused).rejects.toMatchObject({ statusCode: 403 });
    }
  });

  it('a replayed upgrade signature alone starts nothing: a start without a valid stream ticket closes the stream', async () => {
    // The upgrade's signature covers only the URL, the same for every call: whoever saw one can present it again.
    const { parameters } = await answeredCall(webhookUrl(), TWILIO_AUTH_TOKEN);
    const started = stack.logs.metric('CallsStarted').sum;
    const refusedBefore = stack.logs.metric('StreamsRefused').sum;
    const browserToken = ((await (await fetch(`http://127.0.0.1:${stack.port}/browser/token`, { method: 'POST' })).json()) as { token: string }).token;
    const tickets: [string, Record<string, string>][] = [
      ['no ticket', { from: '+15551230001' }],
      ['a forged ticket', { ...parameters, streamTicket: parameters.streamTicket!.replace(/.$/, (c) => (c === 'A' ? 'B' : 'A')) }],
      ['a browser caller token as the ticket', { ...parameters, streamTicket: browserToken }],
    ];
    for (const [, customParameters] of tickets) {
      const caller = new CallerSession({ url: stack.url, headers: { 'X-Twilio-Signature': sign(stack.url) }, events: true, customParameters });
      await caller.connect();
      await until(() => caller.closed, 10_000);
      expect(caller.turns.size).toBe(0);
    }
    await until(() => stack.logs.metric('StreamsRefused').sum - refusedBefore === tickets.length, 5_000);
    expect(stack.logs.metric('CallsStarted').sum).toBe(started);
  });
});

describe('outbound calls (POST /calls)', () => {
  // null: no Authorization header (undefined would take the default).
  const dial = (to: string, token: string | null = stack.token) =>
    fetch(`http://127.0.0.1:${stack.port}/calls`, {
      method: 'POST',
      headers: { 'content-type': 'application/json', ...(token ? { authorization: `Bearer ${token}` } : {}) },
      body: JSON.stringify({ to }),
    });

  it('places a call through Twilio\'s REST API whose stream, once Twilio connects it, is greeted by the agent', async () => {
    const res = await dial('+12015550123');
    expect(res.status).toBe(201);
    const { callSid } = (await res.json()) as { callSid: string };
    const created = stack.twilioRest!.requests.find((r) => r.path.endsWith('/Calls.json') && r.status === 201)!;
    expect(created.params).toMatchObject({ To: '+12015550123', From: LINE_NUMBER });
    const { url: streamUrl, parameters } = streamOf(created.params.Twiml!);
    expect(streamUrl).toBe(stack.publicUrl);
    expect(parameters).toMatchObject({ direction: 'outbound', to: '+12015550123', from: LINE_NUMBER, streamTicket: expect.stringMatching(/^v1\./) });
    // Twilio's side once the person picks up: it opens the stream the TwiML names, signed for that URL.
    const callee = new CallerSession({
      url: `ws://127.0.0.1:${stack.port}/${CUSTOM_DOMAIN.basePath}`,
      headers: { Host: CUSTOM_DOMAIN.domainName, 'X-Twilio-Signature': sign(streamUrl) },
      events: true,
      customParameters: parameters,
    });
    await callee.connect();
    expect((await callee.waitForTurn(1))?.status).toBe('completed'); // the agent speaks first
    await callee.hangUp();
    expect(callSid).toMatch(/^CA[0-9a-f]{32}$/);
  });

  it('refuses without the token, and a premium-rate number, dialling nothing', async () => {
    const before = stack.twilioRest!.requests.length;
    expect((await dial('+12015550123', null)).status).toBe(401);
    expect((await dial('+12015550123', 'not-the-token')).status).toBe(401);
    const premium = await dial('+19002345678');
    expect(premium.status).toBe(400);
    expect(((await premium.json()) as { message: string }).message).toMatch(/premium-rate/);
    expect(stack.twilioRest!.requests.length).toBe(before);
  });
});
