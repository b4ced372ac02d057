/**
 * `npx tsx tools/handler-cpu.ts [frames]`: CPU per silent media frame spent in the media handler bundle itself
 * (middy, Powertools, parsing, VAD, the call view), in-process against dynalite: no gateway, no Lambda runtime, no
 * thread hand-off. Set beside tools/stack-cpu.ts (the whole local stack per frame) it shows what the emulation adds.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCallStore } from '../functions/adapters/dynamo-call-store';
import { startInProcessTable } from '../local/dynamo/in-process';
import { functionCredentials } from '../local/iam';
import { bundlePath } from '../scripts/build-functions';
import { readFileSync } from 'node:fs';

async function main() {
  const table = await startInProcessTable();
  Object.assign(process.env, {
    CALLS_TABLE: table.tableName, DYNAMODB_ENDPOINT: table.endpoint, AWS_REGION: 'us-east-1', POWERTOOLS_LOG_LEVEL: 'WARN', POWERTOOLS_TRACE_ENABLED: 'false',
    AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED: 'true', AWS_LAMBDA_FUNCTION_NAME: 'media', ...functionCredentials('media'),
    // Frames go back to back, far above a caller's rate: measure the handler's work, not its refusals.
    MESSAGE_RATE_LIMIT: '1000000000', MESSAGE_BURST: '1000000000',
  });
  const store = new DynamoCallStore(table.tableName, new DynamoDBClient({ endpoint: table.endpoint, region: 'us-east-1', credentials: { accessKeyId: 'x', secretAccessKey: 'y' } }));
  const connectionId = 'k7bbLtIO5bsiQ2Y=';
  const createdAt = Date.now();
  await store.createCall(connectionId, connectionId, createdAt);
  await store.startStream(connectionId, { streamSid: 'MZ18ad3ab5a668481ce02b83e7395059f0', format: { encoding: 'mulaw', sampleRate: 8000 }, events: false, dialog: { name: 'front-desk' } as never, startedAt: Date.now() });
  const mod = await import(bundlePath('media')); // npm run build first
  const base = JSON.parse(readFileSync('events/media.json', 'utf8'));
  const ctx = { functionName: 'media', awsRequestId: 'r', getRemainingTimeInMillis: () => 10000 } as never;
  const n = Number(process.argv[2] ?? 3000);
  const run = async (from: number, count: number) => {
    for (let i = from; i < from + count; i++) {
      const body = JSON.parse(base.body);
      body.media.chunk = String(i); body.media.timestamp = String(i * 20); body.sequenceNumber = String(i + 1);
      // Received as a real-time caller's frames would be (else the faster-than-real-time check ends the call).
      const ev = { ...base, requestContext: { ...base.requestContext, requestTimeEpoch: createdAt + i * 20 }, body: JSON.stringify(body) };
      const r = await mod.handler(ev, ctx);
      if (i === from) console.log('status', r.statusCode, r.body?.slice?.(0, 100));
    }
  };
  await run(1, 200);
  const t0 = process.cpuUsage(); const w0 = performance.now();
  await run(201, n);
  const t = process.cpuUsage(t0);
  console.log(`per frame: ${((t.user + t.system) / n).toFixed(0)} µs CPU, ${((performance.now() - w0) * 1000 / n).toFixed(0)} µs wall; dynamo requests ${table.requests()}`);
  await table.close();
  process.exit(0);
}
main();
