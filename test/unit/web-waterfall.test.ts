/**
 * The pages' turn waterfall and latency chart (web/waterfall.js, the same file both pages load): the stages are the
 * load test's, each bar sits where the turn's own timings put it and lasts exactly what was measured (a preempted
 * turn's provider bars honestly before the endpoint), a stage without numbers is left out rather than guessed, and
 * the drawing shows labels with their ms and never anything unescaped.
 */
import fc from 'fast-check';
import { stagesOf as loadtestStagesOf } from '../../tools/loadtest/aggregate';

interface Bar {
  stage: string;
  label: string;
  startMs: number;
  endMs: number;
  ms: number;
  beforeEndpoint: boolean;
}
interface Waterfall {
  from: 'speechEnd' | 'turnStart';
  preempted: boolean;
  bars: Bar[];
  marks: { mark: string; label: string; atMs: number }[];
}
interface SvgNode {
  tag: string;
  attrs: Record<string, string | number>;
  children: (SvgNode | string)[];
}
type Timings = Partial<Record<
  'speechEndAt' | 'endpointAt' | 'endpointFrameAt' | 'endpointHandlerAt' | 'transcriptAt' | 'firstTokenAt' | 'replyAt' | 'ttsFirstByteAt' | 'firstAudioAt' | 'lastAudioAt',
  number
>>;
interface Turn {
  turn?: number;
  status?: string;
  latencyMs?: number;
  preempted?: boolean;
  timings: Timings;
  providerMs?: Partial<Record<'stt' | 'modelFirstToken' | 'responder' | 'ttsFirstByte', number>>;
}

const W = require('../../web/waterfall.js') as {
  STAGES: string[];
  STAGE_LABELS: Record<string, string>;
  PREEMPTED_NOTE: string;
  stagesOf(event: unknown): Record<string, number>;
  stagesLine(stages: Record<string, number>): string;
  waterfallOf(turn: unknown): Waterfall;
  waterfallTree(w: Waterfall, options?: object): SvgNode | undefined;
  latencyChartTree(points: unknown[], options?: object): SvgNode | undefined;
  toSvgString(node: SvgNode | string): string;
  toDom(node: SvgNode | string, doc: unknown): unknown;
  waterfallSvg(turn: unknown, options?: object): string;
  latencyChartSvg(points: unknown[], options?: object): string;
};

const at = (w: Waterfall, stage: string) => w.bars.find((b) => b.stage === stage);
const span = (w: Waterfall) => Object.fromEntries(w.bars.map((b) => [b.stage, [b.startMs, b.endMs]]));
/** docs/LATENCY.md: first agent audio − end of the caller's speech (the turn's start where there was none). */
const latencyOf = (t: Timings) => (t.firstAudioAt === undefined ? undefined : t.firstAudioAt - (t.speechEndAt ?? t.endpointAt!));

const T0 = 1_765_000_000_000;

/** A turn answered after its endpoint: every provider after the one before it. */
const plainTurn: Turn = {
  turn: 3,
  status: 'completed',
  latencyMs: 1020,
  preempted: false,
  timings: {
    speechEndAt: T0,
    endpointFrameAt: T0 + 400,
    endpointHandlerAt: T0 + 405,
    endpointAt: T0 + 410,
    transcriptAt: T0 + 620,
    firstTokenAt: T0 + 760,
    replyAt: T0 + 830,
    ttsFirstByteAt: T0 + 1000,
    firstAudioAt: T0 + 1020,
    lastAudioAt: T0 + 3000,
  },
  providerMs: { stt: 205, modelFirstToken: 125, responder: 195, ttsFirstByte: 165 },
};

/** As the server records a preempted turn (turn-runner.ts): the prepared results taken up at the endpoint. */
const preemptedTurn: Turn = {
  turn: 2,
  status: 'completed',
  latencyMs: 360,
  preempted: true,
  timings: {
    speechEndAt: T0,
    endpointFrameAt: T0 + 300,
    endpointHandlerAt: T0 + 302,
    endpointAt: T0 + 310,
    transcriptAt: T0 + 310,
    replyAt: T0 + 310,
    ttsFirstByteAt: T0 + 340,
    firstAudioAt: T0 + 360,
  },
  providerMs: { stt: 180, responder: 2, ttsFirstByte: 150 },
};

