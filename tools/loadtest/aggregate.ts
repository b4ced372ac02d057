/**
 * Turns what the callers observed into the report's distributions. Percentiles come from HDR histograms
 * (hdr-histogram-js, 3 significant digits); the charts' buckets and CDF points from the same recorded values.
 * The latency definition and the stages are written down in docs/LATENCY.md.
 */
import * as hdr from 'hdr-histogram-js';
import type { TurnSample } from './call-runner';
import type { Distribution, Stage } from './report-types';

export function distribution(values: readonly number[]): Distribution {
  if (values.length === 0) return { count: 0, mean: 0, p50: 0, p90: 0, p95: 0, p99: 0, max: 0, buckets: [], cdf: [] };
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 3_600_000, numberOfSignificantValueDigits: 3 });
  // Recorded in tenths of a millisecond: sub-millisecond stages (dispatch, send) keep their resolution.
  for (const v of values) h.recordValue(Math.max(1, Math.round(Math.max(0, v) * 10)));
  const at = (p: number) => h.getValueAtPercentile(p) / 10;
  const sorted = [...values].sort((a, b) => a - b);
  const max = sorted.at(-1)!;
  const min = Math.max(0, sorted[0]!);
  const bins = 40;
  const width = Math.max(0.1, (max - min) / bins);
  const counts = new Array<number>(bins).fill(0);
  for (const v of sorted) counts[Math.min(bins - 1, Math.floor((Math.max(0, v) - min) / width))]!++;
  const buckets = counts.map((c, i) => [round(min + (i + 1) * width), c] as const);
  const step = Math.max(1, Math.floor(sorted.length / 200));
  const cdf: (readonly [number, number])[] = [];
  for (let i = 0; i < sorted.length; i += step) cdf.push([round(sorted[i]!), round((i + 1) / sorted.length, 4)]);
  cdf.push([round(max), 1]);
  return {
    count: values.length,
    mean: round(h.mean / 10),
    p50: at(50),
    p90: at(90),
    p95: at(95),
    p99: at(99),
    max: round(max),
    buckets,
    cdf,
  };
}

const round = (v: number, digits = 1) => Math.round(v * 10 ** digits) / 10 ** digits;

export interface Policy {
  readonly endpointSilenceMs: number;
  readonly preemptSilenceMs: number;
  /** The caller's chunk size: silence is only known once the chunk that holds it has arrived. */
  readonly frameMs: number;
}

/** The stages of one answered turn, from the server's timings (all on the server's clock). */
export function stagesOf(report: TurnSample['report']): Partial<Record<Stage, number>> {
  const t = report.timings ?? {};
  const p = report.providerMs ?? {};
  const out: Partial<Record<Stage, number>> = {};
  if (t.speechEndAt !== undefined && t.endpointAt !== undefined) out.endpoint = t.endpointAt - t.speechEndAt;
  if (t.endpointFrameAt !== undefined && t.endpointHandlerAt !== undefined) out.dispatch = t.endpointHandlerAt - t.endpointFrameAt;
  if (p.stt !== undefined) out.stt = p.stt;
  if (p.modelFirstToken !== undefined) out.modelFirstToken = p.modelFirstToken;
  if (p.responder !== undefined) out.responder = p.responder;
  if (p.ttsFirstByte !== undefined) out.ttsFirstByte = p.ttsFirstByte;
  if (t.firstAudioAt !== undefined && t.ttsFirstByteAt !== undefined) out.send = t.firstAudioAt - t.ttsFirstByteAt;
  return out;
}

/**
 * Platform overhead: turn latency minus what the turn had to wait for anyway — the endpoint silence the caller
 * must leave (plus one chunk: silence is known only when the chunk holding it arrives), and the providers' time
 * from when they could start (at the endpoint; for a preempted turn at the preemption point, so only the part that
 * did not fit before the endpoint counts).
 */
export function platformOverhead(report: TurnSample['report'], policy: Policy): number | undefined {
  const p = report.providerMs;
  if (report.serverLatencyMs === undefined || !p || p.stt === undefined || p.ttsFirstByte === undefined) return undefined;
  const providers = p.stt + (p.responder ?? 0) + p.ttsFirstByte;
  // The silence this turn's end waited for: the words decide it (END_OF_TURN=adaptive), else the policy's.
  const endpointSilenceMs = report.endOfTurn?.silenceMs ?? policy.endpointSilenceMs;
  const startsAt = (report.preempted ? policy.preemptSilenceMs : endpointSilenceMs) + policy.frameMs;
  return report.serverLatencyMs - Math.max(endpointSilenceMs + policy.frameMs, startsAt + providers);
}
