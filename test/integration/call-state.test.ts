/**
 * Call state under Lambda's realities: frames of one call handled by different environments (separate warm
 * caches), at the same time, duplicated and out of order — against a real DynamoDB API (dynalite).
 */
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { fromPcm16, silence } from '../../functions/domain/audio';
import { wireCall, type CallDeps } from '../../functions/domain/call/wiring';
import { crossesTick, DEFAULT_MEDIA_CONFIG, MediaProcessor, type MediaConfig, type MediaContext } from '../../functions/domain/call/media-processor';
import type { PhoneLine } from '../../functions/domain/call/model';
import { DEFAULT_TURN_CONFIG } from '../../functions/domain/call/turn-runner';
import { parseMessage, ProtocolError, StartMessage, type MediaMessage } from '../../functions/domain/protocol';
import { frontDeskResponder } from '../../functions/domain/responder';
import { TELEPHONY_FORMAT } from '../../functions/contracts/audio-format';
import { DEFAULT_ENDPOINTING } from '../../functions/contracts/turn-policy';
import { startTestTable, type TestTable } from '../support/dynamo';
import { LengthSpeechToText, MemoryTelemetry, RecordingSender, ToneTextToSpeech } from '../support/fakes';

// Endpointing in isolation; preemptive generation has its own tests below.
const CONFIG: MediaConfig = { ...DEFAULT_ENDPOINTING, ...DEFAULT_MEDIA_CONFIG, preemptSilenceMs: 0 };
const speechFrame = fromPcm16(Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin((2 * Math.PI * 300 * i) / 8000))), TELEPHONY_FORMAT);
const silentFrame = silence(20, TELEPHONY_FORMAT);

let table: TestTable;
beforeAll(async () => {
  table = await startTestTable();
});
afterAll(async () => table.close());

function world(config: MediaConfig = CONFIG, phoneLine?: PhoneLine, stt = new LengthSpeechToText()) {
  const store = new DynamoCallStore(table.tableName, table.client);
  const sender = new RecordingSender();
  const tts = new ToneTextToSpeech();
  const telemetry = new MemoryTelemetry();
  const now = () => Date.now();
  const wired = (deps: Partial<CallDeps> = {}) =>
    wireCall({ store, sender, stt, tts, responder: frontDeskResponder, telemetry, turnConfig: DEFAULT_TURN_CONFIG, mediaConfig: config, now, phoneLine, ...deps });
  const { calls, turns } = wired();
  /** An "execution environment": its own services and warm cache. */
  const environment = () => wired().media;
  return { store, sender, stt, tts, telemetry, calls, turns, environment };
}

let callNo = 0;
/** A started call; `phoneCall`: a Twilio stream (signed and ticketed), whose callSid a transfer may redirect. */
async function startedCall(w: ReturnType<typeof world>, phoneCall = false) {
  const callId = `call-${++callNo}-${Date.now()}`;
  const streamSid = `MZ${callNo}`;
  await w.calls.connect(callId, `conn-${callNo}`);
  const start = parseMessage(
    StartMessage,
    JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid, start: { streamSid, callSid: `CA${callNo}`, customParameters: { voiceAgentEvents: 'true' } } }),
  );
  await w.calls.start(callId, start, Date.now(), { phoneCall });
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

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

