/**
 * Whole calls through the local stack: gateway → Lambda runtime (the deployable bundles) → DynamoDB (dynalite) →
 * real offline recognition and synthesis → back through @connections.
 */
import { randomUUID } from 'node:crypto';
import type { LocalStack } from '../../../local/stack';
import { wordErrorRate } from '../../../local/speech/stt/lm';
import { connectCaller, speech, startStack, until } from '../../support/stack';
import type { DynamoCallStore } from '../../../functions/adapters/dynamo-call-store';
import {
  ENVIRONMENT_DIMENSION,
  LATENCY_STAGES,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  TURN_LATENCY_METRIC,
} from '../../../functions/contracts/metrics';

let stack: LocalStack;
let store: DynamoCallStore;

beforeAll(async () => {
  // The offline engines share this machine's two cores with everything else: utterances queue in the recognizer and
  // the synthesizer for seconds on a slow machine. These tests are about what a call does, not how
  // fast the local engines are (faults.test.ts covers a provider that times out), so the engines get 15 s.
  ({ stack, store } = await startStack('call-flow', {
    provisionedByFunction: { media: 16, start: 4 },
    functionEnv: { STT_TIMEOUT_MS: '15000', TTS_TIMEOUT_MS: '15000' },
  }));
}, 180_000);
afterAll(async () => stack?.stop());

