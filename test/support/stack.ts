/** The local stack for integration tests: one per test file, plus helpers to speak and to read call state. */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import { DynamoCallStore } from '../../functions/adapters/dynamo-call-store';
import { fromPcm16 } from '../../functions/domain/audio';
import type { AudioFormat } from '../../functions/domain/speech';
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
