/**
 * Faults injected on the local stack, the way the real dependencies fail: the vendor stand-ins answer 5xx, 429,
 * never answer, or stall mid-stream (local/vendors, scripted through LocalStack.vendorFaults); DynamoDB throttles,
 * answers 500/503 or resets the connection (local/dynamo/faults.cjs, LocalStack.dynamoFaults); the caller goes away
 * while the agent talks, or before it does. Each scenario checks that the call goes on (a fallback, or the answer
 * after retries) or ends cleanly, that the call item is not left mid-turn, that items carry their TTL, and that the
 * metrics count what happened; and records the counts it measured (test/support/reliability.ts).
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoDBDocumentClient, QueryCommand } from '@aws-sdk/lib-dynamodb';
import type WebSocket from 'ws';
import { DEFAULT_TURN_CONFIG } from '../../../functions/domain/call/turn-runner';
import { localClientConfig, TABLE_NAME, type LocalStack } from '../../../local/stack';
import type { Fault, Vendor } from '../../../local/vendors/behaviour';
import type { CallerSession, TurnReport } from '../../../tools/caller/session';
import { recordReliability } from '../../support/reliability';
import { callIdOf, connectCaller, speech, startStack, until } from '../../support/stack';

let stack: LocalStack;
let doc: DynamoDBDocumentClient;
/** "route failed" log lines (handler.ts logs one per invocation that threw): when they were seen, and what they said. */
interface RouteFailure {
  at: number;
  fn: string;
  callId?: string;
  error?: string;
}
const routeFailures: RouteFailure[] = [];
/** The turn runner's warnings, by what it did about a provider failure (functions/domain/call/turn-runner.ts). */
const fallbacks = { input: 0, synthesis: 0, midTurn: 0 };
const FALLBACK = DEFAULT_TURN_CONFIG.fallbackText;
const COUNTED = ['ProviderErrors', 'ProviderRetries', 'RouteErrors', 'CallerGone', 'CallsEnded', 'TurnsFailed', 'SpeculationsDiscarded', 'LateFrames'] as const;
type Counted = (typeof COUNTED)[number];

beforeAll(async () => {
  // The seed study's vendor latency (faults are about the vendors' APIs); synthetic agent audio spares the 2 cores.
  ({ stack } = await startStack('faults', { providers: 'seed', vendorAudio: 'synthetic', provisionedByFunction: { media: 3 } }));
  // The test's own reads use the operator key, which the DynamoDB faults spare (callers: 'functions').
  doc = DynamoDBDocumentClient.from(new DynamoDBClient(localClientConfig(stack.dynamoEndpoint)));
  stack.logs.onLine((fn, line) => {
    if (line.includes('"route failed"')) routeFailures.push(routeFailure(fn, line));
    if (line.includes('turn input failed; answering with the fallback phrase')) fallbacks.input++;
    if (line.includes('speech synthesis failed; saying the fallback phrase')) fallbacks.synthesis++;
    if (line.includes('speech synthesis failed mid-turn')) fallbacks.midTurn++;
  });
}, 180_000);
afterAll(async () => stack?.stop());

/** Metric sums now, to diff around a scenario. */
function counters(): Record<Counted, number> {
  return Object.fromEntries(COUNTED.map((name) => [name, stack.logs.metric(name).sum])) as Record<Counted, number>;
}
const delta = (before: Record<Counted, number>) => {
  const now = counters();
  return Object.fromEntries(COUNTED.map((name) => [name, now[name] - before[name]])) as Record<Counted, number>;
};
const crashes = () => Object.values(stack.runtime!.stats()).reduce((n, s) => n + s.crashes, 0);

/** The call's id (its connection id), found by the stream sid the caller sent. */

