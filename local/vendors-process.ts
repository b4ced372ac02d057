/**
 * The local Deepgram and ElevenLabs as their own process (test and benchmark tooling), so their work never stalls
 * the gateway. `VENDOR_LATENCY=seed|zero` picks the latency model, `VENDOR_AUDIO=speech|synthetic` the voice. Prints {"deepgramUrl":…,"elevenLabsUrl":…}.
 */
import { SEED_LATENCY, ZERO_LATENCY } from './vendors/behaviour';
import { DeepgramServer } from './vendors/deepgram-server';
import { ElevenLabsServer } from './vendors/elevenlabs-server';

async function main() {
  const latency = process.env.VENDOR_LATENCY === 'zero' ? ZERO_LATENCY : SEED_LATENCY;
  const deepgram = new DeepgramServer({
    apiKey: required('DEEPGRAM_API_KEY'),
    latency,
    fallbackRecognizerUrl: process.env.SPEECH_URL,
  });
  // Real speech (Flite) unless VENDOR_AUDIO=synthetic: Flite's own synthesis time on this machine (~0.2–0.4 s a
  // sentence) then adds to the modelled first byte; synthetic audio keeps the latency model alone (benchmarks).
  const synthUrl = process.env.VENDOR_AUDIO === 'synthetic' ? undefined : process.env.SPEECH_URL;
  const elevenLabs = new ElevenLabsServer({ apiKey: required('ELEVENLABS_API_KEY'), latency, synthUrl });
  const [deepgramUrl, elevenLabsUrl] = await Promise.all([deepgram.start(), elevenLabs.start()]);
  process.stdout.write(JSON.stringify({ deepgramUrl, elevenLabsUrl }) + '\n');
  const stop = () => void Promise.allSettled([deepgram.close(), elevenLabs.close()]).finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

function required(name: string): string {
  const value = process.env[name];
  if (!value) throw new Error(`${name} is required`);
  return value;
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
