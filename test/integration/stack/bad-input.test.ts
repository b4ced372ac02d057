/**
 * Bad input through the local gateway and runtime: each bad message is refused with a logged reason and an
 * InvalidMessages metric, no environment crashes, and the call goes on (a real turn still works afterwards).
 */
import WebSocket from 'ws';
import type { LocalStack } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import { connectCaller, speech, startStack, until, upgradeStatus } from '../../support/stack';

let stack: LocalStack;
beforeAll(async () => {
  ({ stack } = await startStack('bad-input'));
}, 180_000);
afterAll(async () => stack?.stop());

const invalid = () => stack.logs.metric('InvalidMessages').sum;
const crashes = () => Object.values(stack.runtime!.stats()).reduce((n, s) => n + s.crashes, 0);
const reasons: string[] = [];
beforeAll(() => {
  stack.logs.onLine((_fn, line) => {
    if (line.includes('"invalid message"')) reasons.push(JSON.parse(line).reason);
  });
});


describe('connect', () => {
  it('refuses a connect without credentials and one with a wrong token with 403', async () => {
    // The authorizer declares no identity source (a Twilio stream brings a signature header instead of ?token=), so
    // API Gateway asks it every time and its Deny is a 403; the 401 for a missing identity source is the gateway's
    // own behaviour, covered in test/integration/gateway/connect.test.ts.
    expect(await upgradeStatus(stack.url)).toBe(403);
    expect(await upgradeStatus(`${stack.url}?token=wrong`)).toBe(403);
  });
});

describe('messages', () => {
  it('refuses each bad message with a reason and a metric, and the call goes on', async () => {
    const caller = await connectCaller(stack);
    await caller.waitForTurn(1);
    await caller.waitForAgentSilence(300);
    const before = invalid();
    const crashesBefore = crashes();
    const sid = caller.streamSid;
    const bad: [string, string | Buffer, boolean][] = [
      ['malformed JSON', '{"event":"media",', false],
      ['binary frame', Buffer.from([1, 2, 3, 4]), true],
      ['unknown event', JSON.stringify({ event: 'hello', streamSid: sid }), false],
      ['missing fields', JSON.stringify({ event: 'media', sequenceNumber: '9', streamSid: sid }), false],
      ['invalid base64', JSON.stringify({ event: 'media', sequenceNumber: '9', streamSid: sid, media: { chunk: '9', timestamp: '9', payload: '%%%' } }), false],
      ['start twice', JSON.stringify({ event: 'start', sequenceNumber: '9', streamSid: sid, start: { streamSid: sid } }), false],
      ['foreign streamSid', JSON.stringify({ event: 'dtmf', sequenceNumber: '9', streamSid: 'MZother', dtmf: { digit: '1' } }), false],
      ['mark not ours', JSON.stringify({ event: 'mark', sequenceNumber: '9', streamSid: sid, mark: { name: 'whatever' } }), false],
    ];
    for (const [, data, binary] of bad) caller.sendRaw(data, binary);
    await until(() => invalid() - before >= bad.length, 15_000);
    expect(invalid() - before).toBe(bad.length);
    for (const expected of ['malformed JSON', 'binary frame', "unknown event 'hello'", 'invalid media', 'not valid base64', 'start twice', 'streamSid does not match', 'mark name was not sent by this agent']) {
      expect(reasons.some((r) => r.includes(expected))).toBe(true);
    }
    // The call goes on.
    await caller.speak(await speech('where are you located'));
    const report = await caller.waitForTurn(2);
    expect(wordErrorRate('where are you located', report?.transcript ?? '')).toBeLessThanOrEqual(0.25);
    expect(report?.intent).toBe('location');
    expect(report?.status).toBe('completed');
    expect(crashes()).toBe(crashesBefore);
    expect(caller.closed).toBe(false);
    await caller.hangUp();
  });

  it('refuses media before start and media after stop', async () => {
    const ws = new WebSocket(stack.callerUrl());
    await new Promise((resolve) => ws.once('open', resolve));
    const before = invalid();
    ws.send(JSON.stringify({ event: 'media', sequenceNumber: '2', streamSid: 'MZearly', media: { chunk: '1', timestamp: '0', payload: Buffer.alloc(160, 0xff).toString('base64') } }));
    await until(() => reasons.some((r) => r === 'media before start'));
    ws.close();

    const caller = await connectCaller(stack);
    await caller.waitForTurn(1);
    await caller.stop({ keepStreaming: true }); // the stream ended, yet frames keep coming
    // The frames that cross each 200 ms of stream time read the call, wherever they run: from the first one on, refused.
    await until(() => reasons.some((r) => r === 'media after stop'), 10_000);
    expect(invalid() - before).toBeGreaterThanOrEqual(2);
    await caller.hangUp();
  });
});