/** Frames in real time (20 ms apart), each handled by the next environment without waiting for the previous. */
async function realTime(callId: string, frames: MediaMessage[], envs: MediaProcessor[], connection: Partial<MediaContext> = {}) {
  const running: Promise<unknown>[] = [];
  for (const [i, f] of frames.entries()) {
    running.push(envs[i % envs.length]!.process({ ...connection, callId, receivedAt: Date.now() }, f));
    await sleep(20);
  }
  await Promise.all(running);
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

  it('checks an environment\'s first frame of a call before it has any effect: a tick by its own read, a speech frame between ticks by one GetItem, silence between ticks not at all', async () => {
    const w = world();
    await w.calls.connect('declared', 'conn-declared');
    const connection = { declaredFormat: TELEPHONY_FORMAT, connectedAt: Date.now() };
    const frames = stream('MZdeclared', layout([12, '.']));
    const speaking = stream('MZdeclared', layout([12, 's']));
    const ops = () => table.counts();
    // Before start, silence between ticks: it would store nothing and read nothing later either, so it costs nothing now.
    const quiet = table.requests();
    await expect(w.environment().process({ ...connection, callId: 'declared', receivedAt: Date.now() }, frames[3]!)).resolves.toBe('handled');
    expect(table.requests()).toBe(quiet);
    // Speech between ticks would be stored: it reads the call once first, and is refused…
    const getsBefore = ops().GetItem?.requests ?? 0;
    const putsBeforeStart = ops().PutItem?.requests ?? 0;
    await expect(w.environment().process({ ...connection, callId: 'declared', receivedAt: Date.now() }, speaking[3]!)).rejects.toThrow('media before start');
    expect((ops().GetItem?.requests ?? 0) - getsBefore).toBeGreaterThanOrEqual(1);
    expect((ops().PutItem?.requests ?? 0) - putsBeforeStart).toBe(0);
    // …and so is a tick, by its read.
    const env = w.environment();
    await expect(env.process({ ...connection, callId: 'declared', receivedAt: Date.now() }, frames[10]!)).rejects.toThrow('media before start');
    // A start whose format differs from the declared one is refused: frames are decoded in the declared format.
    const pcm = parseMessage(
      StartMessage,
      JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid: 'MZdeclared', start: { streamSid: 'MZdeclared', mediaFormat: { encoding: 'audio/l16', sampleRate: 16000, channels: 1 } } }),
    );
    await expect(w.calls.start('declared', pcm, Date.now(), { declaredFormat: TELEPHONY_FORMAT })).rejects.toThrow('start.mediaFormat does not match the format declared at connect (mulaw)');
    const mulaw = parseMessage(StartMessage, JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid: 'MZdeclared', start: { streamSid: 'MZdeclared' } }));
    await w.calls.start('declared', mulaw, Date.now(), { declaredFormat: TELEPHONY_FORMAT });
    // The refusing environment kept nothing of the not-yet-started call: its next frame is taken.
    await expect(env.process({ ...connection, callId: 'declared', receivedAt: Date.now() }, frames[11]!)).resolves.toBe('handled');
    // A fresh environment whose first frame is a tick reads nothing but the tick: one request.
    const before = table.requests();
    await expect(w.environment().process({ ...connection, callId: 'declared', receivedAt: Date.now() }, frames[10]!)).resolves.toBe('handled');
    expect(table.requests() - before).toBe(1);
    // Another stream's frame is refused in a fresh environment, tick or speech: nothing of it is stored.
    const foreign = stream('MZforeign', layout([12, 's']));
    const foreignSilent = stream('MZforeign', layout([12, '.']));
    const putsBefore = ops().PutItem?.requests ?? 0;
    for (const f of [foreign[3]!, foreign[10]!, foreignSilent[10]!]) {
      await expect(w.environment().process({ ...connection, callId: 'declared', receivedAt: Date.now() }, f)).rejects.toThrow('streamSid does not match the call');
    }
    expect((ops().PutItem?.requests ?? 0) - putsBefore).toBe(0);
  });

  // Found by bad-input-properties (a fresh-clone CI): a fresh environment took another stream's frame, far ahead of real
  // time, for the call's own, and its limit ended the call that frame named.
  it('a frame far ahead of real time ends the call only once it is known to be the call\'s own: another stream\'s is refused', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const connection = { declaredFormat: TELEPHONY_FORMAT, connectedAt: Date.now() };
    // Between ticks (10,000,050 ms is not a 200 ms boundary of 20 ms frames), silent or speech.
    const ahead = (sid: string, kind: 's' | '.'): MediaMessage => {
      const [f] = stream(sid, [kind]);
      return { ...f!, media: { ...f!.media, chunk: 500_003, timestamp: 10_000_050 } };
    };
    expect(crossesTick(10_000_050, 20, CONFIG.tickMs)).toBe(false);
    for (const kind of ['.', 's'] as const) {
      await expect(w.environment().process({ ...connection, callId, receivedAt: Date.now() }, ahead('MZforeign', kind))).rejects.toThrow('streamSid does not match the call');
    }
    // A malformed frame of another stream is refused for the stream first, as an environment that read the call would.
    const [empty] = stream('MZforeign', ['.']);
    const foreignEmpty = { ...empty!, media: { ...empty!.media, chunk: 4, timestamp: 60, payload: '' } };
    await expect(w.environment().process({ ...connection, callId, receivedAt: Date.now() }, foreignEmpty)).rejects.toThrow('streamSid does not match the call');
    expect((await w.store.getCall(callId))?.status).toBe('streaming');
    // The call's own frame that far ahead is the limit, in a fresh environment too.
    await expect(w.environment().process({ ...connection, callId, receivedAt: Date.now() }, ahead(streamSid, '.'))).resolves.toBe('faster-than-real-time');
  });

  it('refuses media after stop at the next tick in an environment whose cache still says streaming', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    const frames = stream(streamSid, layout([40, '.']));
    for (const f of frames.slice(0, 5)) await env.process({ callId, receivedAt: Date.now() }, f);
    await w.calls.stop(callId, { event: 'stop', sequenceNumber: 99, streamSid });
    // Between ticks a stale environment learns nothing (no environment reads on a clock of its own): its silent frame
    // costs nothing and changes nothing.
    const before = table.requests();
    await expect(env.process({ callId, receivedAt: Date.now() }, frames[6]!)).resolves.toBe('handled');
    expect(table.requests()).toBe(before);
    // The frame that crosses the next 200 ms of stream time reads the call, whichever environment handles it.
    await expect(env.process({ callId, receivedAt: Date.now() }, frames[10]!)).rejects.toThrow('media after stop');
    await expect(env.process({ callId, receivedAt: Date.now() }, frames[11]!)).rejects.toThrow('media after stop');
    // A fresh environment reads the call on its first frame.
    await expect(w.environment().process({ callId, receivedAt: Date.now() }, frames[12]!)).rejects.toThrow('media after stop');
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
    expect(w.telemetry.counts.get('EndpointsOverdue')).toBeUndefined();
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
    expect(turns[1]).toMatchObject({ fromChunk: 6, toChunk: 30, speechMs: 500 });
  });

  it('costs a silent frame no request, and a tick one read, whichever environment handles it', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    const frames = stream(streamSid, layout([100, '.']));
    await env.process({ callId, receivedAt: Date.now() }, frames[0]!); // this environment's first frame reads the call
    const before = table.requests();
    const queriesBefore = table.counts().Query?.requests ?? 0;
    for (const f of frames.slice(1, 60)) await env.process({ callId, receivedAt: Date.now() }, f);
    // Chunks 2–60 are 20 ms to 1180 ms of stream time: the ticks are the frames at tickMs, 2 × tickMs, … (200 ms: 5).
    const ticks = Math.floor(1180 / CONFIG.tickMs);
    expect(ticks).toBe(5);
    expect((table.counts().Query?.requests ?? 0) - queriesBefore).toBe(ticks);
    expect(table.requests() - before).toBe(ticks);
  });

  it('costs a call the same requests whether one environment handles it or eight', async () => {
    const requestsWith = async (environments: number, declared: boolean) => {
      const w = world();
      const { callId, streamSid } = await startedCall(w);
      const envs = Array.from({ length: environments }, () => w.environment());
      const frames = stream(streamSid, layout([10, '.'], [30, 's'], [40, '.'], [50, 's'], [40, '.']));
      const before = structuredClone(table.counts());
      await realTime(callId, frames, envs, declared ? { declaredFormat: TELEPHONY_FORMAT, connectedAt: Date.now() } : {});
      const after = structuredClone(table.counts());
      const turns = await w.store.listTurns(callId);
      const diff = Object.fromEntries(Object.entries(after).map(([op, c]) => [op, c.requests - (before[op]?.requests ?? 0)]));
      return { turns: turns.map((t) => t.kind), diff };
    };
    // A connection that declared its format (Twilio's always does: μ-law): no environment reads the call but on ticks,
    // and once before the first speech frame it would store between ticks if no tick of its own came first — a cost
    // per environment and call, once, never per frame. Which environments pay it follows from the round-robin.
    const one = await requestsWith(1, true);
    const eight = await requestsWith(8, true);
    expect(one.turns).toEqual(['greeting', 'speech', 'speech']);
    expect(eight.turns).toEqual(one.turns);
    const kinds = layout([10, '.'], [30, 's'], [40, '.'], [50, 's'], [40, '.']);
    const firstLooks = Array.from({ length: 8 }, (_, e) => {
      const first = kinds.findIndex((k, i) => i % 8 === e && (crossesTick(i * 20, 20, CONFIG.tickMs) || k === 's'));
      return first >= 0 && !crossesTick(first * 20, 20, CONFIG.tickMs) ? 1 : 0;
    }).reduce((a: number, b) => a + b, 0);
    expect(firstLooks).toBeGreaterThan(0); // the layout does exercise it
    expect(firstLooks).toBeLessThan(7);
    // One environment that handles a speech frame and the silent frame 40 ms after it reads at once (speechEndTickMs):
    // one read per utterance end, where the call is not spread. Eight never see both frames: the ticks alone. More
    // environments never cost more.
    const speechEnds = 2;
    expect(eight.diff).toEqual({ ...one.diff, GetItem: (one.diff.GetItem ?? 0) + firstLooks, Query: one.diff.Query! - speechEnds });
    // One that did not declare it: each environment reads the call once, on its first frame of it, tick or not.
    const undeclared = await requestsWith(8, false);
    expect(undeclared.turns).toEqual(one.turns);
    expect(undeclared.diff).toEqual({ ...one.diff, GetItem: (one.diff.GetItem ?? 0) + 8, Query: one.diff.Query! - speechEnds });
  }, 30_000);

  it('a watcher whose own frame reached it late waits as long again, so the last words behind it are heard', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [40, '.']));
    // Speech ends at chunk 30 (600 ms); the watch tick is chunk 41 (800 ms: 200 ms of silence). It reaches its handler
    // 300 ms after the gateway received it, and the last speech frame is stored only after the endpoint was due on the
    // wall clock — but 150 ms before the watcher, waiting as long again as its own frame was late, looks.
    const lastSpeech = frames[29]!;
    const envs = [w.environment(), w.environment()];
    const running: Promise<unknown>[] = [];
    for (const [i, f] of frames.entries()) {
      if (f === lastSpeech) continue;
      const lag = f.media.chunk === 41 ? 300 : 0;
      running.push(envs[i % 2]!.process({ callId, receivedAt: Date.now() - lag, startedAt: Date.now() }, f));
      if (f.media.chunk === 41) setTimeout(() => running.push(envs[0]!.process({ callId, receivedAt: Date.now() - 450 }, lastSpeech)), 50);
      await sleep(20);
    }
    await sleep(300);
    await Promise.all(running);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => t.kind)).toEqual(['greeting', 'speech']);
    expect(turns[1]).toMatchObject({ toChunk: 30, speechMs: 500 });
    expect(w.stt.calls).toEqual([500]); // heard whole the first time: nothing merged late, nothing redone
    expect(w.telemetry.counts.get('LateFramesMerged')).toBeUndefined();
    expect(w.telemetry.counts.get('EndpointsOverdue')).toBeUndefined();
  }, 10_000);

  it('a watcher that looks late, after the next utterance began, still closes its own utterance at its end', async () => {
    const w = world();
    // The watcher's read of the utterance takes 600 ms (a stalled environment): by the time it sees the table, the
    // caller has finished the 400 ms of silence and started the next utterance.
    const slow = new Proxy(w.store, {
      get(target, prop, receiver) {
        if (prop === 'framesBetween') return async (...args: Parameters<typeof target.framesBetween>) => (await sleep(600), target.framesBetween(...args));
        return Reflect.get(target, prop, receiver);
      },
    });
    // Only this environment's frame path is slow: its turns run on the healthy store, as before.
    const stalled = new MediaProcessor({ store: slow, sender: w.sender, turns: w.turns, telemetry: w.telemetry, config: CONFIG, now: Date.now });
    const live = w.environment();
    const { callId, streamSid } = await startedCall(w);
    // 500 ms of speech, 500 ms of silence, 500 ms of speech: two utterances.
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [25, '.'], [25, 's'], [40, '.']));
    const running: Promise<unknown>[] = [];
    for (const f of frames) {
      running.push((f.media.chunk === 41 ? stalled : live).process({ callId, receivedAt: Date.now() }, f));
      await sleep(20);
    }
    await Promise.all(running);
    const done = await w.store.listTurns(callId);
    expect(done.map((t) => [t.kind, t.fromChunk, t.toChunk])).toEqual([
      ['greeting', undefined, undefined],
      ['speech', 6, 30],
      ['speech', 56, 80],
    ]);
  }, 10_000);

  it('treats a short noise as no turn', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    const env = w.environment();
    for (const f of stream(streamSid, layout([5, '.'], [3, 's'], [40, '.']))) await env.process({ callId, receivedAt: Date.now() }, f);
    expect((await w.store.listTurns(callId)).map((t) => t.kind)).toEqual(['greeting']);
    expect(w.telemetry.counts.get('TurnsIgnored')).toBe(1);
  });
});

