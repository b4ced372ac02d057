/**
 * `npx tsx tools/frame-cost.ts [--seconds 60] [--environments 1,4]`
 * Measures what the hot path costs in DynamoDB per 20 ms frame: a caller stream (speech 1.5 s, then 2.5 s of
 * silence while the agent answers, repeated) runs through the same domain code the handlers run, against
 * dynalite, with frames spread over N "environments" (separate warm caches) round-robin. Speech engines are
 * stand-ins here (their cost is not DynamoDB's); everything that touches the table is the product code.
 */
import { Command } from 'commander';
import { DynamoCallStore } from '../functions/adapters/dynamo-call-store';
import { bytesForMs, fromPcm16, silence } from '../functions/domain/audio';
import { CallService } from '../functions/domain/call/call-service';
import { DEFAULT_MEDIA_CONFIG, MediaProcessor } from '../functions/domain/call/media-processor';
import type { ConnectionSender, Telemetry } from '../functions/domain/call/model';
import { DEFAULT_TURN_CONFIG, TurnRunner } from '../functions/domain/call/turn-runner';
import type { MediaMessage } from '../functions/domain/protocol';
import { frontDeskResponder } from '../functions/domain/responder';
import { TELEPHONY_FORMAT, type SpeechToText, type TextToSpeech } from '../functions/domain/speech';
import { DEFAULT_ENDPOINTING } from '../functions/domain/vad';
import { startInProcessTable } from '../local/dynamo/in-process';

const quiet: Telemetry = { debug() {}, info() {}, warn() {}, error() {}, count() {}, milliseconds() {}, gauge() {} };
const sink: ConnectionSender = { send: async () => 'ok', close: async () => {} };
/** Stand-in recognizer: this tool counts table traffic, not recognition. */
const stt: SpeechToText = { name: 'stand-in', transcribe: async () => ({ text: 'what are your opening hours' }) };
const tts: TextToSpeech = {
  name: 'stand-in',
  async *synthesize(text, format) {
    yield new Uint8Array(bytesForMs(60 * text.split(' ').length, format));
  },
};

async function measure(seconds: number, environments: number, preemptSilenceMs: number, realTime: boolean) {
  const table = await startInProcessTable();
  const store = new DynamoCallStore(table.tableName, table.client);
  const now = () => Date.now();
  const turns = new TurnRunner({ store, sender: sink, stt, tts, responder: frontDeskResponder, telemetry: quiet, config: DEFAULT_TURN_CONFIG, now });
  const calls = new CallService(store, sink, turns, frontDeskResponder, quiet, now);
  // Without --realtime the frames go faster than real time: the flood check would end the call (it measures requests).
  const envs = Array.from({ length: environments }, () => new MediaProcessor(store, sink, turns, quiet, { ...DEFAULT_ENDPOINTING, ...DEFAULT_MEDIA_CONFIG, preemptSilenceMs, maxAheadMs: Number.POSITIVE_INFINITY }, now));
  await calls.connect('cost', 'conn');
  await calls.start('cost', { event: 'start', sequenceNumber: 1, streamSid: 'MZcost', start: { streamSid: 'MZcost' } }, Date.now());
  table.reset();

  const speech = Buffer.from(fromPcm16(Int16Array.from({ length: 160 }, (_, i) => Math.round(6000 * Math.sin(i / 4))), TELEPHONY_FORMAT)).toString('base64');
  const quietFrame = Buffer.from(silence(20, TELEPHONY_FORMAT)).toString('base64');
  const frames = seconds * 50;
  let speechFrames = 0;
  const running: Promise<unknown>[] = [];
  for (let chunk = 1; chunk <= frames; chunk++) {
    const inCycle = (chunk - 1) % 200; // 4 s cycle: 1.5 s speech, 2.5 s silence
    const isSpeech = inCycle >= 25 && inCycle < 100;
    if (isSpeech) speechFrames++;
    const message: MediaMessage = {
      event: 'media',
      sequenceNumber: chunk + 1,
      streamSid: 'MZcost',
      media: { track: 'inbound', chunk, timestamp: (chunk - 1) * 20, payload: isSpeech ? speech : quietFrame },
    };
    const handled = envs[chunk % environments]!.process({ callId: 'cost', receivedAt: Date.now() }, message);
    if (realTime) {
      // As the gateway delivers them: 20 ms apart, each frame in its own invocation, not waiting for the last.
      running.push(handled);
      await new Promise((r) => setTimeout(r, 20));
    } else {
      await handled;
    }
  }
  await Promise.all(running);
  const counts = table.counts();
  const turnsDone = (await store.listTurns('cost')).length - 1;
  await table.close();
  return { frames, speechFrames, silentFrames: frames - speechFrames, turns: turnsDone, counts };
}

async function main() {
  const opts = new Command()
    .option('--seconds <n>', 'length of the caller stream', '60')
    .option('--environments <list>', 'environments the frames are spread over', '1,4')
    .option('--preempt <ms>', 'preemptive generation after this much silence (0 = off; needs --realtime)', '0')
    .option('--realtime', 'deliver frames 20 ms apart without waiting for each (a speculation waits for later frames)')
    .parse()
    .opts<{ seconds: string; environments: string; preempt: string; realtime?: boolean }>();
  const preempt = Number(opts.preempt);
  if (preempt > 0 && !opts.realtime) throw new Error('--preempt needs --realtime: a speculation waits for frames that come later');
  console.log(`| environments | frames (speech / silent) | turns | DynamoDB requests | per frame | per speech frame | all other requests, per frame | request+response bytes per frame | by operation |`);
  console.log(`|---|---|---|---|---|---|---|---|---|`);
  for (const n of opts.environments.split(',').map(Number)) {
    const r = await measure(Number(opts.seconds), n, preempt, opts.realtime ?? false);
    const total = Object.values(r.counts).reduce((a, c) => a + c.requests, 0);
    const bytes = Object.values(r.counts).reduce((a, c) => a + c.requestBytes + c.responseBytes, 0);
    const puts = r.counts.PutItem?.requests ?? 0;
    const turnPuts = r.turns; // one TURN item per turn
    const other = total - (puts - turnPuts);
    const ops = Object.entries(r.counts)
      .map(([op, c]) => `${op} ${c.requests}`)
      .join(', ');
    console.log(
      `| ${n} | ${r.frames} (${r.speechFrames} / ${r.silentFrames}) | ${r.turns} | ${total} | ${(total / r.frames).toFixed(3)} | ` +
        `${((puts - turnPuts) / r.speechFrames).toFixed(3)} (frame writes) | ${(other / r.frames).toFixed(3)} | ${(bytes / r.frames).toFixed(0)} | ${ops} |`,
    );
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