const greeting: Turn = {
  turn: 1,
  status: 'completed',
  latencyMs: 240,
  timings: { endpointAt: T0, replyAt: T0 + 1, ttsFirstByteAt: T0 + 221, firstAudioAt: T0 + 240 },
  providerMs: { responder: 1, ttsFirstByte: 220 },
};

describe('stagesOf (moved from codec.js)', () => {
  it('derives a turn\'s stages exactly as the load test does', () => {
    const event = {
      turn: 2,
      status: 'completed',
      latencyMs: 610,
      timings: { speechEndAt: 1000, endpointFrameAt: 1400, endpointHandlerAt: 1402, endpointAt: 1410, ttsFirstByteAt: 1590, firstAudioAt: 1610 },
      providerMs: { stt: 120, responder: 3, ttsFirstByte: 60 },
      preempted: true,
    };
    const expected = loadtestStagesOf({ timings: event.timings, providerMs: event.providerMs } as never);
    expect(W.stagesOf(event)).toEqual(expected);
    expect(Object.keys(expected).sort()).toEqual(['dispatch', 'endpoint', 'responder', 'send', 'stt', 'ttsFirstByte']);
    expect(W.stagesOf({ turn: 1, timings: { ttsFirstByteAt: 5, firstAudioAt: 9 } })).toEqual({ send: 4 });
    expect(W.stagesOf(undefined)).toEqual({});
  });

  it('words them as the call page always has: "label N ms" joined by " · ", in pipeline order', () => {
    expect(W.stagesLine(W.stagesOf(plainTurn))).toBe(
      'endpointing 410 ms · dispatch 5 ms · speech-to-text 205 ms · model first token 125 ms · responder 195 ms · TTS first byte 165 ms · send 20 ms',
    );
    expect(W.stagesLine({ send: 19.6, endpoint: 300.2 })).toBe('endpointing 300 ms · send 20 ms');
    expect(W.stagesLine({})).toBe('');
  });
});

