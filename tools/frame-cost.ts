/**
 * `npx tsx tools/frame-cost.ts [--seconds 60] [--environments 1,4,16,64,256] [--preempt 0|200] [--frame-ms 20] [--undeclared]`
 * What one call costs DynamoDB per frame, and whether that depends on how many Lambda environments share the call.
 * A caller stream (speech 1.5 s, then 2.5 s of silence while the agent answers, repeated) is delivered in real time
 * (one frame every frame-ms, each handled without waiting for the previous, as the gateway does) through the same
 * domain code the handlers run, against dynalite, spread round-robin over N "environments" (MediaProcessors with
 * their own warm caches) — the worst placement: no environment sees two consecutive frames. Marks come back as a
 * caller's playback reaches them. Speech engines are stand-ins (their cost is not DynamoDB's); everything that
 * touches the table is the product code.
 */
import { Command } from 'commander';
import { writeFileSync } from 'node:fs';
import { DynamoCallStore } from '../functions/adapters/dynamo-call-store';
import { bytesForMs, durationMs, fromPcm16, silence } from '../functions/domain/audio';
import { crossesTick, DEFAULT_MEDIA_CONFIG } from '../functions/domain/call/media-processor';
import type { ConnectionSender, Telemetry } from '../functions/domain/call/model';
import { DEFAULT_TURN_CONFIG } from '../functions/domain/call/turn-runner';
import { wireCall } from '../functions/domain/call/wiring';
import type { MediaMessage } from '../functions/domain/protocol';
import { frontDeskResponder } from '../functions/domain/responder';
import { TELEPHONY_FORMAT } from '../functions/contracts/audio-format';
import { type SpeechToText, type TextToSpeech } from '../functions/domain/speech';
import { DEFAULT_ENDPOINTING } from '../functions/contracts/turn-policy';
import { startInProcessTable, type OperationCount } from '../local/dynamo/in-process';

const quiet: Telemetry = { debug() {}, info(m) { if (process.env.FRAME_COST_DEBUG) console.log('info', m); }, warn(m) { if (process.env.FRAME_COST_DEBUG) console.log('warn', m); }, error() {}, count(m) { if (process.env.FRAME_COST_DEBUG) console.log('count', m); }, milliseconds() {}, gauge() {} };
/** Stand-in recognizer: this tool counts table traffic, not recognition. */
const stt: SpeechToText = { name: 'stand-in', transcribe: async () => ({ text: 'what are your opening hours' }) };
const tts: TextToSpeech = {
  name: 'stand-in',
  async *synthesize(text, format) {
    yield new Uint8Array(bytesForMs(60 * text.split(' ').length, format));
  },
};

export interface FrameCost {
  environments: number;
  frames: number;
  speechFrames: number;
  turns: number;
  /** Every request of the call (media, turns, marks), by operation. */
  counts: Record<string, OperationCount>;
  /** GetItems that were an environment's first look at the call: one per environment whose first frame of the call was not a tick of a declared connection. */
  firstLooks: number;
}

