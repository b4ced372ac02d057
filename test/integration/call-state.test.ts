/**
 * Call state under Lambda's realities: frames of one call handled by different environments (separate warm
 * caches), at the same time, duplicated and out of order — against a real DynamoDB API (dynalite).
 */
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { fromPcm16, silence } from '../../functions/domain/audio';
import { CallService } from '../../functions/domain/call/call-service';
import { DEFAULT_MEDIA_CONFIG, MediaProcessor, type MediaConfig } from '../../functions/domain/call/media-processor';
import { DEFAULT_TURN_CONFIG, TurnRunner } from '../../functions/domain/call/turn-runner';
import { parseMessage, ProtocolError, StartMessage, type MediaMessage } from '../../functions/domain/protocol';
import { frontDeskResponder } from '../../functions/domain/responder';
import { TELEPHONY_FORMAT } from '../../functions/domain/speech';
import { DEFAULT_ENDPOINTING } from '../../functions/domain/vad';
import { startTestTable, type TestTable } from '../support/dynamo';
import { LengthSpeechToText, MemoryTelemetry, RecordingSender, ToneTextToSpeech } from '../support/fakes';

// Endpointing in isolation; preemptive generation has its own tests below (its speculator holds an invocation open
// until the endpoint, which these tests' batch-by-batch delivery would wait on).
const CONFIG: MediaConfig = { ...DEFAULT_ENDPOINTING, ...DEFAULT_MEDIA_CONFIG, preemptSilenceMs: 0 };
const speechFrame = fromPcm16(Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 8000))), TELEPHONY_FORMAT);
const silentFrame = silence(20, TELEPHONY_FORMAT);

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => table.close());

function world(config: MediaConfig = CONFIG) {
  const store = new DynamoCallStore(table.tableName, table.client);
  const sender = new RecordingSender();
  const stt = new LengthSpeechToText();
  const tts = new ToneTextToSpeech();
  const telemetry = new MemoryTelemetry();
  const now = () => Date.now();
  const turns = new TurnRunner({ store, sender, stt, tts, responder: frontDeskResponder, telemetry, config: DEFAULT_TURN_CONFIG, now });
  const calls = new CallService(store, sender, turns, frontDeskResponder, telemetry, now);
  /** An "execution environment": its own warm cache. */
  const environment = () => new MediaProcessor(store, sender, turns, telemetry, config, now);
  return { store, sender, stt, tts, telemetry, calls, environment };
}

let callNo = 0;
async function startedCall(w: ReturnType<typeof world>) {
  const callId = `call-${++callNo}-${Date.now()}`;
  const streamSid = `MZ${callNo}`;
  await w.calls.connect(callId, `conn-${callNo}`);
  const start = parseMessage(
    StartMessage,
    JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid, start: { streamSid, callSid: `CA${callNo}`, customParameters: { voiceAgentEvents: 'true' } } }),
  );
  await w.calls.start(callId, start, Date.now());
  return { callId, streamSid };
}

/** A caller's stream: silence, then `speechFrames` of speech, then silence; chunk numbers from 1. */
function stream(streamSid: string, layout: ('s' | '.')[]): MediaMessage[] {
  return layout.map((kind, i) => ({
    event: 'media',
    sequenceNumber: i + 2,
    streamSid,
    media: { track: 'inbound', chunk: i + 1, timestamp: i * 20, payload: Buffer.from(kind === 's' ? speechFrame : silentFrame).toString('base64') },
  }));
}
const layout = (...parts: [number, 's' | '.'][]) => parts.flatMap(([n, k]) => Array<'s' | '.'>(n).fill(k));

/** Deterministic shuffle within a window: models messages overtaking each other in flight. */
function jitter<T>(items: T[], window: number, seed: number): T[] {
  const out = [...items];
  let x = seed;
  const rand = () => ((x = (x * 1103515245 + 12345) % 2 ** 31) / 2 ** 31);
  for (let i = 0; i < out.length; i++) {
    const j = Math.min(out.length - 1, i + Math.floor(rand() * window));
    [out[i], out[j]] = [out[j]!, out[i]!];
  }
  return out;
}

