/**
 * `npm run call -- --say "what are your opening hours" [--say …] [--wav FILE] [--out agent.wav]`
 * Synthesizes the caller's words offline (Flite), streams them like a phone (20 ms frames, real time), and
 * prints what the agent heard, what it answered, and the latency from end of speech to first agent audio.
 *
 * `npm run call -- --dial +14155550123 [--url …] [--api https://…]`: the agent calls a phone instead (the stack's
 * `POST /calls`, authenticated with the token of --url; on AWS --api is the HTTP API, the TwilioWebhookUrl output
 * without /twilio/voice). Prints the call SID Twilio gave it.
 */
import { Command } from 'commander';
import { readFileSync, writeFileSync } from 'node:fs';
import { WaveFile } from 'wavefile';
import { fromPcm16, resample, toPcm16 } from '../functions/domain/audio';
import type { AudioFormat } from '../functions/contracts/audio-format';
import { synthesize } from '../local/speech/tts/flite';
import { CallerSession } from './caller/session';

const collect = (value: string, previous: string[]) => [...previous, value];

async function main() {
  const program = new Command()
    .name('call')
    .description('Call the voice agent like a phone would, and report each turn.')
    .option('--url <url>', 'WebSocket URL incl. ?token= (default: local stack on $PORT with $VOICE_AGENT_TOKEN)')
    .option('--say <text>', 'something to say (repeat for several turns)', collect, [])
    .option('--wav <file>', 'a WAV file to say (repeat for several turns)', collect, [])
    .option('--dtmf <digit>', 'press a key after the spoken turns')
    .option('--format <format>', 'mulaw (8 kHz, like a phone) or pcm16 (16 kHz)', 'mulaw')
    .option('--voice <voice>', 'caller voice: rms, slt, awb, kal16', 'rms')
    .option('--out <file>', 'where to write the agent audio', 'agent.wav')
    .option('--timeout <ms>', 'longest wait for one turn', '30000')
    .option('--dial <number>', 'have the agent call this phone number (E.164) through the stack\'s Twilio account instead')
    .option('--api <url>', 'the HTTP API for --dial (default: the --url host over http(s))')
    .parse();
  const opts = program.opts<{ url?: string; say: string[]; wav: string[]; dtmf?: string; format: string; voice: string; out: string; timeout: string; dial?: string; api?: string }>();
  if (opts.dial) return dial(opts.dial, opts.url ?? defaultUrl(), opts.api);

  const url = opts.url ?? defaultUrl();
  const format: AudioFormat = opts.format === 'pcm16' ? { encoding: 'pcm16', sampleRate: 16000 } : { encoding: 'mulaw', sampleRate: 8000 };
  if (opts.say.length === 0 && opts.wav.length === 0 && !opts.dtmf) program.error('give at least one --say, --wav or --dtmf');

  const utterances: { label: string; audio: Uint8Array }[] = [];
  for (const text of opts.say) {
    const pcm = await synthesize(text, { voice: opts.voice as 'rms', sampleRate: format.sampleRate });
    utterances.push({ label: text, audio: fromPcm16(pcm, format) });
  }
  for (const file of opts.wav) utterances.push({ label: file, audio: readWav(file, format) });

  const caller = new CallerSession({ url, format, events: true });
  const timeoutMs = Number(opts.timeout);
  try {
    await caller.connect();
  } catch (err) {
    console.error(`could not connect to ${url.replace(/token=[^&]+/, 'token=…')}: ${(err as Error).message}`);
    process.exit(2);
  }
  const greeting = await caller.waitForTurn(1, timeoutMs);
  console.log(`agent: ${greeting?.reply ?? '(no greeting)'}`);
  await caller.waitForAgentSilence(300, timeoutMs);

  let failures = 0;
  let expectedTurn = 2;
  for (const u of utterances) {
    console.log(`\nyou:   ${u.label}`);
    await caller.speak(u.audio);
    const report = await caller.waitForTurn(expectedTurn, timeoutMs);
    if (!report) {
      failures++;
      console.log('agent: (no answer)');
      continue;
    }
    expectedTurn = report.turn + 1;
    console.log(`heard: ${report.transcript ?? '(nothing)'}`);
    console.log(`agent: ${report.reply ?? '(no reply)'}  [${report.intent ?? report.status}]`);
    console.log(`latency: ${fmt(report.serverLatencyMs)} end of speech → first agent audio (server); ${fmt(report.clientLatencyMs)} (client)`);
    if (report.timings) console.log(`stages: ${stages(report.timings)}`);
    if (report.endOfTurn) console.log(`end of turn: after ${report.endOfTurn.silenceMs} ms of silence${report.endOfTurn.heard ? ` (the words sounded ${report.endOfTurn.heard})` : ''}`);
    if (report.status !== 'completed') failures++;
    await caller.waitForAgentSilence(300, timeoutMs);
    if (caller.closed) break;
  }
  if (opts.dtmf && !caller.closed) {
    console.log(`\nyou:   (key ${opts.dtmf})`);
    caller.sendDtmf(opts.dtmf);
    const report = await caller.waitForTurn(expectedTurn, timeoutMs);
    console.log(`agent: ${report?.reply ?? '(no answer)'}`);
    await caller.waitForAgentSilence(300, timeoutMs);
  }
  if (!caller.closed) await caller.hangUp();
  writeWav(opts.out, caller.agentAudio(), format);
  console.log(`\nagent audio: ${opts.out}${caller.closeCode ? ` (call closed ${caller.closeCode})` : ''}`);
  process.exit(failures === 0 ? 0 : 1);
}