describe('a call', () => {
  it('completes three turns with real recognition, replies and latency', async () => {
    const caller = await connectCaller(stack);
    const greeting = await caller.waitForTurn(1);
    expect(greeting?.reply).toMatch(/thank/i);
    await caller.waitForAgentSilence(300);

    const script = [
      { say: 'what are your opening hours', intent: /hours/ },
      { say: 'i would like to book an appointment', intent: /book/ },
      { say: 'tuesday at three pm', intent: /book|slot|confirm/ },
    ];
    let turn = 2;
    for (const step of script) {
      await caller.speak(await speech(step.say));
      const report = await caller.waitForTurn(turn);
      expect(report).toBeDefined();
      // Real recognition: at most one word in five wrong, and understood as meant.
      expect(wordErrorRate(step.say, report!.transcript ?? '')).toBeLessThanOrEqual(0.2);
      expect(report!.intent).toMatch(step.intent);
      expect(report!.status).toBe('completed');
      expect(report!.serverLatencyMs).toBeGreaterThan(0);
      expect(report!.clientLatencyMs).toBeGreaterThan(0);
      turn = report!.turn + 1;
      await caller.waitForAgentSilence(300);
    }
    // The confirmation names the day and time back.
    const last = caller.turns.get(turn - 1);
    expect(last?.reply).toMatch(/tuesday/i);
    expect(last?.reply).toMatch(/3/);
    // Agent audio arrived in the declared format, in messages under the 32 KB frame limit.
    expect(caller.agentAudio().byteLength).toBeGreaterThan(8000);
    await caller.hangUp();
  });

  it('publishes the metrics the dashboard and alarms read, under their exact namespace and dimensions', () => {
    // Reads the metrics of the calls above. CloudWatch keys a metric by namespace, name and dimension set: one with another set would
    // leave the dashboard's graph empty. test/unit/cdk/monitoring.test.ts checks the dashboard reads this contract.
    const dims = { service: SERVICE_NAME, [ENVIRONMENT_DIMENSION]: 'local' };
    const series = (name: string, extra: Record<string, string> = {}) =>
      stack.logs.metricById({ namespace: METRICS_NAMESPACE, name, dimensions: { ...dims, ...extra } });
    for (const name of [TURN_LATENCY_METRIC, ...LATENCY_STAGES.map((s) => s.metric)]) {
      expect({ name, unit: series(name).unit, count: series(name).values.length > 0 }).toEqual({ name, unit: 'Milliseconds', count: true });
    }
    for (const name of ['CallsStarted', 'TurnsCompleted', 'CallsInProgress']) expect({ name, count: series(name).values.length > 0 }).toEqual({ name, count: true });
    // connect has no provisioned environments: its first invocation is a cold start (provisioned inits are not).
    expect(series('ColdStart', { function_name: 'connect' }).sum).toBeGreaterThan(0);
    // Nothing under the bare name: the environment dimension is always there.
    expect(stack.logs.metricById({ namespace: METRICS_NAMESPACE, name: TURN_LATENCY_METRIC, dimensions: { service: SERVICE_NAME } }).values).toEqual([]);
  });

  it('speaks linear PCM 16 kHz to a caller that declares it, in messages under the 32 KB frame limit', async () => {
    const format = { encoding: 'pcm16', sampleRate: 16000 } as const;
    const caller = await connectCaller(stack, { format });
    await caller.waitForTurn(1);
    await caller.waitForAgentSilence(300);
    await caller.speak(await speech('where are you located', format));
    const report = await caller.waitForTurn(2);
    expect(report?.intent).toBe('location');
    expect(wordErrorRate('where are you located', report?.transcript ?? '')).toBeLessThanOrEqual(0.25);
    const audio = caller.agentAudio();
    expect(audio.byteLength % 2).toBe(0);
    // Greeting + answer are ~7 s: ~220 KB as 16 kHz PCM (32,000 B/s), ~55 KB had it been 8 kHz μ-law.
    expect(audio.byteLength).toBeGreaterThan(120_000);
    expect(caller.largestMessageBytes).toBeLessThan(32 * 1024);
    await caller.hangUp();
  });

  it('stops talking when the caller barges in, and answers the new utterance', async () => {
    const caller = await connectCaller(stack);
    await caller.waitForTurn(1);
    await caller.waitForAgentSilence(300);
    await caller.speak(await speech('what are your opening hours'));
    const hours = await caller.waitForTurn(2);
    expect(hours?.intent).toMatch(/hours/);
    // The hours reply takes seconds to play: talk over it.
    await new Promise((r) => setTimeout(r, 300));
    await caller.speak(await speech('where are you located'));
    await until(() => caller.clears.length > 0, 10_000);
    const next = await caller.waitForTurn(3);
    expect(wordErrorRate('where are you located', next?.transcript ?? '')).toBeLessThanOrEqual(0.25);
    expect(next?.intent).toMatch(/location/);
    await caller.hangUp();
  });

  it('ends cleanly when the caller hangs up mid-turn', async () => {
    const caller = await connectCaller(stack);
    await caller.waitForTurn(1);
    await caller.waitForAgentSilence(300);
    const crashesBefore = totalCrashes();
    await caller.speak(await speech('what are your opening hours'));
    await caller.hangUp(); // right after the last frame: the turn is being answered
    // The turn meets GoneException (or the call already ended) and the call is ended by $disconnect.
    await until(() => stack.logs.metric('CallsEnded').sum >= 1, 15_000);
    expect(totalCrashes()).toBe(crashesBefore);
  });

  it('handles media invocations of one call racing in different environments', async () => {
    const runtime = stack.runtime!;
    const connectionId = 'race-' + randomUUID();
    const streamSid = 'MZrace';
    const context = (routeKey: string, eventType = 'MESSAGE') => ({
      routeKey,
      eventType,
      connectionId,
      requestTimeEpoch: Date.now(),
      domainName: `127.0.0.1:${stack.port}`,
      stage: 'local',
      messageId: randomUUID(),
      requestId: randomUUID(),
    });
    const message = (routeKey: string, body: object) => ({ requestContext: context(routeKey), isBase64Encoded: false, body: JSON.stringify(body) });
    expect((await runtime.invoke('connect', { requestContext: context('$connect', 'CONNECT') })).ok).toBe(true);
    await runtime.invoke('start', message('start', { event: 'start', sequenceNumber: '1', streamSid, start: { streamSid } }));

    const audio = await speech('where are you located');
    const frames: Buffer[] = [];
    const silent = Buffer.alloc(160, 0xff);
    for (let i = 0; i < 10; i++) frames.push(silent);
    for (let i = 0; i < audio.byteLength; i += 160) frames.push(Buffer.from(audio.subarray(i, i + 160)));
    for (let i = 0; i < 40; i++) frames.push(silent);
    const environments = new Set<string>();
    // Pairs of consecutive frames at the same time: the runtime puts concurrent invocations in different environments.
    for (let i = 0; i < frames.length; i += 2) {
      const pair = [i, i + 1].filter((k) => k < frames.length);
      const results = await Promise.all(
        pair.map((k) =>
          runtime.invoke(
            'media',
            message('media', { event: 'media', sequenceNumber: k + 2, streamSid, media: { chunk: k + 1, timestamp: k * 20, payload: frames[k]!.toString('base64') } }),
          ),
        ),
      );
      for (const r of results) {
        expect(r.ok).toBe(true);
        if (r.ok) environments.add(r.environmentId);
      }
    }
    expect(environments.size).toBeGreaterThan(1);
    await until(async () => (await store.listTurns(connectionId)).some((t) => t.kind === 'speech'), 15_000);
    const speechTurns = (await store.listTurns(connectionId)).filter((t) => t.kind === 'speech');
    expect(speechTurns).toHaveLength(1);
    expect(wordErrorRate('where are you located', speechTurns[0]!.transcript ?? '')).toBeLessThanOrEqual(0.25);
  }, 120_000);
});

function totalCrashes(): number {
  return Object.values(stack.runtime!.stats()).reduce((n, s) => n + s.crashes, 0);
}