describe('late speech frames', () => {
  /** A recognizer that takes `ms` per utterance, so a frame can land while it works. */
  const slowStt = (w: ReturnType<typeof world>, ms: number) => {
    const transcribe = w.stt.transcribe.bind(w.stt);
    w.stt.transcribe = async (audio, format) => {
      await sleep(ms);
      return transcribe(audio, format);
    };
  };

  it('merges a frame delayed past the endpoint while nothing has been sent: the turn is answered on the whole utterance', async () => {
    const w = world();
    slowStt(w, 300);
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [40, '.']));
    const late = frames.splice(14, 1)[0]!; // chunk 15, in the middle of the utterance
    const envs = [w.environment(), w.environment(), w.environment()];
    const running: Promise<unknown>[] = [];
    for (const [i, f] of frames.entries()) {
      running.push(envs[i % 3]!.process({ callId, receivedAt: Date.now() }, f));
      await sleep(20);
      // It arrives once the endpoint was claimed (at ~1020 ms of stream time: 400 ms of silence and the 20 ms grace) and
      // transcription (300 ms here) has begun.
      if (f.media.chunk === 57) running.push(envs[0]!.process({ callId, receivedAt: Date.now() }, late));
    }
    await Promise.all(running);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.kind, t.status])).toEqual([
      ['greeting', 'completed'],
      ['speech', 'completed'],
    ]);
    // Transcribed without it (its 20 ms filled with silence), then again with it.
    expect(w.stt.calls).toHaveLength(2);
    expect(turns[1]).toMatchObject({ transcript: 'utterance of 500 ms', speechMs: 500, fromChunk: 6, toChunk: 30 });
    expect(w.telemetry.counts.get('LateFramesMerged')).toBe(1);
    expect(w.telemetry.counts.get('LateFrames')).toBeUndefined();
    // Answering again is not a provider failure: nothing counted as one, no synthesis opened a second time for it.
    expect(w.telemetry.counts.get('ProviderErrors')).toBeUndefined();
    expect(w.telemetry.counts.get('ProviderRetries')).toBeUndefined();
    // The first answer never reached the caller: one end mark, and the first audio came after the merge.
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
  }, 10_000);

  it('merges a frame that arrives while the whole utterance is being transcribed again: every answer looks before its first audio', async () => {
    const w = world();
    slowStt(w, 500);
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [70, '.']));
    const [first, second] = [frames[14]!, frames[24]!]; // chunks 15 and 25, both inside the utterance
    frames.splice(24, 1);
    frames.splice(14, 1);
    const envs = [w.environment(), w.environment(), w.environment()];
    const running: Promise<unknown>[] = [];
    for (const [i, f] of frames.entries()) {
      running.push(envs[i % 3]!.process({ callId, receivedAt: Date.now() }, f));
      await sleep(20);
      // The endpoint is claimed at ~1020 ms of stream time and transcribed until ~1520 ms (500 ms here): chunk 15 comes
      // during that and makes the turn answer again; chunk 25 comes during the second transcription (~1520–2020 ms).
      if (f.media.chunk === 57) running.push(envs[0]!.process({ callId, receivedAt: Date.now() }, first));
      if (f.media.chunk === 89) running.push(envs[1]!.process({ callId, receivedAt: Date.now() }, second));
    }
    await Promise.all(running);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.kind, t.status])).toEqual([
      ['greeting', 'completed'],
      ['speech', 'completed'],
    ]);
    expect(w.stt.calls).toHaveLength(3); // without chunks 15 and 25, without chunk 25, whole
    expect(turns[1]).toMatchObject({ transcript: 'utterance of 500 ms', speechMs: 500, fromChunk: 6, toChunk: 30 });
    expect(w.telemetry.counts.get('LateFramesMerged')).toBe(2);
    expect(w.telemetry.counts.get('LateFrames')).toBeUndefined();
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
  }, 15_000);

  it('counts a frame that arrives after the answer began as lost (LateFrames), and the call goes on', async () => {
    const w = world();
    // Each chunk of synthesized audio takes 200 ms: the turn is still answering when the late frame lands.
    const synthesize = w.tts.synthesize.bind(w.tts);
    w.tts.synthesize = async function* (text, format) {
      for await (const chunk of synthesize(text, format)) {
        yield chunk;
        await sleep(200);
      }
    };
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [25, 's'], [40, '.'], [25, 's'], [40, '.']));
    const late = frames.splice(14, 1)[0]!;
    const envs = [w.environment(), w.environment()];
    const running: Promise<unknown>[] = [];
    for (const [i, f] of frames.entries()) {
      running.push(envs[i % 2]!.process({ callId, receivedAt: Date.now() }, f));
      await sleep(20);
      // Turn 2 was claimed at ~1020 ms of stream time and its first audio sent at once (the recognizer is instant).
      if (f.media.chunk === 58) running.push(envs[0]!.process({ callId, receivedAt: Date.now() }, late));
    }
    await Promise.all(running);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => t.kind)).toEqual(['greeting', 'speech', 'speech']);
    expect(turns[1]).toMatchObject({ speechMs: 480, toChunk: 30 });
    expect(turns[2]).toMatchObject({ speechMs: 500, fromChunk: 71 });
    expect(w.telemetry.counts.get('LateFrames')).toBe(1);
  }, 10_000);
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

