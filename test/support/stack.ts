/** The local stack for integration tests: one per test file, plus helpers to speak and to read call state. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ScanCommand, DynamoDBDocumentClient } from '@aws-sdk/lib-dynamodb';
import WebSocket from 'ws';
import path from 'node:path';
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { fromPcm16 } from '../../functions/domain/audio';
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { localClientConfig, LocalStack, TABLE_NAME, type LocalStackOptions } from '../../local/stack';
import { synthesize } from '../../local/speech/tts/flite';
import { CallerSession } from '../../tools/caller/session';

export async function startStack(name: string, options: LocalStackOptions = {}) {
  const stack = new LocalStack({
    port: 0,
    logsDir: path.resolve(__dirname, '..', '..', '.cache', 'test-logs', name),
    skipBuild: true, // npm test bundles once before jest
    ...options,
  });
  await stack.start();
  const store = new DynamoCallStore(TABLE_NAME, new DynamoDBClient(localClientConfig(stack.dynamoEndpoint)));
  return { stack, store };
}

const cache = new Map<string, Uint8Array>();
/** The caller's words, synthesized offline (Flite) in the wire format. */
export async function speech(text: string, format: AudioFormat = { encoding: 'mulaw', sampleRate: 8000 }, voice: 'rms' | 'slt' = 'rms') {
  const key = `${text}|${format.encoding}|${voice}`;
  let audio = cache.get(key);
  if (!audio) {
    audio = fromPcm16(await synthesize(text, { voice, sampleRate: format.sampleRate }), format);
    cache.set(key, audio);
  }
  return audio;
}

export async function connectCaller(stack: LocalStack, options: Partial<ConstructorParameters<typeof CallerSession>[0]> = {}) {
  const caller = new CallerSession({ url: stack.callerUrl(), events: true, ...options });
  await caller.connect();
  return caller;
}


export const until = async (predicate: () => boolean | Promise<boolean>, timeoutMs = 10_000, stepMs = 50) => {
  const deadline = Date.now() + timeoutMs;
  while (!(await predicate())) {
    if (Date.now() > deadline) throw new Error('condition not met in time');
    await new Promise((r) => setTimeout(r, stepMs));
  }
};

/** The HTTP status of a WebSocket upgrade the stack refuses; an upgrade that succeeds fails the test. */
export function upgradeStatus(url: string, headers: Record<string, string> = {}): Promise<number> {
  return new Promise((resolve, reject) => {
    const ws = new WebSocket(url, { headers });
    ws.once('unexpected-response', (_req, res) => resolve(res.statusCode ?? 0));
    ws.once('open', () => {
      ws.terminate();
      reject(new Error(`connected to ${url.replace(/token=[^&]*/, 'token=…')} without valid credentials`));
    });
    ws.once('error', () => undefined);
  });
}

/** A call's id is its connection id, which the caller never sees: find the call by its stream (the test key may scan). */
export async function callIdOf(stack: LocalStack, streamSid: string, timeoutMs = 10_000): Promise<string> {
  const doc = DynamoDBDocumentClient.from(new DynamoDBClient(localClientConfig(stack.dynamoEndpoint)));
  let id: string | undefined;
  await until(async () => {
    const out = await doc.send(new ScanCommand({ TableName: TABLE_NAME, FilterExpression: 'streamSid = :s', ExpressionAttributeValues: { ':s': streamSid } }));
    id = out.Items?.[0]?.callId as string | undefined;
    return id !== undefined;
  }, timeoutMs);
  return id!;
}
