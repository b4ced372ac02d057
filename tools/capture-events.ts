/**
 * `npx tsx tools/capture-events.ts` — regenerates `events/`: one event per route (and the authorizer's) exactly as
 * the local gateway hands them to Lambda, captured from a scripted Twilio-shaped session.
 */
import { mkdirSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import WebSocket from 'ws';
import { AUTHORIZER, ROUTES } from '../functions/contracts/routes';
import { WebSocketGateway } from '../local/gateway/gateway';
import type { Invoker } from '../local/runtime/types';

const OUT = path.resolve(__dirname, '..', 'events');

async function main() {
  const captured = new Map<string, unknown>();
  const invoker: Invoker = {
    async invoke(functionName, event) {
      if (!captured.has(functionName)) captured.set(functionName, event);
      const payload =
        functionName === AUTHORIZER.name
          ? {
              principalId: 'caller',
              policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: 'Allow', Resource: (event as { methodArn: string }).methodArn }] },
              context: { authenticatedBy: 'token' },
            }
          : { statusCode: 200 };
      return { ok: true, payload, environmentId: 'capture', durationMs: 0 };
    },
  };
  const gateway = new WebSocketGateway({
    invoker,
    routes: ROUTES.map((r) => ({ routeKey: r.routeKey, functionName: r.name })),
    authorizer: { functionName: AUTHORIZER.name, identitySource: [...AUTHORIZER.identitySource] },
    stage: 'local',
    port: 0,
  });
  const { url } = await gateway.start();
  const ws = new WebSocket(`${url}?token=EXAMPLE-TOKEN`, { headers: { 'User-Agent': 'Twilio.TmeWs/1.0' } });
  await new Promise((resolve, reject) => ws.once('open', resolve).once('error', reject));
  const streamSid = 'MZ18ad3ab5a668481ce02b83e7395059f0';
  const callSid = 'CA5f0e8d1c2b3a4f5e6d7c8b9a0f1e2d3c';
  const send = (m: object) => ws.send(JSON.stringify(m));
  send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
  send({
    event: 'start',
    sequenceNumber: '1',
    streamSid,
    start: {
      accountSid: 'AC00000000000000000000000000000000',
      streamSid,
      callSid,
      tracks: ['inbound'],
      customParameters: {},
      mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 },
    },
  });
  send({ event: 'media', sequenceNumber: '2', streamSid, media: { track: 'inbound', chunk: '1', timestamp: '0', payload: Buffer.alloc(160, 0xff).toString('base64') } });
  send({ event: 'dtmf', sequenceNumber: '3', streamSid, dtmf: { track: 'inbound_track', digit: '0' } });
  send({ event: 'mark', sequenceNumber: '4', streamSid, mark: { name: 't1-end' } });
  send({ event: 'stop', sequenceNumber: '5', streamSid, stop: { accountSid: 'AC00000000000000000000000000000000', callSid } });
  await new Promise((r) => setTimeout(r, 300));
  ws.close(1000);
  await new Promise((r) => setTimeout(r, 300));
  await gateway.stop();

  mkdirSync(OUT, { recursive: true });
  for (const fn of [...ROUTES.map((r) => r.name), AUTHORIZER.name]) {
    const event = captured.get(fn);
    if (!event) throw new Error(`no event captured for ${fn}`);
    writeFileSync(path.join(OUT, `${fn}.json`), JSON.stringify(event, null, 2) + '\n');
  }
  console.log(`wrote ${captured.size} events to ${path.relative(process.cwd(), OUT)}/`);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
