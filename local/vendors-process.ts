/**
 * The local Deepgram and ElevenLabs as their own process (test and benchmark tooling), so their work never stalls
 * the gateway. `VENDOR_LATENCY=seed|zero` picks the latency model, `VENDOR_AUDIO=speech|synthetic` the voice,
 * `VENDOR_FAULTS` (JSON `VendorFaultRates`) random faults. Prints {"deepgramUrl":…,"elevenLabsUrl":…,"controlUrl":…}.
 *
 * The control server (test tooling, its own port) scripts faults at run time and reports them:
 *   POST /faults {"next": Fault, "count"?: N, "vendor"?: "deepgram"|"elevenlabs"}  the next N requests (default 1) of
 *        that vendor (default both) get the fault;  {"clear": true, "vendor"?: …} drops the scripted ones.
 *   GET  /stats → {deepgram: {requests, faults, audioSeconds}, elevenlabs: {requests, faults}}, faults counted by kind.
 */
import { createServer } from 'node:http';
import type { AddressInfo } from 'node:net';
import { FAULTS, FaultPlan, faultRates, SEED_LATENCY, VENDORS, ZERO_LATENCY, type Fault, type Vendor, type VendorFaultRates } from './vendors/behaviour';
import { DeepgramServer } from './vendors/deepgram/server';
import { ElevenLabsServer } from './vendors/elevenlabs-server';

async function main() {
  const latency = process.env.VENDOR_LATENCY === 'zero' ? ZERO_LATENCY : SEED_LATENCY;
  const faultConfig = process.env.VENDOR_FAULTS ? (JSON.parse(process.env.VENDOR_FAULTS) as VendorFaultRates) : undefined;
  const deepgram = new DeepgramServer({
    apiKey: required('DEEPGRAM_API_KEY'),
    latency,
    fallbackRecognizerUrl: process.env.SPEECH_URL,
    faults: new FaultPlan(faultRates(faultConfig, 'deepgram')),
  });
  // Real speech (Flite) unless VENDOR_AUDIO=synthetic: Flite's own synthesis time on this machine (~0.2–0.4 s a
  // sentence) then adds to the modelled first byte; synthetic audio keeps the latency model alone (benchmarks).
  const synthUrl = process.env.VENDOR_AUDIO === 'synthetic' ? undefined : process.env.SPEECH_URL;
  const elevenLabs = new ElevenLabsServer({ apiKey: required('ELEVENLABS_API_KEY'), latency, synthUrl, faults: new FaultPlan(faultRates(faultConfig, 'elevenlabs')) });
  const plans: Record<Vendor, FaultPlan> = { deepgram: deepgram.faults, elevenlabs: elevenLabs.faults };
  const control = createServer((req, res) => {
    const reply = (status: number, body: unknown) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(body));
    };
    if (req.method === 'GET' && req.url === '/stats') {
      return reply(200, {
        deepgram: { requests: deepgram.stats.httpRequests + deepgram.stats.wsConnections, faults: deepgram.stats.faults, audioSeconds: deepgram.stats.audioSeconds },
        elevenlabs: { requests: elevenLabs.stats.ttsRequests, faults: elevenLabs.stats.faults },
      });
    }
    if (req.method !== 'POST' || req.url !== '/faults') return reply(404, { error: 'GET /stats or POST /faults' });
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}') as { next?: Fault; count?: number; vendor?: Vendor; clear?: boolean };
        if (body.vendor !== undefined && !VENDORS.includes(body.vendor)) throw new Error(`vendor must be one of ${VENDORS.join(', ')}`);
        const targets = body.vendor ? [plans[body.vendor]] : Object.values(plans);
        if (body.clear) targets.forEach((p) => p.clear());
        else {
          if (!body.next || !FAULTS.includes(body.next)) throw new Error(`next must be one of ${FAULTS.join(', ')}`);
          const count = body.count ?? 1;
          if (!Number.isInteger(count) || count < 1) throw new Error('count must be a positive integer');
          targets.forEach((p) => p.next(body.next!, count));
        }
        reply(200, { ok: true });
      } catch (err) {
        reply(400, { error: (err as Error).message });
      }
    });
  });
  await new Promise<void>((resolve) => control.listen(0, '127.0.0.1', resolve));
  const controlUrl = `http://127.0.0.1:${(control.address() as AddressInfo).port}`;
  const [deepgramUrl, elevenLabsUrl] = await Promise.all([deepgram.start(), elevenLabs.start()]);
  process.stdout.write(JSON.stringify({ deepgramUrl, elevenLabsUrl, controlUrl }) + '\n');
  const stop = () => void Promise.allSettled([deepgram.close(), elevenLabs.close(), new Promise((r) => control.close(r))]).finally(() => process.exit(0));
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