describe('the end of a turn', () => {
  const opsOf = () => Object.fromEntries(Object.entries(table.counts()).map(([op, c]) => [op, c.requests]));
  const diff = (before: Record<string, number>) => Object.fromEntries(Object.entries(opsOf()).map(([op, n]) => [op, n - (before[op] ?? 0)]).filter(([, n]) => n !== 0));
  const record = (turn: number) => ({ turn, kind: 'dtmf' as const, status: 'completed' as const, timings: { endpointAt: Date.now() } });

  it('writes the call once when a turn ends while its audio plays, and settles its end mark in one write of the call', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    await w.calls.mark(callId, { event: 'mark', sequenceNumber: 3, streamSid, mark: { name: 't1-end' } }); // the greeting played
    const claimed = await w.store.claimDtmfTurn(callId, 4);
    expect(claimed?.turnCount).toBe(2);
    await w.store.setAgentSpeaking(callId, 2, Date.now() + 60_000);
    const until = Date.now() + 1_500;
    let before = opsOf();
    await w.store.finishTurn(callId, record(2), { dialog: { step: 'two' } as never, agentUntilMs: until });
    expect(diff(before)).toEqual({ PutItem: 1, UpdateItem: 1 });
    expect(await w.store.getCall(callId)).toMatchObject({ dialog: { step: 'two' }, dialogTurn: 2, agent: { turn: 2, untilMs: until } });
    before = opsOf();
    await w.calls.mark(callId, { event: 'mark', sequenceNumber: 5, streamSid, mark: { name: 't2-end' } });
    expect(diff(before)).toEqual({ UpdateItem: 2 }); // the call (checked and cleared in one write), the turn's playedAt
    expect((await w.store.getCall(callId))?.agent).toBeUndefined();
    expect((await w.store.getTurn(callId, 2))?.timings.playedAt).toBeDefined();
  });

  it('keeps a barged-in turn\'s dialog state without bringing its audio back, and refuses a bad end mark before it changes anything', async () => {
    const w = world();
    const { callId, streamSid } = await startedCall(w);
    await w.store.claimDtmfTurn(callId, 4);
    await w.store.setAgentSpeaking(callId, 2, Date.now() + 60_000);
    expect(await w.store.claimBargeIn(callId, 2)).toBe(true);
    await w.store.finishTurn(callId, record(2), { dialog: { step: 'barged' } as never, agentUntilMs: Date.now() + 1_500 });
    const call = await w.store.getCall(callId);
    expect(call).toMatchObject({ dialog: { step: 'barged' }, dialogTurn: 2 });
    expect(call?.agent).toBeUndefined();
    // An older turn finishing late changes neither.
    await w.store.finishTurn(callId, record(1), { dialog: { step: 'older' } as never, agentUntilMs: Date.now() + 1_500 });
    expect(await w.store.getCall(callId)).toMatchObject({ dialog: { step: 'barged' }, dialogTurn: 2 });
    // The barged turn's end mark still records when its audio stopped; another stream's end mark is refused and records nothing.
    await w.calls.mark(callId, { event: 'mark', sequenceNumber: 5, streamSid, mark: { name: 't2-end' } });
    expect((await w.store.getTurn(callId, 2))?.timings.playedAt).toBeDefined();
    await expect(w.calls.mark(callId, { event: 'mark', sequenceNumber: 6, streamSid: 'MZother', mark: { name: 't1-end' } })).rejects.toThrow('streamSid does not match the call');
    expect((await w.store.getTurn(callId, 1))?.timings.playedAt).toBeUndefined();
  });
});