describe('waterfallOf', () => {
  it('puts a turn answered after its endpoint on one axis from the end of speech, each stage after the one before', () => {
    const w = W.waterfallOf(plainTurn);
    expect(w.from).toBe('speechEnd');
    expect(w.bars.map((b) => b.stage)).toEqual(['endpoint', 'dispatch', 'stt', 'modelFirstToken', 'responder', 'ttsFirstByte', 'send']);
    expect(span(w)).toEqual({
      endpoint: [0, 410],
      dispatch: [400, 405],
      stt: [415, 620],
      modelFirstToken: [635, 760],
      responder: [635, 830],
      ttsFirstByte: [835, 1000],
      send: [1000, 1020],
    });
    expect(w.bars.every((b) => !b.beforeEndpoint)).toBe(true);
    expect(w.bars.map((b) => b.label)).toEqual(w.bars.map((b) => W.STAGE_LABELS[b.stage]));
    expect(w.marks).toEqual([
      { mark: 'origin', label: 'end of speech', atMs: 0 },
      { mark: 'endpoint', label: 'endpoint', atMs: 410 },
      { mark: 'firstAudio', label: 'first audio', atMs: 1020 },
    ]);
  });

  it('shows a preempted turn as it ran: speech-to-text and the responder before the endpoint, overlapping it', () => {
    const w = W.waterfallOf(preemptedTurn);
    expect(w.preempted).toBe(true);
    const stt = at(w, 'stt')!;
    const endpoint = at(w, 'endpoint')!;
    expect(stt).toMatchObject({ startMs: 130, endMs: 310, ms: 180, beforeEndpoint: true });
    expect(stt.startMs).toBeLessThan(endpoint.endMs); // before the endpoint, not pushed after it
    expect(at(w, 'responder')).toMatchObject({ startMs: 308, endMs: 310, ms: 2, beforeEndpoint: true });
    // The first synthesized byte was prepared during the silence too: 150 ms lasting, in hand 30 ms after the endpoint.
    expect(at(w, 'ttsFirstByte')).toMatchObject({ startMs: 190, endMs: 340, beforeEndpoint: true });
    expect(at(w, 'send')).toMatchObject({ startMs: 340, endMs: 360, beforeEndpoint: false });
    // The stages overlap: their sum is more than the latency, and the first audio is at the latency all the same.
    expect(w.bars.reduce((sum, b) => sum + b.ms, 0)).toBeGreaterThan(preemptedTurn.latencyMs!);
    expect(w.marks.find((m) => m.mark === 'firstAudio')!.atMs).toBe(preemptedTurn.latencyMs);
  });

  it('times a greeting (no caller speech) from the turn\'s start, with no endpoint bar', () => {
    const w = W.waterfallOf(greeting);
    expect(w.from).toBe('turnStart');
    expect(span(w)).toEqual({ responder: [0, 1], ttsFirstByte: [1, 221], send: [221, 240] });
    expect(w.marks).toEqual([
      { mark: 'origin', label: 'turn start', atMs: 0 },
      { mark: 'firstAudio', label: 'first audio', atMs: 240 },
    ]);
    expect(W.waterfallSvg(greeting)).toContain('0 = turn start');
  });

  it('leaves out the stages it has no numbers for, and invents none', () => {
    // A turn that failed at speech-to-text: the fallback phrase was spoken; no transcript, no responder time.
    const failed: Turn = {
      turn: 4,
      status: 'completed',
      timings: { speechEndAt: T0, endpointAt: T0 + 400, replyAt: T0 + 5400, ttsFirstByteAt: T0 + 5600, firstAudioAt: T0 + 5615 },
      providerMs: { ttsFirstByte: 200 },
    };
    expect(span(W.waterfallOf(failed))).toEqual({ endpoint: [0, 400], ttsFirstByte: [5400, 5600], send: [5600, 5615] });
    // A duration without the timing that places it, and a timing without its duration, draw nothing.
    expect(W.waterfallOf({ timings: { speechEndAt: T0, transcriptAt: T0 + 500 }, providerMs: { responder: 40 } }).bars).toEqual([]);
    // No end of speech and no endpoint: no axis, nothing drawn.
    expect(W.waterfallOf({ timings: { ttsFirstByteAt: T0, firstAudioAt: T0 + 9 } })).toMatchObject({ bars: [], marks: [] });
    expect(W.waterfallSvg({ timings: {} })).toBe('');
    // Not numbers (a null in JSON) are no data; a negative duration (two machines' clocks) cannot be drawn.
    const odd = W.waterfallOf({ timings: { speechEndAt: T0, endpointAt: null, ttsFirstByteAt: T0 + 50, firstAudioAt: T0 + 40 }, providerMs: { ttsFirstByte: '3' } });
    expect(odd.bars).toEqual([]);
    expect(W.waterfallOf(undefined).bars).toEqual([]);
  });
});

