/**
 * CPU cost of the local Deepgram per recognized utterance (Linux: reads the server process's CPU from /proc).
 *   npx tsx tools/bench/deepgram.ts [--calls 100] [--utterances 2] [--requests 200] [--concurrency 20]
 * The server runs in its own process (as local/vendors-process.ts runs it); this process plays the callers:
 * - live: `--calls` WebSocket streams at once, each saying `--utterances` known lines in 20 ms μ-law frames in real
 *   time (1 s of silence after each), then CloseStream; every final transcript is checked;
 * - pre-recorded: `--requests` POST /v1/listen of known lines, `--concurrency` at a time, both wire formats.
 * Reports the server's CPU (user + system) per recognized utterance and per audio frame, and the share of a core.
 * DG_PROF=<dir> writes a V8 CPU profile of the server process there.
 */
import { spawn } from 'node:child_process';
import { readFileSync } from 'node:fs';
import path from 'node:path';
import { createInterface } from 'node:readline';
import WebSocket from 'ws';
import { fromPcm16, silence } from '../../functions/domain/audio';
import { synthesize } from '../../local/speech/tts/flite';
import { KNOWN_UTTERANCES } from '../../local/vendors/known-utterances';

const arg = (name: string, fallback: number) => {
  const i = process.argv.indexOf(`--${name}`);
  return i > 0 ? Number(process.argv[i + 1]) : fallback;
};
const CALLS = arg('calls', 100);
const UTTERANCES = arg('utterances', 2);
const REQUESTS = arg('requests', 200);
const CONCURRENCY = arg('concurrency', 20);
const KEY = 'bench-key';
const TICKS = 100; // USER_HZ on Linux

function cpuMs(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, 'utf8').split(') ')[1]!.split(' ');
  return ((Number(fields[11]) + Number(fields[12])) * 1000) / TICKS; // utime, stime (fields 14, 15)
}

async function startServer(): Promise<{ url: string; pid: number; stop: () => void }> {
  const script = `
    const { DeepgramServer } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'local', 'vendors', 'deepgram', 'server.ts'))});
    const { ZERO_LATENCY } = require(${JSON.stringify(path.join(__dirname, '..', '..', 'local', 'vendors', 'behaviour.ts'))});
    const s = new DeepgramServer({ apiKey: ${JSON.stringify(KEY)}, latency: ZERO_LATENCY, idleTimeoutMs: 60000 });
    s.start().then((url) => console.log(JSON.stringify({ url })));
    process.on('SIGINT', () => s.close().then(() => process.exit(0)));
  `;
  const profile = process.env.DG_PROF ? ['--cpu-prof', `--cpu-prof-dir=${process.env.DG_PROF}`] : [];
  const child = spawn(process.execPath, [...profile, '--import', 'tsx', '-e', script], { stdio: ['ignore', 'pipe', 'inherit'] });
  const line = await new Promise<string>((resolve, reject) => {
    createInterface({ input: child.stdout! }).once('line', resolve);
    child.once('exit', (code) => reject(new Error(`server exited ${code}`)));
  });
  return { url: (JSON.parse(line) as { url: string }).url, pid: child.pid!, stop: () => child.kill('SIGINT') };
}

const sleep = (ms: number) => new Promise((r) => setTimeout(r, ms));

async function liveCall(url: string, lines: Array<{ text: string; audio: Uint8Array }>, index: number): Promise<{ ok: number; bad: string[]; frames: number }> {
  const ws = new WebSocket(
    `${url.replace('http', 'ws')}/v1/listen?model=nova-3&encoding=mulaw&sample_rate=8000&channels=1&interim_results=true&endpointing=300&utterance_end_ms=1000&vad_events=true`,
    { headers: { authorization: `Token ${KEY}` } },
  );
  const finals: string[] = [];
  const closed = new Promise<void>((r) => ws.once('close', () => r()));
  ws.on('message', (data) => {
    const m = JSON.parse(String(data)) as { type: string; is_final?: boolean; channel?: { alternatives: Array<{ transcript: string }> } };
    if (m.type === 'Results' && m.is_final && m.channel!.alternatives[0]!.transcript) finals.push(m.channel!.alternatives[0]!.transcript);
  });
  await new Promise<void>((resolve, reject) => {
    ws.once('open', () => resolve());
    ws.once('error', reject);
  });
  const said: string[] = [];
  const gap = silence(1000, { encoding: 'mulaw', sampleRate: 8000 });
  let frames = 0;
  const t0 = performance.now();
  for (let u = 0; u < UTTERANCES; u++) {
    const line = lines[(index + u) % lines.length]!;
    said.push(line.text);
    const stream = Buffer.concat([line.audio, gap]);
    for (let i = 0; i < stream.length; i += 160) {
      ws.send(stream.subarray(i, i + 160));
      frames++;
      const due = t0 + frames * 20 - performance.now();
      if (due > 0) await sleep(due);
    }
  }
  ws.send(JSON.stringify({ type: 'CloseStream' }));
  await closed;
  const bad = said.filter((s, i) => finals[i] !== s).map((s, i) => `${s} → ${finals[i] ?? '(nothing)'}`);
  return { ok: said.length - bad.length, bad, frames };
}

