/**
 * What a Twilio Media Stream hears when a function is throttled or its environment dies mid-invocation. API Gateway
 * answers each failed integration with one text frame, `{"message": "Internal server error", "connectionId", "requestId"}`
 * (a Lambda throttle, a crash, a function error; "Endpoint request timed out" past 29 s) and keeps the connection open;
 * a handler error never gets that far (functions/lambda/route-handler.ts answers a status code, which a WebSocket route
 * without a route response does not send). To Twilio such a frame is a message outside the Media Streams protocol:
 * warning 31951, once per stream ("Stream - Protocol - Invalid Message"), the stream goes on. What would end the
 * stream is a close (the 2 h connection cap, the 10 min idle close, a frame over 32 KB), binary frames (31950), or
 * our own code closing it. This proves, on the local gateway (which answers failures as API Gateway does), that a
 * throttled or crashed media invocation reaches a Twilio-signed stream only as such a text frame, and the call goes on.
 */
import { randomBytes } from 'node:crypto';
import type { LocalStack } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import { CallerSession } from '../../../tools/caller/session';
import { recordReliability } from '../../support/reliability';
import { speech, startStack, until } from '../../support/stack';
import { answeredCall, twilioSignature } from '../../support/twilio';

const TWILIO_AUTH_TOKEN = randomBytes(16).toString('hex');

let stack: LocalStack;
beforeAll(async () => {
  ({ stack } = await startStack('gateway-errors', { twilioAuthToken: TWILIO_AUTH_TOKEN, provisionedByFunction: { media: 3 } }));
}, 180_000);
afterAll(async () => stack?.stop());

const GATEWAY_ERROR = { message: 'Internal server error', connectionId: expect.any(String), requestId: expect.any(String) };

it('a throttled or crashed media invocation reaches a Twilio stream only as a text error frame; the call goes on', async () => {
  // Twilio's side: the voice webhook answers the call, and the stream its TwiML names is opened with its parameters.
  const answered = await answeredCall(`http://127.0.0.1:${stack.port}/twilio/voice`, TWILIO_AUTH_TOKEN);
  const caller = new CallerSession({
    url: stack.url,
    headers: { 'X-Twilio-Signature': twilioSignature(TWILIO_AUTH_TOKEN, stack.url) },
    // Turn reports (voiceagent.* events) so the test can follow the call; a real Twilio stream does not opt in.
    events: true,
    callSid: answered.call.CallSid,
    customParameters: answered.parameters,
  });
  await caller.connect();
  expect((await caller.waitForTurn(1))?.status).toBe('completed');
  await caller.waitForAgentSilence(300);
  const throttlesBefore = stack.runtime!.stats().media!.throttles;

  // Lambda refuses five of the caller's frames (over its concurrency): the frames are lost, the gateway says so.
  const throttle = stack.throttleInvocations({ functionName: 'media', count: 5, match: (e) => (e as { body?: string }).body?.includes('"event":"media"') === true });
  await until(() => throttle.throttled === 5, 5_000, 10);
  await until(() => caller.errors.length === 5, 5_000, 10);
  await caller.speak(await speech('what are your opening hours'));
  const hours = await caller.waitForTurn(2, 20_000);
  expect(hours).toMatchObject({ status: 'completed', intent: expect.stringMatching(/hours/) });

  // The environment answering the next utterance dies (after the transcript, before the answer is done).
  await caller.waitForAgentSilence(300);
  await caller.speak(await speech('where are you located'));
  await until(() => caller.turns.get(3)?.transcript !== undefined, 20_000, 5);
  const killed = stack.runtime!.killBusy('media');
  expect(killed).toBeGreaterThanOrEqual(1);
  await until(() => caller.errors.length === 5 + killed, 5_000, 10);

  // The call goes on: the next utterance is answered, on the same stream.
  await caller.waitForAgentSilence(300);
  await caller.speak(await speech('cancel my appointment'));
  const next = await caller.waitForTurn(4, 30_000);
  expect(next?.status).toBe('completed');
  expect(wordErrorRate('cancel my appointment', next?.transcript ?? '')).toBeLessThanOrEqual(0.25);
  expect(caller.closed).toBe(false);

  // Everything the stream received outside Twilio's own messages (media, mark, clear): the opted-in turn reports and
  // one gateway error frame per failed invocation, as text JSON (never binary, never a close).
  const gatewayFrames = caller.events.filter((e) => typeof e.event !== 'string');
  expect(gatewayFrames).toEqual(Array.from({ length: 5 + killed }, () => GATEWAY_ERROR));
  expect(caller.events.filter((e) => typeof e.event === 'string' && !String(e.event).startsWith('voiceagent.'))).toEqual([]);
  expect(caller.errors).toEqual(Array.from({ length: 5 + killed }, () => 'Internal server error'));
  expect(stack.runtime!.stats().media!.throttles - throttlesBefore).toBe(5);
  await caller.hangUp();
  recordReliability({
    area: 'faults',
    tried: 'a Twilio-signed stream: 5 media invocations throttled by Lambda, then the environment answering a turn killed',
    cases: 5 + killed,
    outcome: `${5 + killed} gateway frames {"message":"Internal server error",…} (text JSON, what Twilio logs as warning 31951 and ignores); no close; turns 2 and 4 answered ("${next?.transcript}")`,
    ok: next?.status === 'completed' && !caller.closed,
  });
}, 120_000);