export async function measureFrameCost(opts: {
  seconds: number;
  environments: number;
  preemptSilenceMs: number;
  frameMs: number;
  /** The connection declared its format at connect (Twilio's always does): an environment whose first frame is a tick reads nothing more. */
  declared?: boolean;
}): Promise<FrameCost> {
  const { seconds, environments, preemptSilenceMs, frameMs } = opts;
  const declared = opts.declared ?? true;
  const table = await startInProcessTable();
  const store = new DynamoCallStore(table.tableName, table.client);
  const now = () => Date.now();
  // The caller's side: plays the agent's audio and echoes each mark when playback reaches it.
  let playedUntil = 0;
  const timers = new Set<NodeJS.Timeout>();
  const sink: ConnectionSender = {
    async send(_connectionId, data) {
      const message = JSON.parse(data) as { event: string; media?: { payload: string }; mark?: { name: string } };
      if (message.event === 'clear') playedUntil = now();
      if (message.event === 'media') playedUntil = Math.max(playedUntil, now()) + durationMs(Buffer.from(message.media!.payload, 'base64').byteLength, TELEPHONY_FORMAT);
      if (message.event === 'mark') {
        const name = message.mark!.name;
        const timer = setTimeout(() => {
          timers.delete(timer);
          void calls.mark('cost', { event: 'mark', sequenceNumber: 0, streamSid: 'MZcost', mark: { name } }).catch(() => undefined);
        }, Math.max(0, playedUntil - now()));
        timers.add(timer);
      }
      return 'ok';
    },
    close: async () => {},
  };
  const config = { ...DEFAULT_ENDPOINTING, ...DEFAULT_MEDIA_CONFIG, preemptSilenceMs };
  // Each environment wired on its own, as each Lambda environment is: its own services and warm cache.
  const environment = () =>
    wireCall({ store, sender: sink, stt, tts, responder: frontDeskResponder, telemetry: quiet, turnConfig: DEFAULT_TURN_CONFIG, mediaConfig: config, now });
  const { calls } = environment();
  const envs = Array.from({ length: environments }, () => environment().media);
  await calls.connect('cost', 'conn');
  const connectedAt = Date.now();
  await calls.start('cost', { event: 'start', sequenceNumber: 1, streamSid: 'MZcost', start: { streamSid: 'MZcost' } }, Date.now());
  table.reset();

  const samples = (frameMs * 8000) / 1000;
  const speech = Buffer.from(fromPcm16(Int16Array.from({ length: samples }, (_, i) => Math.round(6000 * Math.sin(i / 4))), TELEPHONY_FORMAT)).toString('base64');
  const quietFrame = Buffer.from(silence(frameMs, TELEPHONY_FORMAT)).toString('base64');
  const frames = Math.round((seconds * 1000) / frameMs);
  const cycle = Math.round(4000 / frameMs); // 4 s: 0.5 s silence, 1.5 s speech, 2 s silence
  const speechFrom = Math.round(500 / frameMs);
  const speechTo = Math.round(2000 / frameMs);
  let speechFrames = 0;
  // An environment reads the call once (one GetItem): on its first frame of an undeclared connection; on a declared
  // one, before the first speech frame between ticks it would store, unless one of its ticks read the call first.
  let firstLooks = 0;
  const looked = new Set<number>();
  const running: Promise<unknown>[] = [];
  const firstFrameAt = connectedAt;
  for (let chunk = 1; chunk <= frames; chunk++) {
    const inCycle = (chunk - 1) % cycle;
    const isSpeech = inCycle >= speechFrom && inCycle < speechTo;
    if (isSpeech) speechFrames++;
    const message: MediaMessage = {
      event: 'media',
      sequenceNumber: chunk + 1,
      streamSid: 'MZcost',
      media: { track: 'inbound', chunk, timestamp: (chunk - 1) * frameMs, payload: isSpeech ? speech : quietFrame },
    };
    // As the gateway delivers them: in real time, each frame in its own invocation, not waiting for the last.
    const connection = declared ? { declaredFormat: TELEPHONY_FORMAT, connectedAt } : {};
    const env = chunk % environments;
    const tick = crossesTick(message.media.timestamp, frameMs, config.tickMs);
    if (!looked.has(env) && (!declared || tick || isSpeech)) {
      if (!(declared && tick)) firstLooks++;
      looked.add(env);
    }
    running.push(envs[env]!.process({ ...connection, callId: 'cost', receivedAt: Date.now(), startedAt: Date.now() }, message));
    const due = firstFrameAt + chunk * frameMs;
    await new Promise((r) => setTimeout(r, Math.max(0, due - Date.now())));
  }
  await Promise.all(running);
  await new Promise((r) => setTimeout(r, 1500)); // the last turn's marks
  for (const t of timers) clearTimeout(t);
  const counts = structuredClone(table.counts());
  const turnsDone = (await store.listTurns('cost')).length - 1;
  await table.close();
  return { environments, frames, speechFrames, turns: turnsDone, counts, firstLooks };
}