describe('transfer to a person (a phone call)', () => {
  /** The phone network as the domain sees it (its Twilio adapter has its own contract test against the stand-in). */
  class Line implements PhoneLine {
    readonly transfers: string[] = [];
    constructor(
      readonly can: boolean,
      readonly fails = false,
    ) {}
    async canTransfer() {
      return this.can;
    }
    async transfer(callSid: string) {
      this.transfers.push(callSid);
      if (this.fails) throw new Error('Twilio refused: 404 (code 20404)');
    }
  }
  const pressZero = (w: ReturnType<typeof world>, callId: string, streamSid: string) =>
    w.calls.dtmf(callId, { event: 'dtmf', sequenceNumber: 3, streamSid, dtmf: { digit: '0' } } as never, Date.now());
  const endMark = (w: ReturnType<typeof world>, callId: string, streamSid: string, turn: number, seq: number) =>
    w.calls.mark(callId, { event: 'mark', sequenceNumber: seq, streamSid, mark: { name: `t${turn}-end` } });

  it('once the "connecting you" line has played, hands the call over once (a duplicated end mark too) and ends it', async () => {
    const line = new Line(true);
    const w = world(CONFIG, line);
    const { callId, streamSid } = await startedCall(w, true);
    await pressZero(w, callId, streamSid);
    expect((await w.store.getTurn(callId, 2))?.reply).toMatch(/connect you with a member of our team/);
    expect(line.transfers).toEqual([]); // not while the line is still playing
    await Promise.all([endMark(w, callId, streamSid, 2, 4), endMark(w, callId, streamSid, 2, 5)]);
    const call = await w.store.getCall(callId);
    expect(line.transfers).toEqual([call!.callSid]);
    expect(call).toMatchObject({ status: 'ended', endReason: 'transfer' });
    expect(w.sender.closed).toEqual([call!.connectionId]);
    expect(w.telemetry.counts.get('Transfers')).toBe(1);
  });

  it('when Twilio refuses, counts it and ends the call cleanly', async () => {
    const w = world(CONFIG, new Line(true, true));
    const { callId, streamSid } = await startedCall(w, true);
    await pressZero(w, callId, streamSid);
    await endMark(w, callId, streamSid, 2, 4);
    expect(await w.store.getCall(callId)).toMatchObject({ status: 'ended', endReason: 'transfer-failed' });
    expect(w.telemetry.counts.get('TransferFailures')).toBe(1);
    expect(w.sender.closed).toHaveLength(1);
  });

  it('a caller that is not a Twilio stream names any callSid it likes: it is not kept, nothing is redirected', async () => {
    const line = new Line(true);
    const w = world(CONFIG, line);
    const { callId, streamSid } = await startedCall(w, false);
    expect((await w.store.getCall(callId))?.callSid).toBeUndefined();
    await pressZero(w, callId, streamSid);
    await endMark(w, callId, streamSid, 2, 4);
    expect(line.transfers).toEqual([]);
    // The client is told instead (it asked for events), and the call ends as the agent said.
    expect(w.sender.events('voiceagent.transfer')).toHaveLength(1);
    expect(await w.store.getCall(callId)).toMatchObject({ status: 'ended', endReason: 'transfer' });
  });

  it('on a line that cannot transfer, the agent says so and the call goes on', async () => {
    const line = new Line(false);
    const w = world(CONFIG, line);
    const { callId, streamSid } = await startedCall(w, true);
    await pressZero(w, callId, streamSid);
    expect(await w.store.getTurn(callId, 2)).toMatchObject({ intent: 'transfer', reply: expect.stringMatching(/can't connect you/) });
    await endMark(w, callId, streamSid, 2, 4);
    const call = await w.store.getCall(callId);
    expect(call).toMatchObject({ status: 'streaming' });
    expect(call?.pendingAction).toBeUndefined();
    expect(line.transfers).toEqual([]);
    expect(w.sender.closed).toEqual([]);
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
  // With the fixed silence: the end of turn by the words has its own tests below.
  const PREEMPT: MediaConfig = { ...CONFIG, preemptSilenceMs: 200, endOfTurn: 'fixed' };

  it('answers the utterance ahead of its endpoint and delivers that answer once the endpoint comes', async () => {
    const w = world(PREEMPT);
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment(), w.environment()];
    await realTime(callId, stream(streamSid, layout([5, '.'], [30, 's'], [40, '.'])), envs);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind, t.status])).toEqual([
      [1, 'greeting', 'completed'],
      [2, 'speech', 'completed'],
    ]);
    expect(turns[1]).toMatchObject({ transcript: 'utterance of 600 ms', fromChunk: 6, toChunk: 35, preempted: true });
    // Transcribed once (by the watcher, before the endpoint), and its audio was the turn's: nothing redone or sent twice.
    expect(w.stt.calls).toEqual([600]);
    expect(w.telemetry.counts.get('TurnsPreempted')).toBe(1);
    expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBeUndefined();
    expect(w.telemetry.counts.get('EndpointsOverdue')).toBeUndefined();
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
    expect(await w.store.getCall(callId)).toMatchObject({ turnCount: 2, lastEndpointChunk: 55 });
  });

  it('discards the early answer unsent when the caller goes on speaking, and answers the whole utterance', async () => {
    const w = world(PREEMPT);
    const { callId, streamSid } = await startedCall(w);
    const envs = [w.environment(), w.environment(), w.environment()];
    // A 340 ms pause (past the 200 ms preemption, short of the 400 ms endpoint) inside one utterance: its watcher (the
    // tick at 600 ms) starts answering at 700 ms and finds the caller speaking again when the endpoint is due.
    await realTime(callId, stream(streamSid, layout([5, '.'], [20, 's'], [17, '.'], [20, 's'], [40, '.'])), envs);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind])).toEqual([
      [1, 'greeting'],
      [2, 'speech'],
    ]);
    // One turn with both halves: 800 ms of speech plus the pause filled in.
    expect(turns[1]).toMatchObject({ fromChunk: 6, toChunk: 62, speechMs: 800, status: 'completed' });
    expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBe(1);
    expect(w.telemetry.counts.get('EndpointWatchesAbandoned')).toBe(1);
    expect(w.stt.calls).toEqual([400, 1140]); // the first half, then both with the 340 ms pause between them
    // The discarded early answer never reached the caller: one reply, one end mark for turn 2.
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
  });

  it('redoes the answer when a speech frame of the utterance arrived after the speculation read it', async () => {
    const w = world(PREEMPT);
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [35, 's'], [40, '.']));
    // Speech ends at chunk 40 (800 ms); its watcher (the first silent tick, chunk 41) starts answering at 1000 ms (200 ms
    // of silence) and the endpoint is due at 1220 ms. Chunk 20 (speech) arrives in between, ~100 ms after the
    // speculation read the utterance.
    const late = frames.splice(19, 1)[0]!;
    frames.splice(54, 0, late);
    await realTime(callId, frames, [w.environment(), w.environment(), w.environment()]);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.status])).toEqual([
      [1, 'completed'],
      [2, 'completed'],
    ]);
    // The turn heard all 35 frames (700 ms), not the 34 the speculation had.
    expect(w.stt.calls).toHaveLength(2); // the speculation's (chunk 20 filled with silence), then the whole utterance's
    expect(turns[1]).toMatchObject({ transcript: 'utterance of 700 ms', fromChunk: 6, toChunk: 40, speechMs: 700 });
    expect(turns[1]?.preempted).toBeUndefined();
    expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBe(1);
    expect(w.sender.events('mark').filter((m) => m.mark.name === 't2-end')).toHaveLength(1);
  });

  it('closes the utterance from a later tick when its watcher dies', async () => {
    // The watch tick (chunk 41) is the watcher: no read at the end of speech in the environment that handled it.
    const config: MediaConfig = { ...PREEMPT, speechEndTickMs: 0 };
    const w = world(config);
    // The environment that handles the watch tick dies there, having reserved the watch: its read of the utterance
    // never returns.
    const dying = new Proxy(w.store, {
      get(target, prop, receiver) {
        if (prop === 'framesBetween') return () => new Promise(() => undefined);
        return Reflect.get(target, prop, receiver);
      },
    });
    const dead = new MediaProcessor({ store: dying, sender: w.sender, turns: w.turns, telemetry: w.telemetry, config, now: Date.now });
    const live = w.environment();
    const { callId, streamSid } = await startedCall(w);
    const frames = stream(streamSid, layout([5, '.'], [30, 's'], [110, '.']));
    const running: Promise<unknown>[] = [];
    for (const f of frames) {
      const handled = (f.media.chunk === 41 ? dead : live).process({ callId, receivedAt: Date.now() }, f);
      if (f.media.chunk !== 41) running.push(handled);
      await sleep(20);
    }
    await Promise.all(running);
    const done = await w.store.listTurns(callId);
    expect(done.map((t) => [t.turn, t.kind, t.status])).toEqual([
      [1, 'greeting', 'completed'],
      [2, 'speech', 'completed'],
    ]);
    expect(done[1]).toMatchObject({ fromChunk: 6, toChunk: 35 });
    // Closed by the first tick after the dead watcher's reservation ran out (its wake-up + 1.1 s), not at 400 ms.
    expect(w.telemetry.counts.get('EndpointsOverdue')).toBe(1);
    expect(done[1]!.timings.endpointAt - done[1]!.timings.speechEndAt!).toBeGreaterThanOrEqual(1400);
  });
});