async function main() {
  const lines: Array<{ text: string; mulaw: Uint8Array; pcm16: Uint8Array }> = [];
  for (const text of KNOWN_UTTERANCES) {
    lines.push({
      text,
      mulaw: fromPcm16(await synthesize(text, { voice: 'rms', sampleRate: 8000 }), { encoding: 'mulaw', sampleRate: 8000 }),
      pcm16: fromPcm16(await synthesize(text, { voice: 'rms', sampleRate: 16000 }), { encoding: 'pcm16', sampleRate: 16000 }),
    });
  }
  const server = await startServer();
  try {
    await sleep(500);
    const idle0 = cpuMs(server.pid);
    await sleep(2000);
    const idle = (cpuMs(server.pid) - idle0) / 2000;
    console.log(`server idle: ${(idle * 100).toFixed(2)} % of a core`);

    // Pre-recorded.
    let c0 = cpuMs(server.pid);
    let t0 = performance.now();
    let ok = 0;
    let next = 0;
    await Promise.all(
      Array.from({ length: CONCURRENCY }, async () => {
        while (next < REQUESTS) {
          const i = next++;
          const line = lines[i % lines.length]!;
          const wide = i % 2 === 1;
          const q = wide ? 'encoding=linear16&sample_rate=16000' : 'encoding=mulaw&sample_rate=8000';
          const res = await fetch(`${server.url}/v1/listen?model=nova-3&${q}`, {
            method: 'POST',
            headers: { authorization: `Token ${KEY}`, 'content-type': 'application/octet-stream' },
            body: (wide ? line.pcm16 : line.mulaw) as Uint8Array<ArrayBuffer>,
          });
          const body = (await res.json()) as { results: { channels: Array<{ alternatives: Array<{ transcript: string }> }> } };
          if (body.results.channels[0]!.alternatives[0]!.transcript === line.text) ok++;
        }
      }),
    );
    let cpu = cpuMs(server.pid) - c0;
    let wall = performance.now() - t0;
    console.log(
      `pre-recorded: ${REQUESTS} requests (${CONCURRENCY} at a time, μ-law 8k and linear16 16k, ${ok} exact) in ${(wall / 1000).toFixed(1)} s: ` +
        `server CPU ${cpu.toFixed(0)} ms = ${(cpu / REQUESTS).toFixed(2)} ms per utterance`,
    );

    // Live.
    c0 = cpuMs(server.pid);
    t0 = performance.now();
    const calls = await Promise.all(
      Array.from({ length: CALLS }, async (_, i) => {
        await sleep((i * 1000) / CALLS); // arrivals spread over a second
        return liveCall(server.url, lines.map((l) => ({ text: l.text, audio: l.mulaw })), i);
      }),
    );
    cpu = cpuMs(server.pid) - c0;
    wall = performance.now() - t0;
    const utterances = calls.reduce((n, c) => n + c.ok + c.bad.length, 0);
    const exact = calls.reduce((n, c) => n + c.ok, 0);
    const frames = calls.reduce((n, c) => n + c.frames, 0);
    console.log(
      `live: ${CALLS} calls at once × ${UTTERANCES} utterances (20 ms μ-law frames, real time, interim results on) in ${(wall / 1000).toFixed(1)} s: ` +
        `${exact}/${utterances} finals exact; server CPU ${cpu.toFixed(0)} ms = ${(cpu / utterances).toFixed(1)} ms per utterance ` +
        `(${((cpu * 1000) / frames).toFixed(0)} µs per frame), ${((cpu / wall) * 100).toFixed(0)} % of a core while it ran`,
    );
    for (const c of calls) for (const b of c.bad) console.log(`  wrong: ${b}`);
  } finally {
    server.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