export function frameCostRow(r: FrameCost): { requestsPerFrame: number; bytesPerFrame: number; steadyRequestsPerFrame: number; line: string } {
  const total = Object.values(r.counts).reduce((a, c) => a + c.requests, 0);
  const bytes = Object.values(r.counts).reduce((a, c) => a + c.requestBytes + c.responseBytes, 0);
  const puts = r.counts.PutItem?.requests ?? 0;
  const speechWrites = puts - r.turns; // one TURN item per turn
  const ops = Object.entries(r.counts)
    .map(([op, c]) => `${op} ${c.requests}`)
    .join(', ');
  const requestsPerFrame = total / r.frames;
  const steadyRequestsPerFrame = (total - r.firstLooks) / r.frames;
  const bytesPerFrame = bytes / r.frames;
  const line =
    `| ${r.environments} | ${r.frames} (${r.speechFrames} / ${r.frames - r.speechFrames}) | ${r.turns} | ${total} | **${requestsPerFrame.toFixed(3)}** | ` +
    `${r.firstLooks} | ${steadyRequestsPerFrame.toFixed(3)} | ${(speechWrites / r.speechFrames).toFixed(3)} | ${((total - speechWrites) / r.frames).toFixed(3)} | ` +
    `**${bytesPerFrame.toFixed(0)}** | ${ops} |`;
  return { requestsPerFrame, bytesPerFrame, steadyRequestsPerFrame, line };
}

export const FRAME_COST_HEADER = [
  '| environments | frames (speech / silent) | turns | DynamoDB requests | **per frame** | first looks | per frame without them | frame writes per speech frame | everything else, per frame | **bytes per frame** (request + response) | by operation |',
  '|---|---|---|---|---|---|---|---|---|---|---|',
];

async function main() {
  const opts = new Command()
    .option('--seconds <n>', 'length of the caller stream', '60')
    .option('--environments <list>', 'environments the frames are spread over', '1,4,16,64,256')
    .option('--preempt <ms>', 'preemptive generation after this much silence (0 = off)', '0')
    .option('--frame-ms <ms>', 'caller audio per message (Twilio: 20)', '20')
    .option('--undeclared', 'a connection that did not declare its audio format at connect: each environment reads the call on its first frame, tick or not')
    .option('--json <file>', 'also write the measurements there (what `npm run benchmarks` keeps in .cache/benchmarks/frame-cost.json)')
    .parse()
    .opts<{ seconds: string; environments: string; preempt: string; frameMs: string; undeclared?: boolean; json?: string }>();
  console.log(FRAME_COST_HEADER.join('\n'));
  const rows: ReturnType<typeof frameCostRow>[] = [];
  const costs: FrameCost[] = [];
  for (const n of opts.environments.split(',').map(Number)) {
    const r = await measureFrameCost({ seconds: Number(opts.seconds), environments: n, preemptSilenceMs: Number(opts.preempt), frameMs: Number(opts.frameMs), declared: !opts.undeclared });
    costs.push(r);
    if (opts.json) writeFileSync(opts.json, JSON.stringify(costs, null, 2));
    const row = frameCostRow(r);
    rows.push(row);
    console.log(row.line);
  }
  const ratio = (f: (r: (typeof rows)[number]) => number) => Math.max(...rows.map(f)) / Math.min(...rows.map(f));
  console.log(
    `\nlargest / smallest per frame: requests ${ratio((r) => r.requestsPerFrame).toFixed(3)}, bytes ${ratio((r) => r.bytesPerFrame).toFixed(3)} ` +
      `(without first looks: requests ${ratio((r) => r.steadyRequestsPerFrame).toFixed(3)})`,
  );
}

if (require.main === module) {
  main().catch((err) => {
    console.error(err);
    process.exit(1);
  });
}
