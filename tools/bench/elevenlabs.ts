/**
 * CPU cost of the local ElevenLabs server per synthesized reply (benchmark tooling).
 *
 *   npx tsx tools/bench/elevenlabs.ts [--calls 100] [--seconds 10] [--format ulaw_8000|pcm_16000]
 *                                             [--route stream|convert] [--latency seed|zero]
 *
 * The server runs in a child process, so only its CPU is counted (process.cpuUsage over the measured window);
 * `--calls` clients in this process each request replies back to back with raw fetch and read them to the end.
 * Replies come from a fixed set of sentences that are requested once before measuring, so every measured reply is
 * a cache hit (synthetic audio; with synthUrl the misses cost Flite in the speech server, not here).
 */
import { fork } from 'node:child_process';
import { ElevenLabsServer } from '../../local/vendors/elevenlabs-server';
import { SEED_LATENCY, ZERO_LATENCY } from '../../local/vendors/behaviour';

const SENTENCES = [
  'Thanks for calling Acme Dental.',
  'How can I help you today?',
  'We are open from nine to five, Monday to Friday.',
  'I can book that appointment for you.',
  'What day works best for you?',
  'Tuesday at three pm is available.',
  'Your appointment is confirmed.',
  'Is there anything else I can help with?',
  'Sorry, I did not catch that. Could you say it again?',
  'Goodbye, and thanks for calling.',
];

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 && process.argv[i + 1] ? process.argv[i + 1]! : fallback;
}

async function serve(): Promise<void> {
  const server = new ElevenLabsServer({ apiKey: 'bench', latency: arg('latency', 'seed') === 'zero' ? ZERO_LATENCY : SEED_LATENCY });
  const url = await server.start();
  let mark = process.cpuUsage();
  process.on('message', (m: string) => {
    if (m === 'mark') {
      mark = process.cpuUsage();
      process.send!({ marked: true });
    } else if (m === 'report') {
      const u = process.cpuUsage(mark);
      process.send!({ userUs: u.user, systemUs: u.system, stats: server.stats, rssMb: process.memoryUsage().rss / 2 ** 20 });
    } else if (m === 'exit') void server.close().then(() => process.exit(0));
  });
  process.send!({ url });
}

async function main(): Promise<void> {
  const calls = Number(arg('calls', '100'));
  const seconds = Number(arg('seconds', '10'));
  const format = arg('format', 'ulaw_8000');
  const route = arg('route', 'stream');
  const child = fork(__filename, ['--serve', '--latency', arg('latency', 'seed')], { execArgv: ['--import', 'tsx'] });
  const next = (): Promise<Record<string, unknown>> => new Promise((resolve) => child.once('message', (m) => resolve(m as Record<string, unknown>)));
  const { url } = (await next()) as { url: string };
  const path = route === 'stream' ? 'stream' : '';
  const reply = async (text: string): Promise<number> => {
    const r = await fetch(`${url}/v1/text-to-speech/voice/${path}?output_format=${format}`, {
      method: 'POST',
      headers: { 'xi-api-key': 'bench', 'content-type': 'application/json' },
      body: JSON.stringify({ text, model_id: 'eleven_flash_v2_5' }),
    });
    if (r.status !== 200) throw new Error(`HTTP ${r.status}`);
    return (await r.arrayBuffer()).byteLength;
  };
  for (const s of SENTENCES) await reply(s); // fill the cache
  child.send('mark');
  await next();
  const until = Date.now() + seconds * 1000;
  let replies = 0;
  let bytes = 0;
  const started = Date.now();
  await Promise.all(
    Array.from({ length: calls }, async (_, c) => {
      for (let i = c; Date.now() < until; i++) {
        const n = await reply(SENTENCES[i % SENTENCES.length]!);
        bytes += n;
        replies++;
      }
    }),
  );
  const wallMs = Date.now() - started;
  child.send('report');
  const r = (await next()) as { userUs: number; systemUs: number; stats: unknown; rssMb: number };
  child.send('exit');
  const cpuMs = (r.userUs + r.systemUs) / 1000;
  console.log(
    JSON.stringify(
      {
        calls,
        format,
        route,
        latency: arg('latency', 'seed'),
        wallMs,
        replies,
        audioSeconds: Math.round(bytes / (format === 'ulaw_8000' ? 8000 : 32000)),
        serverCpuMs: Math.round(cpuMs),
        serverCpuPerReplyMs: Number((cpuMs / replies).toFixed(3)),
        serverCoreShare: Number((cpuMs / wallMs).toFixed(3)),
        serverRssMb: Math.round(r.rssMb),
        stats: r.stats,
      },
      null,
      2,
    ),
  );
}

if (process.argv.includes('--serve')) void serve();
else void main();