function defaultUrl(): string {
  const token = process.env.VOICE_AGENT_TOKEN;
  if (!token) throw new Error('pass --url (npm start prints it) or set VOICE_AGENT_TOKEN');
  return `ws://127.0.0.1:${process.env.PORT ?? 8080}/local?token=${encodeURIComponent(token)}`;
}

const fmt = (ms?: number) => (ms === undefined ? 'n/a' : `${Math.round(ms)} ms`);

/** Each stage's share of the turn, from the server's timings (epoch ms). */
function stages(t: Record<string, number>): string {
  const order: [string, string][] = [
    ['endpointAt', 'endpoint'],
    ['transcriptAt', 'speech-to-text'],
    ['firstTokenAt', 'model first token'],
    ['replyAt', 'first sentence'],
    ['ttsFirstByteAt', 'tts first byte'],
    ['firstAudioAt', 'sent'],
  ];
  let previous = t.speechEndAt ?? t.endpointAt!;
  const parts: string[] = [];
  for (const [key, label] of order) {
    if (t[key] === undefined) continue;
    parts.push(`${label} +${Math.round(t[key]! - previous)}`);
    previous = t[key]!;
  }
  return parts.join(', ') + ' (ms)';
}

function readWav(file: string, format: AudioFormat): Uint8Array {
  const wav = new WaveFile(readFileSync(file));
  wav.toBitDepth('16');
  const fmtChunk = wav.fmt as { sampleRate: number; numChannels: number };
  if (fmtChunk.numChannels !== 1) throw new Error(`${file}: only mono WAV files are supported`);
  const samples = Int16Array.from(wav.getSamples(false, Int16Array) as unknown as Int16Array);
  return fromPcm16(resample(samples, fmtChunk.sampleRate, format.sampleRate), format);
}

function writeWav(file: string, audio: Uint8Array, format: AudioFormat): void {
  const wav = new WaveFile();
  wav.fromScratch(1, format.sampleRate, '16', toPcm16(audio, format));
  writeFileSync(file, wav.toBuffer());
}

main().catch((err) => {
  console.error(err instanceof Error ? err.message : err);
  process.exit(1);
});

/** `--dial`: asks the stack to place a call (POST /calls) and prints what it answered. */
async function dial(to: string, url: string, api: string | undefined): Promise<void> {
  const ws = new URL(url);
  const token = ws.searchParams.get('token');
  if (!token) {
    console.error('--dial needs the long-lived token: a --url with ?token=<voiceAgentToken>');
    process.exit(2);
  }
  const base = api ?? `${ws.protocol === 'wss:' ? 'https:' : 'http:'}//${ws.host}`;
  const res = await fetch(`${base.replace(/\/$/, '')}/calls`, {
    method: 'POST',
    headers: { authorization: `Bearer ${token}`, 'content-type': 'application/json' },
    body: JSON.stringify({ to }),
  }).catch((err: Error) => {
    console.error(`could not reach ${base}: ${err.message}`);
    process.exit(2);
  });
  const body = (await res.json().catch(() => ({}))) as { callSid?: string; status?: string; message?: string; twilioCode?: number };
  if (res.status !== 201) {
    console.error(`not placed: HTTP ${res.status}: ${body.message ?? ''}${body.twilioCode !== undefined ? ` (Twilio code ${body.twilioCode})` : ''}`);
    process.exit(1);
  }
  console.log(`placed: ${body.callSid} (${body.status}); the agent greets whoever answers`);
}
