/**
 * An execution environment dies in the middle of a turn (its host fails; on AWS: a crash, an out-of-memory kill).
 * That answer is lost — nothing can send it — but nothing may wait on the dead environment: the call stays
 * consistent, the caller's next utterance is answered, and every item written carries its TTL.
 */
import { QueryCommand } from '@aws-sdk/lib-dynamodb';
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import type { LocalStack } from '../../../local/stack';
import { localClientConfig, TABLE_NAME } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import { recordReliability } from '../../support/reliability';
import { callIdOf, connectCaller, speech, startStack, until } from '../../support/stack';

let stack: LocalStack;
beforeAll(async () => {
  ({ stack } = await startStack('environment-death', { provisionedByFunction: { media: 3 } }));
}, 180_000);
afterAll(async () => stack?.stop());

it('loses only the answer of a turn whose environment dies; the next utterance is answered and state stays clean', async () => {
  const caller = await connectCaller(stack);
  await caller.waitForTurn(1);
  await caller.waitForAgentSilence(300);
  const crashesBefore = stack.runtime!.stats().media!.crashes;

  // The turn is claimed and transcribed (the transcript event), so the environment running it is busy: kill it.
  await caller.speak(await speech('what are your opening hours'));
  await until(() => caller.turns.get(2)?.transcript !== undefined, 20_000, 5);
  const killed = stack.runtime!.killBusy('media');
  expect(killed).toBeGreaterThanOrEqual(1);
  await new Promise((r) => setTimeout(r, 1500));
  const lost = caller.turns.get(2);

  // The call goes on: the next utterance is a new turn, answered.
  await caller.waitForAgentSilence(300);
  await caller.speak(await speech('where are you located'));
  const next = await caller.waitForTurn(3, 30_000);
  expect(next?.status).toBe('completed');
  expect(wordErrorRate('where are you located', next?.transcript ?? '')).toBeLessThanOrEqual(0.25);
  expect(caller.closed).toBe(false);
  const crashes = stack.runtime!.stats().media!.crashes - crashesBefore;
  expect(crashes).toBe(killed);

  // State: the call is streaming again (nothing of the dead turn left holding it), and every item has a TTL.
  const callId = await callIdOf(stack, caller.streamSid);
  const db = new DynamoDBClient(localClientConfig(stack.dynamoEndpoint));
  const items = (await db.send(new QueryCommand({ TableName: TABLE_NAME, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CALL#${callId}` } }))).Items ?? [];
  expect(items.length).toBeGreaterThan(0);
  await caller.hangUp();
  const meta = items.find((i) => i.sk === 'META')!;
  expect(meta.status).toBe('streaming');
  const withTtl = items.filter((i) => typeof i.expiresAt === 'number' && i.expiresAt * 1000 > Date.now()).length;
  expect(withTtl).toBe(items.length);
  recordReliability({
    area: 'faults',
    tried: 'the execution environment running a turn killed after the transcript, before the answer finished',
    cases: killed,
    outcome: `${crashes} environment crash counted; the killed turn ${lost?.status ? `ended "${lost.status}"` : 'sent no end'}; the next utterance answered ("${next?.transcript}"); ${withTtl} of ${items.length} items with a TTL`,
    ok: next?.status === 'completed' && withTtl === items.length,
  });
}, 120_000);