describe('call lifecycle', () => {
  it('greets on start; start twice and media before start are refused', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const call = await w.store.getCall(callId);
    expect(call).toMatchObject({ status: 'streaming', turnCount: 1, format: TELEPHONY_FORMAT, events: true });
    expect(w.tts.texts[0]).toMatch(/thank/i);
    expect(w.sender.events('mark').map((m) => m.mark.name)).toContain('t1-end');
    const again = parseMessage(StartMessage, JSON.stringify({ event: 'start', sequenceNumber: '2', streamSid, start: { streamSid } }));
    await expect(w.calls.start(callId, again, Date.now())).rejects.toThrow('start twice');

    await w.calls.connect('not-started', 'conn-x');
    const env = w.environment();
    await expect(env.process({ callId: 'not-started', receivedAt: Date.now() }, stream('MZ?', ['s'])[0]!)).rejects.toThrow('media before start');
  });

  it('refuses media after stop, even in an environment whose cache still says streaming', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    const frames = stream(streamSid, layout([40, '.']));
    for (const f of frames.slice(0, 5)) await env.process({ callId, receivedAt: Date.now() }, f);
    await w.calls.stop(callId, { event: 'stop', sequenceNumber: 99, streamSid });
    // Speech frames refresh a cache older than callRefreshMs; after that the stale view is gone.
    await new Promise((r) => setTimeout(r, CONFIG.callMaxAgeMs + 50));
    await expect(env.process({ callId, receivedAt: Date.now() }, frames[6]!)).rejects.toThrow('media after stop');
  });
});

describe('maximum call duration', () => {
  it('ends a call past its limit once, however many environments see frames of it, and closes the connection', async () => {
    const w = world({ ...CONFIG, maxCallMs: 300 });
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment(), w.environment()];
    const frames = stream(streamSid, layout([10, '.']));
    // Within the limit: frames are handled as ever.
    const early = await Promise.all(frames.slice(0, 3).map((f, i) => envs[i % 3]!.process({ callId, receivedAt: Date.now() }, f)));
    expect(early.every((o) => o === 'handled')).toBe(true);
    await new Promise((r) => setTimeout(r, 350));
    // Past it: each environment asks for the end once; the call ends once.
    const late = [];
    for (const [i, f] of frames.slice(3).entries()) late.push(await envs[i % 3]!.process({ callId, receivedAt: Date.now() }, f));
    const asks = late.filter((o) => o === 'over-max-duration').length;
    expect(asks).toBe(3);
    await Promise.all(Array.from({ length: asks }, () => w.calls.endForLimit(callId, 'over-max-duration')));
    const call = await w.store.getCall(callId);
    expect(call).toMatchObject({ status: 'ended', endReason: 'over-max-duration' });
    expect(w.telemetry.counts.get('CallsOverMaxDuration')).toBe(1);
    expect(w.sender.closed.filter((c) => c === call!.connectionId)).toHaveLength(1);
  });
});

describe('faster than real time', () => {
  it('ends a call whose audio runs ahead of the wall clock, in whichever environment sees it first', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment()];
    const frames = stream(streamSid, layout([400, '.'])); // 8 s of audio…
    const outcomes = [];
    for (const [i, f] of frames.entries()) outcomes.push(await envs[i % 2]!.process({ callId, receivedAt: Date.now() }, f)); // …sent at once
    // Nothing is refused while the audio is within 3 s of the clock; each environment then asks once.
    const firstAsk = outcomes.indexOf('faster-than-real-time');
    expect(firstAsk).toBeGreaterThanOrEqual(Math.floor(DEFAULT_MEDIA_CONFIG.maxAheadMs / 20) - 1);
    expect(outcomes.filter((o) => o === 'faster-than-real-time')).toHaveLength(2);
    await w.calls.endForLimit(callId, 'faster-than-real-time');
    expect(await w.store.getCall(callId)).toMatchObject({ status: 'ended', endReason: 'faster-than-real-time' });
    expect(w.telemetry.counts.get('ConnectionsClosedForFlooding')).toBe(1);
  });
});

describe('calls in progress', () => {
  const levels = (w: ReturnType<typeof world>) => w.telemetry.gauges.get('CallsInProgress') ?? [];

  it('rises on start, falls once when a started call ends, and ignores calls that never started', async () => {
    const w = world();
    const a = await startedCall(w);
    const base = levels(w).at(-1)!;
    const b = await startedCall(w);
    expect(levels(w).at(-1)).toBe(base + 1);

    // stop and the $disconnect that follows it (possibly at the same time): one decrement between them.
    await Promise.all([
      w.calls.stop(a.callId, { event: 'stop', sequenceNumber: 99, streamSid: a.streamSid }).catch(() => undefined),
      w.calls.disconnect(a.callId, 'client closed'),
    ]);
    expect(levels(w)).toEqual([base, base + 1, base]);

    await w.calls.connect('never-started', 'conn-never');
    await w.calls.disconnect('never-started', 'client closed');
    await w.calls.disconnect(b.callId, 'client closed');
    await w.calls.disconnect(b.callId, 'client closed');
    expect(levels(w)).toEqual([base, base + 1, base, base - 1]);
    expect(w.telemetry.counts.get('CallsEnded')).toBe(3);
  });
});