describe('drawing', () => {
  it('labels each bar with its stage and ms, marks the endpoint and the first audio, and tells preemptive bars apart', () => {
    const svg = W.waterfallSvg(preemptedTurn, { title: 'Turn 2' });
    expect(svg.startsWith('<svg xmlns="http://www.w3.org/2000/svg"')).toBe(true);
    for (const text of ['endpointing 310 ms', 'dispatch 2 ms', 'speech-to-text 180 ms', 'responder 2 ms', 'TTS first byte 150 ms', 'send 20 ms', 'endpoint 310 ms', 'first audio 360 ms', '0 = end of speech']) {
      expect(svg).toContain(`>${text}</text>`);
    }
    expect(svg.match(/class="bar bar-\w+ early"/g)).toHaveLength(3);
    expect(svg).toContain('started before the endpoint (preemptive)');
    expect(svg).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('escapes whatever it is given as text or attribute', () => {
    const node: SvgNode = { tag: 'svg', attrs: { 'aria-label': 'a "quoted" <b>' }, children: [{ tag: 'text', attrs: {}, children: ['<script>alert(1)</script> & co'] }] };
    expect(W.toSvgString(node)).toBe(
      '<svg xmlns="http://www.w3.org/2000/svg" aria-label="a &quot;quoted&quot; &lt;b&gt;"><text>&lt;script&gt;alert(1)&lt;/script&gt; &amp; co</text></svg>',
    );
  });

  it('builds DOM nodes in the SVG namespace with text as text nodes', () => {
    const made: string[] = [];
    const doc = {
      createElementNS: (ns: string, tag: string) => {
        made.push(`${ns === 'http://www.w3.org/2000/svg' ? 'svg:' : '?:'}${tag}`);
        const el = { tag, attrs: {} as Record<string, string>, children: [] as unknown[], setAttribute: (k: string, v: string) => (el.attrs[k] = v), appendChild: (c: unknown) => el.children.push(c) };
        return el;
      },
      createTextNode: (text: string) => ({ text }),
    };
    const tree = W.waterfallTree(W.waterfallOf(plainTurn))!;
    const el = W.toDom(tree, doc) as { tag: string; attrs: Record<string, string>; children: unknown[] };
    expect(el.tag).toBe('svg');
    expect(el.attrs.viewBox).toMatch(/^0 0 560 \d+$/);
    expect(made.every((m) => m.startsWith('svg:'))).toBe(true);
    expect(JSON.stringify(el)).toContain('{"text":"speech-to-text 205 ms"}');
  });

  it('charts one bar per turn\'s latency with the turn numbers, in turn order', () => {
    const points = [
      { turn: 3, latencyMs: 1020, status: 'completed', fromSpeech: true },
      { turn: 1, latencyMs: 240, status: 'completed', fromSpeech: false },
      { turn: 2, latencyMs: 360.4, status: 'barged', fromSpeech: true },
      { turn: 4, status: 'failed' }, // no latency: no bar
    ];
    const tree = W.latencyChartTree(points)!;
    const groups = tree.children.filter((c): c is SvgNode => typeof c !== 'string' && c.tag === 'g');
    expect(groups.map((g) => [g.attrs['data-turn'], g.attrs['data-latency-ms'], g.attrs.class])).toEqual([
      [1, 240, 'point no-speech'],
      [2, 360, 'point'],
      [3, 1020, 'point'],
    ]);
    const svg = W.toSvgString(tree);
    for (const text of ['>1</text>', '>2</text>', '>3</text>', '>240</text>', '>360</text>', '>1020</text>']) expect(svg).toContain(text);
    expect(svg).toContain('turn 2: 360 ms (barged)');
    // Bar heights follow the latencies: turn 3's is the tallest.
    const height = (g: SvgNode) => Number((g.children.find((c) => typeof c !== 'string' && c.tag === 'rect') as SvgNode).attrs.height);
    expect(height(groups[2]!)).toBeGreaterThan(height(groups[1]!));
    expect(height(groups[1]!)).toBeGreaterThan(height(groups[0]!));
    expect(W.latencyChartTree([])).toBeUndefined();
    expect(W.latencyChartSvg([{ turn: 1 }])).toBe('');
  });

  it('keeps a long call\'s chart readable: every turn a bar, not every number a label', () => {
    const points = Array.from({ length: 120 }, (_, i) => ({ turn: i + 1, latencyMs: 400 + ((i * 37) % 300), fromSpeech: true }));
    const svg = W.latencyChartSvg(points);
    expect(svg.match(/<g class="point"/g)).toHaveLength(120);
    expect(svg).not.toMatch(/NaN/);
  });
});

// ------------------------------------------------------------------------------------------ properties

/**
 * A turn as it really ran (each stage's start and end on one clock), and the record the server makes of it: for a
 * preempted turn the prepared transcript and reply are recorded at the endpoint with their providers' own durations
 * (functions/domain/call/turn-runner.ts), as is a prepared first synthesized byte.
 */
const ranTurn = fc
  .record({
    start: fc.integer({ min: T0, max: T0 + 1e9 }),
    speech: fc.boolean(),
    preempted: fc.boolean(),
    toFrame: fc.nat(1500),
    dispatch: fc.nat(60),
    toEndpoint: fc.nat(60),
    preemptAfter: fc.nat(400),
    gap: fc.nat(40),
    stt: fc.nat(2000),
    firstToken: fc.option(fc.nat(3000), { nil: undefined }),
    responder: fc.nat(3000),
    tts: fc.nat(1500),
    send: fc.nat(300),
  })
  .map((r) => {
    const preempted = r.speech && r.preempted;
    const truth: Record<string, [number, number]> = {};
    const timings: Timings = {};
    const providerMs: Turn['providerMs'] = {};
    let endpointAt: number;
    let clock: number; // where the next stage may start
    if (r.speech) {
      timings.speechEndAt = r.start;
      timings.endpointFrameAt = r.start + r.toFrame;
      timings.endpointHandlerAt = timings.endpointFrameAt + r.dispatch;
      endpointAt = timings.endpointHandlerAt + r.toEndpoint;
      clock = preempted ? r.start + r.preemptAfter : endpointAt + r.gap;
      truth.stt = [clock, clock + r.stt];
      providerMs.stt = r.stt;
      clock += r.stt + r.gap;
    } else {
      endpointAt = r.start;
      clock = r.start;
    }
    truth.responder = [clock, clock + r.responder];
    providerMs.responder = r.responder;
    if (r.firstToken !== undefined) {
      const ft = Math.min(r.firstToken, r.responder);
      truth.modelFirstToken = [clock, clock + ft];
      providerMs.modelFirstToken = ft;
    }
    clock += r.responder + r.gap;
    truth.tts = [clock, clock + r.tts];
    providerMs.ttsFirstByte = r.tts;
    if (preempted) {
      // The endpoint came after the prepared work (or the work would not have been used); results taken up then.
      endpointAt = Math.max(endpointAt, truth.responder[1]);
      timings.transcriptAt = endpointAt;
      timings.replyAt = endpointAt;
      if (truth.modelFirstToken) timings.firstTokenAt = endpointAt;
      timings.ttsFirstByteAt = Math.max(endpointAt, truth.tts[1]) + r.gap;
    } else {
      if (truth.stt) timings.transcriptAt = truth.stt[1];
      timings.replyAt = truth.responder[1];
      if (truth.modelFirstToken) timings.firstTokenAt = truth.modelFirstToken[1];
      timings.ttsFirstByteAt = truth.tts[1];
    }
    timings.endpointAt = endpointAt;
    timings.firstAudioAt = timings.ttsFirstByteAt + r.send;
    timings.lastAudioAt = timings.firstAudioAt + 1000;
    const turn: Turn = { turn: 2, status: 'completed', preempted, timings, providerMs, latencyMs: latencyOf(timings) };
    return { turn, truth, preempted };
  });

describe('properties', () => {
  it('no bar starts before the turn\'s earliest timing or ends after its latest; each lasts exactly its measured ms', () => {
    fc.assert(
      fc.property(ranTurn, ({ turn }) => {
        const w = W.waterfallOf(turn);
        const times = Object.values(turn.timings) as number[];
        const origin = turn.timings.speechEndAt ?? turn.timings.endpointAt!;
        const earliest = Math.min(...times) - origin;
        const latest = Math.max(...times) - origin;
        const measured = loadtestStagesOf({ timings: turn.timings, providerMs: turn.providerMs } as never) as Record<string, number>;
        expect(w.bars.length).toBeGreaterThan(0);
        for (const bar of w.bars) {
          expect(bar.startMs).toBeGreaterThanOrEqual(earliest);
          expect(bar.endMs).toBeLessThanOrEqual(latest);
          expect(bar.endMs - bar.startMs).toBe(bar.ms);
          expect(bar.ms).toBe(measured[bar.stage]);
        }
        // Every measured stage is drawn (none here is negative), in pipeline order.
        expect(w.bars.map((b) => b.stage)).toEqual(W.STAGES.filter((s) => measured[s] !== undefined));
        expect(w.marks.find((m) => m.mark === 'firstAudio')!.atMs).toBe(turn.latencyMs);
      }),
    );
  });

  it('puts the providers of a turn answered after its endpoint exactly where they ran; a preempted turn\'s no later', () => {
    fc.assert(
      fc.property(ranTurn, ({ turn, truth, preempted }) => {
        const w = W.waterfallOf(turn);
        const origin = turn.timings.speechEndAt ?? turn.timings.endpointAt!;
        for (const [stage, [start, end]] of Object.entries(truth)) {
          const bar = at(w, stage === 'tts' ? 'ttsFirstByte' : stage)!;
          if (preempted) {
            // Recorded when taken up, so drawn ending then: as long as it lasted, never earlier than it ran.
            expect(bar.startMs).toBeGreaterThanOrEqual(start - origin);
            expect(bar.ms).toBe(end - start);
          } else {
            expect([bar.startMs, bar.endMs]).toEqual([start - origin, end - origin]);
          }
        }
        if (preempted) expect(at(w, 'stt')!.beforeEndpoint || at(w, 'stt')!.startMs === at(w, 'endpoint')!.endMs).toBe(true);
        else expect(w.bars.some((b) => b.beforeEndpoint)).toBe(false);
      }),
    );
  });

  it('with any timings missing, draws only stages whose numbers are all there, each its measured length', () => {
    const KEYS = ['speechEndAt', 'endpointAt', 'endpointFrameAt', 'endpointHandlerAt', 'transcriptAt', 'firstTokenAt', 'replyAt', 'ttsFirstByteAt', 'firstAudioAt', 'lastAudioAt'] as const;
    const PROVIDERS = ['stt', 'modelFirstToken', 'responder', 'ttsFirstByte'] as const;
    fc.assert(
      fc.property(ranTurn, fc.subarray([...KEYS]), fc.subarray([...PROVIDERS]), ({ turn }, dropTimings, dropProviders) => {
        const timings = { ...turn.timings };
        for (const k of dropTimings) delete timings[k];
        const providerMs = { ...turn.providerMs };
        for (const k of dropProviders) delete providerMs[k];
        const thin = { ...turn, timings, providerMs };
        const w = W.waterfallOf(thin);
        const measured = W.stagesOf(thin);
        const NEEDS: Record<string, string[]> = {
          endpoint: ['speechEndAt', 'endpointAt'],
          dispatch: ['endpointFrameAt', 'endpointHandlerAt'],
          stt: ['transcriptAt', 'stt'],
          modelFirstToken: ['firstTokenAt', 'modelFirstToken'],
          responder: ['replyAt', 'responder'],
          ttsFirstByte: ['ttsFirstByteAt', 'ttsFirstByte'],
          send: ['ttsFirstByteAt', 'firstAudioAt'],
        };
        const has = (k: string) => k in timings || k in providerMs;
        const axis = 'speechEndAt' in timings || 'endpointAt' in timings;
        expect(w.bars.map((b) => b.stage)).toEqual(axis ? W.STAGES.filter((s) => NEEDS[s]!.every(has)) : []);
        for (const bar of w.bars) expect(bar.endMs - bar.startMs).toBe(measured[bar.stage]);
        expect(W.waterfallSvg(thin)).not.toMatch(/NaN|undefined|Infinity/);
      }),
    );
  });

  it('never throws on whatever JSON arrives, and draws only finite numbers', () => {
    const timingLike = fc.dictionary(fc.constantFrom('speechEndAt', 'endpointAt', 'transcriptAt', 'replyAt', 'ttsFirstByteAt', 'firstAudioAt', 'x'), fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)));
    const providerLike = fc.dictionary(fc.constantFrom('stt', 'responder', 'ttsFirstByte', 'y'), fc.oneof(fc.double(), fc.integer(), fc.string(), fc.constant(null)));
    fc.assert(
      fc.property(fc.oneof(fc.anything(), fc.record({ timings: timingLike, providerMs: providerLike, preempted: fc.anything() })), (event) => {
        const w = W.waterfallOf(event);
        for (const bar of w.bars) for (const v of [bar.startMs, bar.endMs, bar.ms]) expect(Number.isFinite(v)).toBe(true);
        const svg = W.waterfallSvg(event);
        expect(svg).not.toMatch(/NaN|Infinity/);
        expect(W.latencyChartSvg([{ turn: 1, latencyMs: (event as { latencyMs?: unknown })?.latencyMs }])).not.toMatch(/NaN|Infinity/);
      }),
    );
  });
});
