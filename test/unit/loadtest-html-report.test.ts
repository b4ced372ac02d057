import { renderHtmlReport } from '../../tools/loadtest/html-report';
import { STAGES, STAGE_LABELS, type Distribution, type LoadReport, type Stage } from '../../tools/loadtest/report-types';

/** A Distribution from raw samples: nearest-rank percentiles, 10 ms buckets, one CDF point per bucket. */
function dist(values: readonly number[]): Distribution {
  const sorted = [...values].sort((a, b) => a - b);
  const n = sorted.length;
  const at = (p: number) => (n ? sorted[Math.min(n - 1, Math.ceil((p / 100) * n) - 1)]! : 0);
  const max = n ? sorted[n - 1]! : 0;
  const buckets: [number, number][] = [];
  const cdf: [number, number][] = [];
  let seen = 0;
  for (let bound = 10; n && bound <= Math.ceil(max / 10) * 10; bound += 10) {
    const count = sorted.filter((v) => v > bound - 10 && v <= bound).length;
    seen += count;
    buckets.push([bound, count]);
    cdf.push([bound, seen / n]);
  }
  const mean = n ? sorted.reduce((a, b) => a + b, 0) / n : 0;
  return { count: n, mean, p50: at(50), p90: at(90), p95: at(95), p99: at(99), max, buckets, cdf };
}

const ramp = (from: number, step: number, n: number) => Array.from({ length: n }, (_, i) => from + i * step);

function fixture(overrides: Partial<LoadReport> = {}): LoadReport {
  const server = dist(ramp(300, 7, 100)); // 300 … 993 ms
  const stages = Object.fromEntries(STAGES.map((s, i) => [s, dist(s === 'send' ? [] : ramp(5 + i * 20, 3, 40))])) as Record<Stage, Distribution>;
  return {
    success_rate: 0.985,
    avg_latency_ms: server.mean,
    p95_latency_ms: server.p95,
    p99_latency_ms: server.p99,
    errors: { timeout: 3, 'ws-closed': 1 },
    run: {
      date: '2025-01-02T03:04:05Z',
      command: `npm run loadtest -- --target "http://x?a=1&b=2" <script>alert('x')</script>`,
      target: 'local',
      profile: 'steady',
      calls: 20,
      durationS: 60,
      rampS: 10,
      frameMs: 20,
      replyCache: true,
      provisioned: false,
    },
    turns: { attempted: 200, answered: 197, failed: 3, bargeIns: 5 },
    calls: { started: 20, completed: 19, failed: 1 },
    latency: { server, client: dist(ramp(320, 7, 100)), clientMinusServer: dist(ramp(15, 0.1, 100)), afterEndpoint: dist(ramp(180, 2, 100)) },
    stages,
    platformOverhead: dist(ramp(20, 1, 100)),
    coldStarts: { total: 4, duringRun: 1, hotPath: 1, byFunction: { media: 3, connect: 1 } },
    throttles: 2,
    machine: {
      cpus: 8,
      cpuModel: 'Test CPU @ 3.0GHz',
      totalMemMb: 16384,
      node: 'v22.0.0',
      cpuPercent: { mean: 42.5, max: 87.25 },
      stackRssMb: { start: 210, end: 340, max: 355 },
      samples: ramp(0, 1, 60).map((t) => ({ t, cpuPercent: 40 + (t % 10), memUsedMb: 8000, stackRssMb: 210 + t * 2 })),
    },
    counts: {
      callMinutes: 20,
      messagesIn: 60000,
      messagesOut: 12000,
      connectionMinutes: 20.5,
      lambda: { mediaHandler: { invocations: 60000, billedMs: 1_200_000, memoryMb: 1024 } },
      dynamodb: { UpdateItem: { requests: 400, requestBytes: 40000, responseBytes: 20000 } },
      bytesOut: 9_876_543,
    },
    ...overrides,
  };
}

const count = (html: string, needle: string | RegExp) => html.split(needle).length - 1;

describe('renderHtmlReport', () => {
  const report = fixture();
  const html = renderHtmlReport(report);

  it('draws one histogram and one CDF per non-empty distribution, and "no samples" for an empty one', () => {
    // Charted: server, platform overhead, and every stage but `send`, which is empty.
    const charted = 2 + STAGES.length - 1;
    expect(count(html, '<svg class="hist"')).toBe(charted);
    expect(count(html, '<svg class="cdf"')).toBe(charted);
    expect(count(html, 'no samples')).toBe(1);
    const send = html.slice(html.indexOf(`<h3>${STAGE_LABELS.send}</h3>`));
    expect(send.slice(0, send.indexOf('</section>'))).toContain('no samples');
    // One bar per bucket of the server histogram.
    const serverHist = html.slice(html.indexOf('<svg class="hist"'), html.indexOf('</svg>', html.indexOf('<svg class="hist"')));
    expect(count(serverHist, '<rect class="bar"')).toBe(report.latency.server.buckets.length);
  });

  it('marks p50/p95/p99 on each CDF and shows the p95 value', () => {
    expect(count(html, 'class="mark p95"')).toBe(2 + STAGES.length - 1);
    expect(report.p95_latency_ms).toBe(958);
    expect(html).toContain('958 ms'); // headline and table
    expect(html).toContain('p95 958'); // the CDF marker label
  });

  it('escapes interpolated text', () => {
    expect(html).not.toContain('<script>');
    expect(html).toContain('&lt;script&gt;alert(&#39;x&#39;)&lt;/script&gt;');
    expect(html).toContain('&quot;http://x?a=1&amp;b=2&quot;');
    const nasty = renderHtmlReport(fixture({ errors: { '<b>boom</b>': 1 } }));
    expect(nasty).toContain('&lt;b&gt;boom&lt;/b&gt;');
    expect(nasty).not.toContain('<b>boom');
  });

  it('is a self-contained, balanced page', () => {
    expect(html.startsWith('<!doctype html>')).toBe(true);
    expect(html.trimEnd().endsWith('</html>')).toBe(true);
    expect(html).not.toMatch(/<script|<link|\bsrc=|@import|url\(/i);
    for (const tag of ['svg', 'table', 'tr', 'section', 'title', 'h2', 'h3']) {
      expect(count(html, new RegExp(`<${tag}[\\s>]`))).toBe(count(html, `</${tag}>`));
    }
    expect(html).not.toMatch(/NaN|undefined|Infinity/);
  });

  it('shows run info, headline, errors, machine, cold starts and counts', () => {
    for (const text of ['steady', '98.5%', 'timeout', 'ws-closed', 'Test CPU @ 3.0GHz', '42.5% / 87.3%', '210 / 340 / 355 MB']) {
      expect(html).toContain(text);
    }
    expect(count(html, '<svg class="machine"')).toBe(1);
    expect(html).toContain('mediaHandler');
    expect(html).toContain('UpdateItem');
    expect(html).toContain('<td>9876543</td>');
    expect(html).toContain('speech-to-text');
  });

  it('omits the counts section without counts and copes with no machine samples', () => {
    const { counts: _unused, ...rest } = fixture();
    const bare = renderHtmlReport({ ...rest, machine: { ...rest.machine, samples: [] } });
    expect(bare).not.toContain('Measured counts');
    expect(count(bare, '<svg class="machine"')).toBe(0);
    expect(count(bare, 'no samples')).toBe(2);
  });
});