describe('marks', () => {
  it("settles a turn's playback on its end mark, and ignores one from another stream", async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    expect((await w.store.getCall(callId))?.agent?.turn).toBe(1);
    const foreign = { event: 'mark' as const, sequenceNumber: 5, streamSid: 'MZforeign', mark: { name: 't1-end' } };
    await expect(w.calls.mark(callId, foreign)).rejects.toThrow('streamSid does not match');
    expect((await w.store.getCall(callId))?.agent?.turn).toBe(1);
    await w.calls.mark(callId, { ...foreign, streamSid });
    expect((await w.store.getCall(callId))?.agent).toBeUndefined();
    expect((await w.store.getTurn(callId, 1))?.timings.playedAt).toBeGreaterThan(0);
  });
});

describe('endpointing across environments', () => {
  it('runs exactly one turn per utterance when frames are spread over environments, concurrent, reordered and duplicated', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment(), w.environment()];
    // Two utterances: 600 ms and 1000 ms of speech, each followed by 800 ms of silence.
    const frames = stream(streamSid, layout([10, '.'], [30, 's'], [40, '.'], [50, 's'], [40, '.']));
    const delivered = jitter([...frames, ...frames.filter((_, i) => i % 7 === 0)], 4, 42);
    // Real-time-ish: batches of 4 concurrent invocations, each on a random environment.
    for (let i = 0; i < delivered.length; i += 4) {
      await Promise.all(
        delivered.slice(i, i + 4).map((f, k) =>
          envs[(i + k * 7) % envs.length]!.process({ callId, receivedAt: Date.now() }, f).catch((e) => {
            if (!(e instanceof ProtocolError)) throw e;
          }),
        ),
      );
    }
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind])).toEqual([
      [1, 'greeting'],
      [2, 'speech'],
      [3, 'speech'],
    ]);
    // Every speech frame of each utterance reached its turn, in order, despite duplicates and reordering.
    expect(w.stt.calls).toEqual([600, 1000]);
    expect(turns[1]).toMatchObject({ fromChunk: 11, toChunk: 40, transcript: 'utterance of 600 ms', status: 'completed' });
    expect(turns[2]).toMatchObject({ fromChunk: 81, toChunk: 130 });
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
    expect((await w.store.getCall(callId))?.turnCount).toBe(3);
  });

  it('finds the end of an utterance even when the environment that saw the speech never sees the silence', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const [a, b] = [w.environment(), w.environment()];
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [60, '.']));
    for (const f of frames) {
      const env = f.media.chunk <= 30 ? a : b; // a hears all the speech, b only the silence after it
      await env.process({ callId, receivedAt: Date.now() }, f);
    }
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => t.kind)).toEqual(['greeting', 'speech']);
    expect(w.telemetry.counts.get('EndpointPolls')).toBeGreaterThan(0);
  });

  it('stores nothing for silence: the hot path costs no DynamoDB request per silent frame', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    const frames = stream(streamSid, layout([100, '.']));
    await env.process({ callId, receivedAt: Date.now() }, frames[0]!); // first frame reads the call into the cache
    const before = table.requests();
    for (const f of frames.slice(1, 60)) await env.process({ callId, receivedAt: Date.now() }, f);
    expect(table.requests() - before).toBe(0);
  });

  it('defers the endpoint while frames are handled late, and closes it once they are not', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [60, '.']));
    for (const f of frames.slice(0, 60)) {
      // The silent frames after the speech (400 ms of silence is reached at chunk 51) reach the handler 500 ms late.
      const lagging = f.media.chunk > 30;
      await env.process({ callId, receivedAt: Date.now() - (lagging ? 500 : 0) }, f);
    }
    expect((await w.store.listTurns(callId)).map((t) => t.kind)).toEqual(['greeting']);
    expect(w.telemetry.counts.get('EndpointsDeferred')).toBeGreaterThan(0);
    await env.process({ callId, receivedAt: Date.now() }, frames[60]!); // caught up
    expect((await w.store.listTurns(callId)).map((t) => t.kind)).toEqual(['greeting', 'speech']);
  });

  it('stops deferring after endpointMaxDeferMs of extra silence', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    for (const f of stream(streamSid, layout([5, '.'], [25, 's'], [90, '.']))) {
      await env.process({ callId, receivedAt: Date.now() - (f.media.chunk > 30 ? 500 : 0) }, f);
    }
    expect((await w.store.listTurns(callId)).map((t) => t.kind)).toEqual(['greeting', 'speech']);
  });

  it('treats a short noise as no turn', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    for (const f of stream(streamSid, layout([5, '.'], [3, 's'], [40, '.']))) await env.process({ callId, receivedAt: Date.now() }, f);
    expect((await w.store.listTurns(callId)).map((t) => t.kind)).toEqual(['greeting']);
    expect(w.telemetry.counts.get('TurnsIgnored')).toBe(1);
  });
});