describe('end of turn by the words', () => {
  // Preemption at the first frame of silence (the default with the vendors): the watcher transcribes the words as soon as
  // the caller pauses, and they decide how much silence ends the utterance.
  const EARLY: MediaConfig = { ...CONFIG, preemptSilenceMs: 20, endOfTurn: 'adaptive' };

  it('waits longer after words the responder cannot judge: a 600 ms pause does not cut them', async () => {
    const words = (ms: number) => (ms < 700 ? 'the weather is nice' : 'the weather is nice and warm');
    const w = world(EARLY, undefined, new LengthSpeechToText(words));
    const { callId, streamSid } = await startedCall(w);
    await realTime(callId, stream(streamSid, layout([5, '.'], [30, 's'], [30, '.'], [20, 's'], [60, '.'])), [w.environment(), w.environment()]);
    const speech = (await w.store.listTurns(callId)).filter((t) => t.kind === 'speech');
    expect(speech.map((t) => [t.fromChunk, t.toChunk])).toEqual([[6, 85]]);
    expect(speech[0]).toMatchObject({ endOfTurn: { heard: 'unsure', silenceMs: 700 } });
  });

  it('ends an utterance whose words sound finished after the shorter silence, and answers it', async () => {
    const w = world(EARLY, undefined, new LengthSpeechToText(() => 'what are your opening hours'));
    const { callId, streamSid } = await startedCall(w);
    await realTime(callId, stream(streamSid, layout([5, '.'], [30, 's'], [40, '.'])), [w.environment(), w.environment()]);
    const turns = await w.store.listTurns(callId);
    expect(turns.map((t) => [t.turn, t.kind, t.status])).toEqual([
      [1, 'greeting', 'completed'],
      [2, 'speech', 'completed'],
    ]);
    expect(turns[1]).toMatchObject({ preempted: true, intent: 'hours', endOfTurn: { silenceMs: 300, heard: 'complete' } });
    // The next utterance starts after 300 ms of silence (15 frames), not 400 (20).
    expect(await w.store.getCall(callId)).toMatchObject({ turnCount: 2, lastEndpointChunk: 35 + 15 });
    expect(w.telemetry.counts.get('EndpointsShortened')).toBe(1);
    expect(w.stt.calls).toEqual([600]);
  });

  for (const endOfTurn of ['adaptive', 'fixed'] as const) {
    it(`${endOfTurn === 'adaptive' ? 'waits through a 600 ms pause after words that stop mid-phrase: one turn' : 'with a fixed 400 ms silence, cuts the same caller off: two turns'}`, async () => {
      const words = (ms: number) => (ms < 700 ? 'i would like to book it for' : 'i would like to book it for tuesday at three');
      // (Fixed: a 400 ms silence, whatever the words; the same watcher transcribes at the first frame of silence.)
      const w = world({ ...EARLY, endOfTurn }, undefined, new LengthSpeechToText(words));
      const { callId, streamSid } = await startedCall(w);
      // 600 ms of speech, a 600 ms pause, 400 ms more, then silence.
      await realTime(callId, stream(streamSid, layout([5, '.'], [30, 's'], [30, '.'], [20, 's'], [60, '.'])), [w.environment(), w.environment()]);
      const speech = (await w.store.listTurns(callId)).filter((t) => t.kind === 'speech');
      if (endOfTurn === 'fixed') {
        expect(speech.map((t) => [t.fromChunk, t.toChunk])).toEqual([
          [6, 35],
          [66, 85],
        ]);
        return;
      }
      expect(speech.map((t) => [t.fromChunk, t.toChunk, t.status])).toEqual([[6, 85, 'completed']]);
      expect(speech[0]).toMatchObject({ transcript: 'i would like to book it for tuesday at three', endOfTurn: { heard: 'complete', silenceMs: 300 } });
      expect(w.telemetry.counts.get('EndpointsExtended')).toBe(1);
      expect(w.telemetry.counts.get('SpeculationsDiscarded')).toBe(1);
    });
  }

  it('without a transcript by the longest silence, judges the words unsure', async () => {
    // A recognizer slower than the longest end-of-turn silence (1 s): the watcher does not wait for it to decide.
    const slow = new LengthSpeechToText(() => 'what are your opening hours');
    const transcribe = slow.transcribe.bind(slow);
    slow.transcribe = async (audio, format) => {
      await sleep(1300);
      return transcribe(audio, format);
    };
    const w = world(EARLY, undefined, slow);
    const { callId, streamSid } = await startedCall(w);
    await realTime(callId, stream(streamSid, layout([5, '.'], [30, 's'], [90, '.'])), [w.environment(), w.environment()]);
    const speech = (await w.store.listTurns(callId)).filter((t) => t.kind === 'speech');
    expect(speech).toHaveLength(1);
    expect(speech[0]).toMatchObject({ status: 'completed', endOfTurn: { silenceMs: 700, heard: 'unsure' } });
    expect(await w.store.getCall(callId)).toMatchObject({ lastEndpointChunk: 35 + 35 });
  });

  it('does not take words for finished when speech-to-text was not sure of them', async () => {
    // What a misheard sentence looks like: words that match an intent, at a confidence a real recognizer gives garbage.
    const unsure = new LengthSpeechToText(() => 'can i change my appointment');
    const transcribe = unsure.transcribe.bind(unsure);
    unsure.transcribe = async (audio, format) => ({ ...(await transcribe(audio, format)), confidence: 0.05 });
    const w = world(EARLY, undefined, unsure);
    const { callId, streamSid } = await startedCall(w);
    await realTime(callId, stream(streamSid, layout([5, '.'], [30, 's'], [60, '.'])), [w.environment(), w.environment()]);
    const speech = (await w.store.listTurns(callId)).filter((t) => t.kind === 'speech');
    expect(speech.map((t) => t.endOfTurn)).toEqual([{ silenceMs: 700, heard: 'unsure' }]);
    expect(w.telemetry.counts.get('EndpointsShortened')).toBeUndefined();
  });
});

