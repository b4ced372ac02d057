import { distribution, platformOverhead, stagesOf } from '../../tools/loadtest/aggregate';
import { parseOptions } from '../../tools/loadtest/loadtest';

describe('distribution', () => {
  it('reports HDR percentiles of the recorded values, to a tenth of a millisecond', () => {
    const values = Array.from({ length: 1000 }, (_, i) => i + 1); // 1..1000 ms
    const d = distribution(values);
    expect(d.count).toBe(1000);
    expect(d.p50).toBeCloseTo(500, 0);
    expect(d.p95).toBeCloseTo(950, 0);
    expect(d.p99).toBeCloseTo(990, 0);
    expect(d.max).toBe(1000);
    expect(d.mean).toBeCloseTo(500.5, 0);
    expect(distribution([0.4, 0.6, 0.8]).p50).toBeCloseTo(0.6, 1);
  });

  it('gives buckets that hold every value and a CDF that ends at 1', () => {
    const d = distribution([5, 5, 10, 20, 400]);
    expect(d.buckets.reduce((n, [, c]) => n + c, 0)).toBe(5);
    expect(d.cdf.at(-1)).toEqual([400, 1]);
    expect(distribution([])).toMatchObject({ count: 0, buckets: [], cdf: [] });
  });
});

describe('stages and platform overhead', () => {
  const report = {
    turn: 2,
    serverLatencyMs: 640,
    preempted: false,
    providerMs: { stt: 180, responder: 2, ttsFirstByte: 40 },
    timings: { speechEndAt: 1000, endpointFrameAt: 1405, endpointHandlerAt: 1407, endpointAt: 1410, ttsFirstByteAt: 1630, firstAudioAt: 1640 },
  };

  it('derives each stage from the server timings', () => {
    expect(stagesOf(report)).toEqual({ endpoint: 410, dispatch: 2, stt: 180, responder: 2, ttsFirstByte: 40, send: 10 });
  });

  it('is the latency minus the endpoint silence and the providers, counted from when they could start', () => {
    const policy = { endpointSilenceMs: 400, preemptSilenceMs: 200, frameMs: 20 };
    expect(platformOverhead(report, policy)).toBe(640 - (420 + 222));
    // Preempted: the providers started at 220 ms; 222 ms of them ended at 442 ms, past the 420 ms endpoint.
    expect(platformOverhead({ ...report, preempted: true, serverLatencyMs: 450 }, policy)).toBe(450 - 442);
    // Providers that fit inside the endpoint silence cost nothing: only the silence (and one chunk) is subtracted.
    expect(platformOverhead({ ...report, preempted: true, serverLatencyMs: 430, providerMs: { stt: 50, responder: 1, ttsFirstByte: 30 } }, policy)).toBe(10);
    // Larger chunks: the endpoint is known a whole chunk later, which is the client's framing, not the platform.
    expect(platformOverhead(report, { ...policy, frameMs: 100 })).toBe(640 - (500 + 222));
    expect(platformOverhead({ ...report, providerMs: undefined }, policy)).toBeUndefined();
  });
});

describe('loadtest options', () => {
  it('takes the documented flags', () => {
    const o = parseOptions(['--calls', '100', '--duration', '600', '--ramp', '10', '--profile', 'zero', '--out', '/tmp/x', '--reply-cache', 'off']);
    expect(o).toMatchObject({ calls: 100, duration: 600, ramp: 10, profile: 'zero', out: '/tmp/x', replyCache: false, provisioned: true, frameMs: 20, placement: 'mru' });
    expect(parseOptions(['--placement', 'round-robin']).placement).toBe('round-robin');
  });

  it('is bounded in calls and time, and refuses what it does not know', () => {
    const exit = jest.spyOn(process, 'exit').mockImplementation(((code: number) => {
      throw new Error(`exit ${code}`);
    }) as never);
    const stderr = jest.spyOn(process.stderr, 'write').mockImplementation(() => true);
    try {
      expect(() => parseOptions(['--calls', '1000'])).toThrow();
      expect(() => parseOptions(['--duration', '100000'])).toThrow();
      expect(() => parseOptions(['--profile', 'cloud'])).toThrow();
      expect(() => parseOptions(['--placement', 'sticky'])).toThrow();
      expect(() => parseOptions(['--url', 'http://example.com'])).toThrow(/ws:\/\/ or wss:\/\//);
    } finally {
      exit.mockRestore();
      stderr.mockRestore();
    }
  });
});