describe('racing claims', () => {
  it('lets exactly one of ten concurrent claims of the same endpoint win', async () => {
    const w = world();
    const { callId } = await startedCall(w);
    const results = await Promise.all(Array.from({ length: 10 }, (_, i) => w.store.claimEndpoint(callId, 0, 50 + i, true)));
    expect(results.filter(Boolean)).toHaveLength(1);
    expect((await w.store.getCall(callId))?.turnCount).toBe(2);
  });

  it('counts a duplicated DTMF message once', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const msg = { event: 'dtmf' as const, sequenceNumber: 7, streamSid, dtmf: { track: 'inbound_track', digit: '0' } };
    await Promise.all([w.calls.dtmf(callId, msg, Date.now()), w.calls.dtmf(callId, msg, Date.now())]);
    const turns = await w.store.listTurns(callId);
    expect(turns.filter((t) => t.kind === 'dtmf')).toHaveLength(1);
    expect(turns.find((t) => t.kind === 'dtmf')?.intent).toMatch(/transfer/);
  });
});

describe('barge-in', () => {
  it('clears the agent audio once when the caller talks over it', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    // The greeting's audio is "playing" (agent.untilMs in the future) until its end mark comes back.
    expect((await w.store.getCall(callId))?.agent?.turn).toBe(1);
    const envs = [w.environment(), w.environment()];
    const frames = stream(streamSid, layout([2, '.'], [20, 's']));
    // At a caller's pace: each environment checks for barge-in at most every 3 frames of wall time, so frames
    // replayed back to back on a fast machine could all pass before any check sees 200 ms of speech.
    for (const [i, f] of frames.entries()) {
      await envs[i % 2]!.process({ callId, receivedAt: Date.now() }, f);
      await new Promise((r) => setTimeout(r, 20));
    }
    expect(w.sender.events('clear')).toHaveLength(1);
    expect(w.telemetry.counts.get('BargeIns')).toBe(1);
    expect((await w.store.getCall(callId))?.agent).toBeUndefined();
  });
});

