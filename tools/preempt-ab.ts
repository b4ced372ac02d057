/**
 * `npx tsx tools/preempt-ab.ts [--providers seed] [--turns 12] [--preempt 200] [--responder rules|bedrock]`
 * What preemptive generation saves, measured: the same scripted caller against a local stack with preemption off
 * (PREEMPT_SILENCE_MS=0), then on, in one run; turn latency (end of caller speech → first agent audio, as the
 * server measured it) per mode, with the stages. Writes .cache/bench/preempt-ab.json.
 */
import { Command } from 'commander';
import { mkdirSync, writeFileSync } from 'node:fs';
import os from 'node:os';
import path from 'node:path';
import * as hdr from 'hdr-histogram-js';
import { fromPcm16 } from '../functions/domain/audio';
import type { AudioFormat } from '../functions/contracts/audio-format';
import { LocalStack, PROVIDERS, type Providers } from '../local/stack';
import { synthesize } from '../local/speech/tts/flite';
import { CallerSession, type TurnReport } from './caller/session';

const LINES = ['what are your opening hours', 'where are you located', 'i would like to book an appointment', 'tuesday at three pm', 'yes please'];
const FORMAT: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 };

interface ModeResult {
  readonly preemptSilenceMs: number;
  readonly turns: number;
  readonly preempted: number;
  readonly latencyMs: { p50: number; p95: number; max: number; mean: number };
  readonly stagesMeanMs: Record<string, number>;
  readonly samples: number[];
}

async function runMode(providers: Providers, preemptSilenceMs: number, turns: number, audio: Uint8Array[], responder: 'rules' | 'bedrock'): Promise<ModeResult> {
  const stack = new LocalStack({
    port: 0,
    providers,
    responder,
    // The latency model alone: Flite's synthesis time on this machine would add to the modelled first byte.
    vendorAudio: 'synthetic',
    provisioned: 2,
    provisionedByFunction: { media: 4 },
    functionEnv: { PREEMPT_SILENCE_MS: String(preemptSilenceMs) },
    logsDir: path.join('.cache', 'bench', `preempt-ab-${preemptSilenceMs}`),
  });
  await stack.start();
  const samples: number[] = [];
  const stages: Record<string, number[]> = {};
  try {
    while (samples.length < turns) {
      const caller = new CallerSession({ url: stack.callerUrl(), format: FORMAT, events: true });
      await caller.connect();
      let next = 2;
      await caller.waitForTurn(1);
      await caller.waitForAgentSilence(300);
      for (const utterance of audio) {
        if (samples.length >= turns || caller.closed) break;
        await caller.speak(utterance);
        const report = await caller.waitForTurn(next, 20_000);
        if (!report) throw new Error(`turn ${next}: no answer`);
        next = report.turn + 1;
        if (report.status === 'completed' && report.serverLatencyMs !== undefined) {
          samples.push(report.serverLatencyMs);
          for (const [stage, ms] of Object.entries(stageDurations(report))) (stages[stage] ??= []).push(ms);
        }
        await caller.waitForAgentSilence(300);
      }
      if (!caller.closed) await caller.hangUp();
    }
  } finally {
    await stack.stop();
  }
  const h = hdr.build({ lowestDiscernibleValue: 1, highestTrackableValue: 60_000, numberOfSignificantValueDigits: 3 });
  for (const s of samples) h.recordValue(Math.max(1, Math.round(s)));
  return {
    preemptSilenceMs,
    turns: samples.length,
    preempted: stack.logs.metric('TurnsPreempted').sum,
    latencyMs: { p50: h.getValueAtPercentile(50), p95: h.getValueAtPercentile(95), max: h.maxValue, mean: Math.round(h.mean) },
    stagesMeanMs: Object.fromEntries(Object.entries(stages).map(([k, v]) => [k, Math.round(v.reduce((a, b) => a + b, 0) / v.length)])),
    samples,
  };
}

/** From speech end: endpoint decided, transcript, reply, first TTS byte, first audio sent. */
function stageDurations(report: TurnReport): Record<string, number> {
  const t: Record<string, number | undefined> = report.timings ?? {};
  const from = t.speechEndAt ?? t.endpointAt;
  const out: Record<string, number> = {};
  for (const key of ['endpointAt', 'transcriptAt', 'firstTokenAt', 'replyAt', 'ttsFirstByteAt', 'firstAudioAt'] as const) {
    if (t[key] !== undefined && from !== undefined) out[key] = t[key]! - from;
  }
  return out;
}

async function main() {
  const o = new Command()
    .option('--providers <p>', `speech providers: ${PROVIDERS.join(', ')}`, 'seed')
    .option('--turns <n>', 'measured turns per mode', '12')
    .option('--preempt <ms>', 'silence before preemptive generation, in the "on" mode', '200')
    .option('--responder <r>', 'rules, or bedrock (the model path on the Bedrock stand-in, Haiku-class latency)', 'rules')
    .parse()
    .opts<{ providers: Providers; turns: string; preempt: string; responder: 'rules' | 'bedrock' }>();
  const audio = await Promise.all(LINES.map(async (line) => fromPcm16(await synthesize(line, { voice: 'rms', sampleRate: 8000 }), FORMAT)));
  const results: ModeResult[] = [];
  for (const preempt of [0, Number(o.preempt)]) {
    results.push(await runMode(o.providers, preempt, Number(o.turns), audio, o.responder));
    console.log(`PREEMPT_SILENCE_MS=${preempt}: ${JSON.stringify({ ...results.at(-1), samples: undefined })}`);
  }
  const [off, on] = results as [ModeResult, ModeResult];
  console.log('\n| preemptive generation | turns | preempted | turn latency p50 | p95 | max | mean |');
  console.log('|---|---|---|---|---|---|---|');
  for (const r of results) {
    console.log(`| ${r.preemptSilenceMs === 0 ? 'off' : `after ${r.preemptSilenceMs} ms`} | ${r.turns} | ${r.preempted} | ${r.latencyMs.p50} ms | ${r.latencyMs.p95} ms | ${r.latencyMs.max} ms | ${r.latencyMs.mean} ms |`);
  }
  console.log(`\non/off: p50 ${(on.latencyMs.p50 / off.latencyMs.p50).toFixed(2)}, p95 ${(on.latencyMs.p95 / off.latencyMs.p95).toFixed(2)}`);
  const out = path.join('.cache', 'bench', 'preempt-ab.json');
  mkdirSync(path.dirname(out), { recursive: true });
  writeFileSync(
    out,
    JSON.stringify({ date: new Date().toISOString(), command: process.argv.slice(1).join(' '), node: process.version, cpus: os.cpus().length, providers: o.providers, responder: o.responder, results }, null, 2),
  );
  console.log(`JSON: ${out}`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