async function callItems(callId: string): Promise<Record<string, unknown>[]> {
  const out = await doc.send(new QueryCommand({ TableName: TABLE_NAME, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': `CALL#${callId}` } }));
  return out.Items ?? [];
}

/**
 * The call item once its turns are over: not mid-turn (no agent audio marked as playing), a sane status, and every item
 * of the call with its TTL. Waits for the end mark's echo to clear `agent`.
 */
async function settledState(callId: string, status: 'streaming' | 'ended'): Promise<{ ok: boolean; detail: string }> {
  let meta: Record<string, unknown> | undefined;
  let items: Record<string, unknown>[] = [];
  const settled = () => meta?.status === status && meta.agent === undefined;
  try {
    await until(async () => {
      items = await callItems(callId);
      meta = items.find((i) => i.sk === 'META');
      return settled();
    }, 8_000, 100);
  } catch {
    // reported below
  }
  const nowS = Date.now() / 1000;
  const withoutTtl = items.filter((i) => !(typeof i.expiresAt === 'number' && i.expiresAt > nowS)).length;
  const ok = settled() && withoutTtl === 0 && items.length > 0;
  const detail = `call ${String(meta?.status)}, agent ${meta?.agent ? 'set' : 'clear'}, ${items.length} items, ${withoutTtl} without TTL`;
  return { ok, detail };
}

async function greeted(): Promise<CallerSession> {
  const caller = await connectCaller(stack);
  await caller.waitForTurn(1);
  await caller.waitForAgentSilence(300);
  return caller;
}

/** Speaks and waits for the first reported turn numbered `turn` or more. */
async function ask(caller: CallerSession, line: string, turn: number, timeoutMs = 30_000): Promise<TurnReport | undefined> {
  await caller.speak(await speech(line));
  const report = await caller.waitForTurn(turn, timeoutMs);
  await caller.waitForAgentSilence(300);
  return report;
}

/** The underlying socket, to drop the line without Twilio's `stop` (a caller who just goes away). */
const socketOf = (caller: CallerSession) => (caller as unknown as { ws: WebSocket }).ws;

/** A "route failed" line, reduced to what a failing check should print. */
function routeFailure(fn: string, line: string): RouteFailure {
  const at = Date.now();
  try {
    const entry = JSON.parse(line.slice(line.indexOf('{'))) as { callId?: string; error?: { name?: string; message?: string } };
    return { at, fn, callId: entry.callId, error: `${entry.error?.name}: ${entry.error?.message}` };
  } catch {
    return { at, fn };
  }
}

/** What went wrong since a scenario began, for its failure message: route errors (counted and logged) and crashes. */
function errorsSince(before: Record<Counted, number>, failuresBefore: number, crashesBefore: number): string {
  const logged = routeFailures.slice(failuresBefore).map((f) => `${f.fn} ${f.callId ?? '?'} ${f.error ?? '?'}`);
  return `RouteErrors +${delta(before).RouteErrors}, crashes +${crashes() - crashesBefore}, route failed: [${logged.join('; ')}]`;
}

/** Checks by name: the failing ones are what the assertion shows. */
function failed(checks: Record<string, boolean>): string[] {
  return Object.entries(checks)
    .filter(([, ok]) => !ok)
    .map(([name]) => name);
}

/** What the caller got from a faulted turn, from the turn runner's warnings during it. */
function how(report: TurnReport | undefined, seen: typeof fallbacks, intent: string): string {
  if (seen.input > 0) return 'was answered with the fallback phrase (no transcript)';
  if (seen.synthesis > 0) return 'was answered with the fallback phrase (reply not synthesized)';
  // Synthesis that fails once audio has started is not retried (it would replay the start): the reply is cut short.
  if (seen.midTurn > 0) return 'was answered in part (synthesis failed after its first audio)';
  return report?.intent === intent ? 'was answered (after retries)' : `got "${report?.reply}"`;
}

const vendorName: Record<Vendor, string> = { deepgram: 'speech-to-text (Deepgram stand-in)', elevenlabs: 'text-to-speech (ElevenLabs stand-in)' };
const faultName: Partial<Record<Fault, string>> = {
  'http-500': 'HTTP 500',
  'http-429': 'HTTP 429 with retry-after',
  timeout: 'requests never answered',
  stall: 'the response stalls after it started',
};

describe('vendor faults', () => {
  // Enough scripted faults to fail every attempt of a turn: the speculative pass and the ordinary one, each with the
  // adapter's two retries. Faults not taken by the turn are cleared after it.
  const SCRIPTED = 6;
  // Its answer names the day heard, so it is no static prompt: the prompt cache (functions/providers/prompt-cache.ts)
  // cannot answer it, and its synthesis reaches the ElevenLabs stand-in every time.
  const LINE = { say: 'what time do you open on saturday', intent: 'hours' };
  const cases: [Vendor, Fault][] = (['deepgram', 'elevenlabs'] as const).flatMap((v) => (['http-500', 'http-429', 'timeout', 'stall'] as const).map((f): [Vendor, Fault] => [v, f]));

  it.each(cases)('%s %s: the turn falls back or is answered after retries, and the next turn works', async (vendor, fault) => {
    const caller = await greeted();
    const callId = await callIdOf(stack, caller.streamSid);
    const before = counters();
    const fallbacksBefore = { ...fallbacks };
    const statsBefore = await stack.vendorFaultStats();
    await stack.vendorFaults({ next: fault, count: SCRIPTED, vendor });
    const faulted = await ask(caller, LINE.say, 2);
    await stack.vendorFaults({ clear: true, vendor });
    const injected = ((await stack.vendorFaultStats())[vendor].faults[fault] ?? 0) - (statsBefore[vendor].faults[fault] ?? 0);
    const during = delta(before);
    const seen = { input: fallbacks.input - fallbacksBefore.input, synthesis: fallbacks.synthesis - fallbacksBefore.synthesis, midTurn: fallbacks.midTurn - fallbacksBefore.midTurn };

    const next = await ask(caller, LINE.say, (faulted?.turn ?? 1) + 1);
    const state = await settledState(callId, 'streaming');
    await caller.hangUp();

    const fellBack = seen.input + seen.synthesis + seen.midTurn > 0;
    // A failed transcription replies with the fallback phrase; a failed synthesis keeps the reply's text and plays
    // the fallback phrase (or the audio it had) instead.
    const heard = faulted?.reply === FALLBACK || faulted?.intent === LINE.intent;
    const checks = {
      'faults injected': injected > 0,
      'faulted turn heard the fallback phrase or the answer': heard && faulted?.status !== undefined,
      'provider errors or retries counted': during.ProviderErrors + during.ProviderRetries > 0,
      'a fallback is counted as a provider error': !fellBack || during.ProviderErrors > 0,
      'a fallback from speech-to-text says the fallback phrase': seen.input === 0 || faulted?.reply === FALLBACK,
      'next turn answered': next?.status === 'completed' && next.intent === LINE.intent,
      'call item settled with TTLs': state.ok,
      'no route errors': during.RouteErrors === 0,
    };
    const bad = failed(checks);
    recordReliability({
      area: 'faults',
      tried: `${vendorName[vendor]}: ${faultName[fault]} on ${SCRIPTED} consecutive requests during one turn`,
      cases: injected,
      outcome:
        `${injected} faults taken; the turn ${how(faulted, seen, LINE.intent)} ` +
        `(status ${faulted?.status}); ProviderErrors +${during.ProviderErrors}, ProviderRetries +${during.ProviderRetries}, RouteErrors +${during.RouteErrors}; ` +
        `next turn ${next?.status} (${next?.intent}); ${state.detail}`,
      ok: bad.length === 0,
    });
    expect(bad).toEqual([]);
  }, 90_000);
});

describe('DynamoDB faults', () => {
  it('throttling on 20 % of requests during a turn: the SDK retries and the turn is answered', async () => {
    const caller = await greeted();
    const callId = await callIdOf(stack, caller.streamSid);
    const before = counters();
    const injectedBefore = (await stack.dynamoFaultStats()).injected.total;
    // Both of DynamoDB's throttling errors, 10 % each (the second rule sees the 90 % the first let through).
    await stack.dynamoFaults({ kind: 'throttling', rate: 0.1 });
    await stack.dynamoFaults({ kind: 'provisioned-throughput', rate: 0.1 / 0.9 });
    const report = await ask(caller, 'where are you located', 2);
    await stack.dynamoFaults({ clear: true });
    const stats = await stack.dynamoFaultStats();
    const injected = stats.injected.total - injectedBefore;
    const during = delta(before);
    const state = await settledState(callId, 'streaming');
    await caller.hangUp();

    const checks = {
      'throttling injected': injected > 0,
      'turn answered': report?.status === 'completed' && report.reply !== undefined && report.reply !== FALLBACK,
      'call item settled with TTLs': state.ok,
    };
    const bad = failed(checks);
    recordReliability({
      area: 'faults',
      tried: 'DynamoDB throttling (ThrottlingException and ProvisionedThroughputExceededException, 400) on 20 % of the functions’ requests during one turn',
      cases: injected,
      outcome:
        `${injected} requests throttled (${JSON.stringify(stats.injected.byKind)}); turn ${report?.status}, intent ${report?.intent}` +
        `${report?.intent === 'location' ? ' (as asked)' : ' (misheard)'}; RouteErrors +${during.RouteErrors}, LateFrames +${during.LateFrames}; ${state.detail}`,
      ok: bad.length === 0,
    });
    expect(bad).toEqual([]);
  }, 120_000);

  it('unavailable for 1.5 s mid-call: frames in the outage fail with a logged error, the next utterance is answered', async () => {
    const caller = await greeted();
    const callId = await callIdOf(stack, caller.streamSid);
    const before = counters();
    const failuresBefore = routeFailures.length;
    const injectedBefore = (await stack.dynamoFaultStats()).injected.total;
    // Half the requests answered 503, the rest reset: both ways DynamoDB is unreachable.
    await stack.dynamoFaults({ kind: 'unavailable', rate: 0.5, forMs: 1500 });
    await stack.dynamoFaults({ kind: 'reset', forMs: 1500 });
    const outageEnds = Date.now() + 1500;
    await caller.speak(await speech('what are your opening hours')); // speech during the outage: its frames are lost
    await until(() => Date.now() > outageEnds + 300, 5_000);
    const injected = (await stack.dynamoFaultStats()).injected.total - injectedBefore;
    const duringOutage = delta(before);
    const lostLines = routeFailures.length - failuresBefore;

    // After recovery: whatever became of the lost utterance, the next one is answered.
    const firstAfter = Math.max(0, ...[...caller.turns.keys()]) + 1;
    await caller.waitForAgentSilence(500);
    await caller.speak(await speech('where are you located'));
    let answered: TurnReport | undefined;
    await until(
      () => (answered = [...caller.turns.values()].find((t) => t.turn >= firstAfter && t.intent === 'location' && t.status !== undefined)) !== undefined,
      30_000,
    ).catch(() => undefined);
    await caller.waitForAgentSilence(300);
    const state = await settledState(callId, 'streaming');
    await caller.hangUp();
    // Errors after the outage (and the SDK's ~0.3 s of retries) is over: measured, not asserted (see the report).
    const lingering = routeFailures.filter((f) => f.at > outageEnds + 1000).length;

    const checks = {
      'faults injected': injected > 0,
      'lost frames logged': lostLines > 0,
      'RouteErrors counted': duringOutage.RouteErrors > 0,
      'next utterance answered': answered?.status === 'completed',
      'call item settled with TTLs': state.ok,
    };
    const bad = failed(checks);
    recordReliability({
      area: 'faults',
      tried: 'DynamoDB unavailable for 1.5 s while the caller speaks (503 ServiceUnavailable or connection reset on every request of the functions)',
      cases: injected,
      outcome:
        `${injected} requests failed; ${lostLines} invocations logged "route failed", RouteErrors +${duringOutage.RouteErrors}; ` +
        `after recovery the next utterance was ${answered ? `answered (turn ${answered.turn}, ${answered.status})` : 'not answered'}; ` +
        `${lingering} route errors more than 1 s after the outage; ${state.detail}`,
      ok: bad.length === 0,
    });
    expect(bad).toEqual([]);
  }, 90_000);
});

describe('the caller goes away', () => {
  it('while the agent streams its reply (GoneException): the turn stops, the call ends, no error storm', async () => {
    const caller = await greeted();
    const callId = await callIdOf(stack, caller.streamSid);
    const before = counters();
    const crashesBefore = crashes();
    const failuresBefore = routeFailures.length;
    const greetingBytes = caller.agentAudio().byteLength;
    // The hours reply is two sentences, several seconds of audio: drop the line at its first audio.
    await caller.speak(await speech('what are your opening hours'));
    await until(() => caller.agentAudio().byteLength > greetingBytes, 20_000, 5);
    socketOf(caller).terminate();
    const heardBytes = caller.agentAudio().byteLength - greetingBytes;

    let turn: Record<string, unknown> | undefined;
    await until(async () => {
      turn = (await callItems(callId)).find((i) => String(i.sk).startsWith('TURN#') && i.kind === 'speech');
      return turn !== undefined && delta(before).CallsEnded >= 1;
    }, 20_000).catch(() => undefined);
    const state = await settledState(callId, 'ended');
    const d = delta(before);

    const checks = {
      'turn stopped as hung up': turn?.status === 'hungup',
      // The turn meets the hang-up at its next post (GoneException, counted) or, when $disconnect has already ended the
      // call, at its check between sentences (nothing posted, nothing to count): which comes first is a race on any
      // machine (a fresh-clone CI run saw the second). Either way no more than the posts in flight are counted.
      'callers gone counted at most twice (none when the end of the call was seen first)': d.CallerGone <= 2,
      'call ended': d.CallsEnded >= 1,
      'no route errors or crashes': d.RouteErrors === 0 && routeFailures.length === failuresBefore && crashes() === crashesBefore,
      'call item settled with TTLs': state.ok,
    };
    const bad = failed(checks).map((name) => (name === 'no route errors or crashes' ? `${name}: ${errorsSince(before, failuresBefore, crashesBefore)}` : name));
    recordReliability({
      area: 'faults',
      tried: 'the caller drops the line (no stop) at the first audio of a two-sentence reply: PostToConnection gets GoneException',
      cases: d.CallerGone,
      outcome:
        `turn ${String(turn?.status)} after ${String(turn?.audioMs)} ms of audio sent (${heardBytes} bytes reached the caller); CallerGone +${d.CallerGone}, ` +
        `CallsEnded +${d.CallsEnded}; ${errorsSince(before, failuresBefore, crashesBefore)}; ${state.detail}`,
      ok: bad.length === 0,
    });
    expect(bad).toEqual([]);
  }, 120_000);

  it('mid-turn, before any reply audio: the call ends, nothing is left in flight', async () => {
    const caller = await greeted();
    const callId = await callIdOf(stack, caller.streamSid);
    const before = counters();
    const crashesBefore = crashes();
    const failuresBefore = routeFailures.length;
    const greetingBytes = caller.agentAudio().byteLength;
    await caller.speak(await speech('where are you located'));
    // Drop the line as soon as the utterance has its watcher (the call item's `watch`, written by the first silent tick):
    // the watcher is answering it ahead of the endpoint (preemptive generation starts one frame into the silence), and
    // its first audio is a transcription away (the seed model's speech-to-text takes at least 150 ms): the turn is in
    // flight and nothing of it has been sent. (A fixed 250 ms wait stopped being "before any audio" once the words
    // ended the turn: a cached reply can start ~250 ms after the last word.)
    await until(async () => (await callItems(callId)).find((i) => i.sk === 'META')?.watch !== undefined, 5_000, 5);
    const meta = (await callItems(callId)).find((i) => i.sk === 'META');
    const phase = (meta?.turnCount as number) >= 2 ? 'endpoint claimed' : 'being prepared (preemptive generation)';
    socketOf(caller).terminate();
    const audioBeforeDrop = caller.agentAudio().byteLength - greetingBytes;

    await until(() => delta(before).CallsEnded >= 1, 15_000).catch(() => undefined);
    const state = await settledState(callId, 'ended');
    // A turn that ran meets the ended call or GoneException: never left `completed` with the caller gone.
    const turns = (await callItems(callId)).filter((i) => String(i.sk).startsWith('TURN#') && i.kind === 'speech');
    const d = delta(before);
    const checks = {
      'dropped before any reply audio': audioBeforeDrop === 0,
      'call ended': d.CallsEnded >= 1,
      'turn (if any) stopped as hung up': turns.every((t) => t.status === 'hungup'),
      'no route errors or crashes': d.RouteErrors === 0 && routeFailures.length === failuresBefore && crashes() === crashesBefore,
      'call item settled with TTLs': state.ok,
    };
    const bad = failed(checks).map((name) => (name === 'no route errors or crashes' ? `${name}: ${errorsSince(before, failuresBefore, crashesBefore)}` : name));
    recordReliability({
      area: 'faults',
      tried: 'the caller drops the line (no stop) while its turn is in flight, before any reply audio',
      cases: d.CallsEnded,
      outcome:
        `dropped while the turn was ${phase}; ${turns.length} turn record(s) (${turns.map((t) => t.status).join(', ') || 'none'}); ` +
        `CallerGone +${d.CallerGone}, SpeculationsDiscarded +${d.SpeculationsDiscarded}, CallsEnded +${d.CallsEnded}; ` +
        `${errorsSince(before, failuresBefore, crashesBefore)}; ${state.detail}`,
      ok: bad.length === 0,
    });
    expect(bad).toEqual([]);
  }, 120_000);
});
