/**
 * Renders a LoadReport as one self-contained HTML page (report.html): no scripts, fonts or stylesheets from
 * elsewhere, so it opens offline. Charts are inline SVG drawn here.
 */
import { STAGES, STAGE_LABELS, type Distribution, type LoadReport, type MachineSample } from './report-types';

const W = 460;
const H = 200;
const M = { left: 48, right: 48, top: 12, bottom: 32 };
const PW = W - M.left - M.right;
const PH = H - M.top - M.bottom;

export function escapeHtml(value: unknown): string {
  return String(value).replace(/[&<>"']/g, (c) => ({ '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' })[c]!);
}

const num = (n: number, digits = 1): string => (Number.isFinite(n) ? Number(n.toFixed(digits)).toLocaleString('en-US') : '–');
const ms = (n: number): string => `${num(n)} ms`;
const pct = (n: number): string => `${num(n * 100, 2)}%`;

function table(head: readonly string[], rows: readonly (readonly unknown[])[]): string {
  const th = head.map((h) => `<th>${escapeHtml(h)}</th>`).join('');
  const trs = rows.map((r) => `<tr>${r.map((c) => `<td>${escapeHtml(c)}</td>`).join('')}</tr>`).join('\n');
  return `<table><thead><tr>${th}</tr></thead><tbody>\n${trs}\n</tbody></table>`;
}

const keyValues = (entries: readonly (readonly [string, unknown])[]): string =>
  `<table class="kv"><tbody>${entries.map(([k, v]) => `<tr><th>${escapeHtml(k)}</th><td>${escapeHtml(v)}</td></tr>`).join('')}</tbody></table>`;

/** Up to `n` round-ish tick values from 0 to max. */
function ticks(max: number, n = 4): number[] {
  if (!(max > 0)) return [0];
  const raw = max / n;
  const mag = 10 ** Math.floor(Math.log10(raw));
  const step = [1, 2, 2.5, 5, 10].map((f) => f * mag).find((s) => s >= raw) ?? raw;
  const out: number[] = [];
  for (let v = 0; v <= max + step * 1e-9; v += step) out.push(Number(v.toPrecision(6)));
  return out;
}

const xAt = (v: number, max: number): number => M.left + (max > 0 ? (v / max) * PW : 0);
const yAt = (v: number, max: number): number => M.top + PH - (max > 0 ? (v / max) * PH : 0);
const f1 = (n: number): string => n.toFixed(1);

function axes(xMax: number, yMax: number, xLabel: (v: number) => string, yLabel: (v: number) => string, rightMax?: number): string {
  const parts = [`<line class="axis" x1="${M.left}" y1="${M.top + PH}" x2="${M.left + PW}" y2="${M.top + PH}"/>`];
  parts.push(`<line class="axis" x1="${M.left}" y1="${M.top}" x2="${M.left}" y2="${M.top + PH}"/>`);
  for (const v of ticks(xMax)) {
    const x = f1(xAt(v, xMax));
    parts.push(`<text x="${x}" y="${M.top + PH + 16}" text-anchor="middle">${escapeHtml(xLabel(v))}</text>`);
  }
  for (const v of ticks(yMax)) {
    const y = f1(yAt(v, yMax));
    parts.push(`<line class="grid" x1="${M.left}" y1="${y}" x2="${M.left + PW}" y2="${y}"/>`);
    parts.push(`<text x="${M.left - 4}" y="${y}" text-anchor="end" dy="0.3em">${escapeHtml(yLabel(v))}</text>`);
  }
  if (rightMax !== undefined) {
    for (const v of ticks(rightMax)) {
      const y = f1(yAt(v, rightMax));
      parts.push(`<text x="${M.left + PW + 4}" y="${y}" dy="0.3em">${escapeHtml(num(v, 0))}</text>`);
    }
  }
  return parts.join('');
}

const svg = (cls: string, title: string, body: string): string =>
  `<svg class="${cls}" viewBox="0 0 ${W} ${H}" width="${W}" height="${H}" role="img"><title>${escapeHtml(title)}</title>${body}</svg>`;

const polyline = (points: readonly (readonly [number, number])[], xMax: number, yMax: number, cls: string): string =>
  `<polyline class="${cls}" points="${points.map(([x, y]) => `${f1(xAt(x, xMax))},${f1(yAt(y, yMax))}`).join(' ')}"/>`;

/** Bars from [upper bound ms, count] buckets; each bar spans from the previous bound to its own. */
export function histogramSvg(d: Distribution, title: string): string {
  const xMax = Math.max(...d.buckets.map(([b]) => b), 1);
  const yMax = Math.max(...d.buckets.map(([, c]) => c), 1);
  let prev = 0;
  const bars = d.buckets.map(([bound, count]) => {
    const x0 = xAt(prev, xMax);
    const x1 = xAt(bound, xMax);
    prev = bound;
    const y = yAt(count, yMax);
    return `<rect class="bar" x="${f1(x0)}" y="${f1(y)}" width="${f1(Math.max(x1 - x0 - 1, 1))}" height="${f1(M.top + PH - y)}"><title>≤ ${escapeHtml(ms(bound))}: ${count}</title></rect>`;
  });
  return svg('hist', `${title}: histogram`, axes(xMax, yMax, (v) => num(v, 0), (v) => num(v, 0)) + bars.join(''));
}

/** The cumulative fraction against ms, with p50/p95/p99 as vertical lines. */
export function cdfSvg(d: Distribution, title: string): string {
  const xMax = Math.max(d.max, ...d.cdf.map(([x]) => x), 1);
  const marks = (['p50', 'p95', 'p99'] as const).map((p) => {
    const x = f1(xAt(d[p], xMax));
    return `<line class="mark ${p}" x1="${x}" y1="${M.top}" x2="${x}" y2="${M.top + PH}"/><text class="mark" x="${x}" y="${M.top + 8}" dx="2">${p} ${escapeHtml(num(d[p], 0))}</text>`;
  });
  const body = axes(xMax, 1, (v) => num(v, 0), (v) => `${Math.round(v * 100)}%`) + polyline(d.cdf, xMax, 1, 'line') + marks.join('');
  return svg('cdf', `${title}: CDF`, body);
}

function machineSvg(samples: readonly MachineSample[]): string {
  if (samples.length === 0) return '<p class="empty">no samples</p>';
  const tMax = Math.max(...samples.map((s) => s.t), 1);
  const cpuMax = Math.max(100, ...samples.map((s) => s.cpuPercent));
  const rssMax = Math.max(...samples.map((s) => s.stackRssMb), 1);
  const body =
    axes(tMax, cpuMax, (v) => `${num(v, 0)} s`, (v) => `${num(v, 0)}%`, rssMax) +
    polyline(samples.map((s) => [s.t, s.cpuPercent]), tMax, cpuMax, 'line') +
    polyline(samples.map((s) => [s.t, s.stackRssMb]), tMax, rssMax, 'line2');
  return svg('machine', 'CPU % (left, blue) and stack RSS MB (right, orange) over time', body);
}

function charts(title: string, d: Distribution): string {
  const inner = d.count === 0 ? '<p class="empty">no samples</p>' : histogramSvg(d, title) + cdfSvg(d, title);
  return `<section class="charts"><h3>${escapeHtml(title)}</h3>${inner}</section>`;
}

const distRow = (name: string, d: Distribution): unknown[] => [name, d.count, ...[d.mean, d.p50, d.p90, d.p95, d.p99, d.max].map(ms)];

const CSS = `body{font:14px/1.4 system-ui,sans-serif;margin:24px;color:#222;max-width:1100px}
table{border-collapse:collapse;margin:8px 0 16px}th,td{border:1px solid #ccc;padding:3px 8px;text-align:left}
td{font-variant-numeric:tabular-nums}thead th{background:#f3f3f3}.kv th{background:#f8f8f8;font-weight:normal}
code{background:#f3f3f3;padding:1px 4px;word-break:break-all}.charts{display:inline-block;vertical-align:top;margin:0 16px 16px 0}
.charts h3{font-size:14px;margin:4px 0}svg{display:block;margin-bottom:4px}svg text{font-size:10px;fill:#444}
.axis{stroke:#444}.grid{stroke:#eee}.bar{fill:#4a7fc1}.line{fill:none;stroke:#4a7fc1;stroke-width:1.5}
.line2{fill:none;stroke:#e08a2c;stroke-width:1.5}.mark{stroke:#c33;stroke-dasharray:3 2}text.mark{fill:#c33;stroke:none}
.empty{color:#888;font-style:italic}`;

export function renderHtmlReport(report: LoadReport): string {
  const { run, latency, machine } = report;
  const errors = Object.entries(report.errors);
  const stageRows = STAGES.map((s) => distRow(STAGE_LABELS[s], report.stages[s]));
  const cold = Object.entries(report.coldStarts.byFunction);
  const c = report.counts;

  const countsSection = c
    ? `<h2>Measured counts</h2>
${keyValues([['call minutes', num(c.callMinutes, 2)], ['connection minutes', num(c.connectionMinutes, 2)], ['messages in', c.messagesIn], ['messages out', c.messagesOut], ['bytes out', c.bytesOut]])}
<h3>Lambda</h3>
${table(['function', 'invocations', 'billed ms', 'memory MB'], Object.entries(c.lambda).map(([f, v]) => [f, v.invocations, v.billedMs, v.memoryMb]))}
<h3>DynamoDB</h3>
${table(['operation', 'requests', 'request bytes', 'response bytes'], Object.entries(c.dynamodb).map(([op, v]) => [op, v.requests, v.requestBytes, v.responseBytes]))}`
    : '';

  return `<!doctype html>
<html lang="en"><head><meta charset="utf-8"><title>Load test ${escapeHtml(run.date)}</title>
<style>${CSS}</style></head><body>
<h1>Load test report</h1>
${keyValues([
  ['date', run.date],
  ['target', run.target],
  ['profile', run.profile],
  ['calls', run.calls],
  ['duration', `${run.durationS} s (ramp ${run.rampS} s)`],
  ['frame size', `${run.frameMs} ms`],
  ['reply cache', run.replyCache ? 'on' : 'off'],
  ['provisioned', run.provisioned ? 'yes' : 'no'],
  ...(run.preemptSilenceMs !== undefined ? [['preempt silence', `${run.preemptSilenceMs} ms`] as const] : []),
])}
<p>Command: <code>${escapeHtml(run.command)}</code></p>
<h2>Headline</h2>
${keyValues([['success rate', pct(report.success_rate)], ['avg latency', ms(report.avg_latency_ms)], ['p95 latency', ms(report.p95_latency_ms)], ['p99 latency', ms(report.p99_latency_ms)]])}
<h3>Errors by kind</h3>
${errors.length ? table(['kind', 'count'], errors) : '<p class="empty">no errors</p>'}
<h2>Latency</h2>
${table(['', 'count', 'mean', 'p50', 'p90', 'p95', 'p99', 'max'], [
  distRow('server turn latency', latency.server),
  distRow('client turn latency', latency.client),
  distRow('client − server', latency.clientMinusServer),
  distRow('endpoint decided → first audio (no endpoint silence)', latency.afterEndpoint),
  ...stageRows,
  distRow('platform overhead', report.platformOverhead),
])}
${charts('server turn latency', latency.server)}
${charts('platform overhead', report.platformOverhead)}
${STAGES.map((s) => charts(STAGE_LABELS[s], report.stages[s])).join('\n')}
<h2>Turns, calls, cold starts, throttles</h2>
${table(['', 'attempted / started', 'answered / completed', 'failed', 'barge-ins'], [
  ['turns', report.turns.attempted, report.turns.answered, report.turns.failed, report.turns.bargeIns],
  ['calls', report.calls.started, report.calls.completed, report.calls.failed, ''],
])}
${keyValues([['cold starts (total)', report.coldStarts.total], ['cold starts during run', report.coldStarts.duringRun], ['of them on the hot path', report.coldStarts.hotPath], ['throttles', report.throttles]])}
${cold.length ? table(['function', 'cold starts'], cold) : ''}
<h2>Machine</h2>
${keyValues([
  ['cpus', machine.cpus],
  ['cpu model', machine.cpuModel],
  ['memory', `${num(machine.totalMemMb, 0)} MB`],
  ['node', machine.node],
  ['CPU % mean / max', `${num(machine.cpuPercent.mean)}% / ${num(machine.cpuPercent.max)}%`],
  ['stack RSS start / end / max', `${num(machine.stackRssMb.start)} / ${num(machine.stackRssMb.end)} / ${num(machine.stackRssMb.max)} MB`],
])}
${machineSvg(machine.samples)}
${countsSection}
</body></html>
`;
}