describe('preemptive generation', () => {
  const PREEMPT: MediaConfig = { ...CONFIG, preemptSilenceMs: 200 };

  /** Frames in real time (20 ms apart), each handled by the next environment without waiting for the previous. */
  async function realTime(w: ReturnType<typeof world>, callId: string, frames: MediaMessage[], envs: MediaProcessor[]) {
    const running: Promise<unknown>[] = [];
    for (const [i, f] of frames.entries()) {
      running.push(envs[i % envs.length]!.process({ callId, receivedAt: Date.now() }, f));
      await new Promise((r) => setTimeout(r, 20));
    }
    await Promise.all(running);
  }

  it('answers the utterance ahead of its endpoint and delivers that answer once the endpoint comes', async () => {
    const w = world(PREEMPT);
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment(), w.environment()];
    await realTime(w, callId, stream(streamSid, layout([5, '.'], [30, 's'], [40, '.'])), envs);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind, t.status])).toEqual([
      [1, 'greeting', 'completed'],
      [2, 'speech', 'completed'],
    ]);
    expect(turns[1]).toMatchObject({ transcript: 'utterance of 600 ms', fromChunk: 6, toChunk: 35 });
    // Transcribed once (by the speculation), and its audio was the turn's: nothing redone, nothing sent twice.
    expect(w.stt.calls).toEqual([600]);
    expect(w.telemetry.counts.get('TurnsPreempted')).toBe(1);
    expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBeUndefined();
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
    const call = await w.store.getCall(callId);
    expect(call).toMatchObject({ turnCount: 2, handoff: 35 });
    expect(call?.speculation).toBeUndefined();
  });

  it('discards the early answer unsent when the caller goes on speaking, and answers the whole utterance', async () => {
    const w = world(PREEMPT);
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment(), w.environment()];
    // A 300 ms pause (past the 200 ms preemption, short of the 400 ms endpoint) inside one utterance.
    await realTime(w, callId, stream(streamSid, layout([5, '.'], [20, 's'], [15, '.'], [20, 's'], [40, '.'])), envs);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind])).toEqual([
      [1, 'greeting'],
      [2, 'speech'],
    ]);
    // One turn with both halves: 800 ms of speech plus the 300 ms pause filled in.
    expect(turns[1]).toMatchObject({ fromChunk: 6, toChunk: 60, status: 'completed' });
    expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBeGreaterThanOrEqual(1);
    // The discarded early answer never reached the caller: one reply, one end mark for turn 2.
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
    expect(w.tts.texts.filter((t) => t.length > 0).length).toBeGreaterThan(0);
  });

  it('redoes the answer when a speech frame of the utterance arrived after the speculation read it', async () => {
    const w = world(PREEMPT);
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [30, 's'], [40, '.']));
    // Chunk 20 (speech) is delayed past the speculation point (speech ends at chunk 35; speculation at ~45) but
    // arrives before the endpoint (~55).
    const late = frames.splice(19, 1)[0]!;
    frames.splice(48, 0, late);
    await realTime(w, callId, frames, [w.environment(), w.environment(), w.environment()]);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
    // The turn heard all 30 frames (600 ms), not the 29 the speculation had.
    expect(w.stt.calls.at(-1)).toBe(600);
    expect(turns[1]).toMatchObject({ transcript: 'utterance of 600 ms', fromChunk: 6, toChunk: 35 });
    expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBeGreaterThanOrEqual(1);
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
  });

  it('delivers a hand-off that lands after the speculation last looked, instead of dropping the turn', async () => {
    // The race a saturated machine exposed: the speculation's polls all see the endpoint still open (here: every
    // poll answers from a snapshot taken before the endpoint), its deadline passes, and meanwhile the endpoint was
    // handed to it. Giving up on the deadline alone handed the turn to nobody.
    const w = world(PREEMPT);
    const snapshots = new Map<string, Awaited<ReturnType<DynamoCallStore['getEndpointState']>>>();
    const stalePolls = new Proxy(w.store, {
      get(target, prop, receiver) {
        if (prop !== 'getEndpointState') return Reflect.get(target, prop, receiver);
        return async (callId: string) => {
          if (!snapshots.has(callId)) snapshots.set(callId, await target.getEndpointState(callId));
          return snapshots.get(callId);
        };
      },
    });
    const env = () => new MediaProcessor(stalePolls, w.sender, new TurnRunner({ store: w.store, sender: w.sender, stt: w.stt, tts: w.tts, responder: frontDeskResponder, telemetry: w.telemetry, config: DEFAULT_TURN_CONFIG, now: Date.now }), w.telemetry, PREEMPT, Date.now);
    const { callId, streamSid } = await startedCall(w);
    await realTime(w, callId, stream(streamSid, layout([5, '.'], [30, 's'], [40, '.'])), [env(), env(), env()]);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind, t.status])).toEqual([
      [1, 'greeting', 'completed'],
      [2, 'speech', 'completed'],
    ]);
    expect(snapshots.get(callId)?.lastEndpointChunk).toBe(0); // every poll really saw the endpoint open
    expect(w.telemetry.counts.get('TurnsPreempted')).toBe(1);
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
  });

  it('runs the turn the ordinary way when the speculating environment never hands it over in time', async () => {
    const w = world({ ...PREEMPT, speculationSlackMs: -10_000 }); // every speculation has expired before the endpoint
    const { callId, streamSid } = await startedCall(w);
    await realTime(w, callId, stream(streamSid, layout([5, '.'], [30, 's'], [40, '.'])), [w.environment(), w.environment()]);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
    expect(w.telemetry.counts.get('TurnsPreempted')).toBeUndefined();
  });
});