describe('the end of speech, seen up close (speechEndTickMs)', () => {
  // Ticks every second here, so which read found the pause is plain: the speech ends at chunk 35 (700 ms), the first
  // tick after it is chunk 51 (1,000 ms), the silent frame 40 ms after the speech is chunk 37.
  const SLOW_TICKS: MediaConfig = { ...CONFIG, preemptSilenceMs: 20, endOfTurn: 'adaptive', tickMs: 1000 };

  /** The frame being sent when speech-to-text was first asked (1-based), over `envs` environments round-robin. */
  async function transcribedAtFrame(config: MediaConfig, environments: number): Promise<number | undefined> {
    const stt = new LengthSpeechToText(() => 'what are your opening hours');
    let sent = 0;
    let firstAsked: number | undefined;
    const transcribe = stt.transcribe.bind(stt);
    stt.transcribe = async (audio, format) => {
      firstAsked ??= sent;
      return transcribe(audio, format);
    };
    const w = world(config, undefined, stt);
    const { callId, streamSid } = await startedCall(w);
    const envs = Array.from({ length: environments }, () => w.environment());
    const running: Promise<unknown>[] = [];
    for (const [i, f] of stream(streamSid, layout([5, '.'], [30, 's'], [60, '.'])).entries()) {
      sent = i + 1;
      running.push(envs[i % envs.length]!.process({ callId, receivedAt: Date.now() }, f));
      await sleep(20);
    }
    await Promise.all(running);
    const speech = (await w.store.listTurns(callId)).filter((t) => t.kind === 'speech');
    expect(speech.map((t) => [t.fromChunk, t.toChunk, t.status])).toEqual([[6, 35, 'completed']]);
    return firstAsked;
  }

  it('transcribes at 40 ms of silence when one environment saw the speech end, not at the next tick', async () => {
    const early = await transcribedAtFrame(SLOW_TICKS, 1);
    expect(early).toBeGreaterThanOrEqual(37);
    expect(early).toBeLessThan(45); // well before the tick at chunk 51
    // Switched off: the tick finds the pause.
    expect(await transcribedAtFrame({ ...SLOW_TICKS, speechEndTickMs: 0 }, 1)).toBeGreaterThanOrEqual(51);
  });

  it('is only a hint: spread so that no environment sees both frames, the tick finds the pause as before', async () => {
    expect(await transcribedAtFrame(SLOW_TICKS, 3)).toBeGreaterThanOrEqual(51);
  });
});

