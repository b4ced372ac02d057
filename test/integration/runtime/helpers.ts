import { join } from 'node:path';
import { LambdaRuntime } from '../../../local/runtime/runtime';
import type { FunctionConfig, InvokeResult, RuntimeOptions } from '../../../local/runtime/types';

export const FIXTURES = join(__dirname, '..', '..', 'fixtures', 'runtime');

export function fn(name: string, fixture: string, extra: Partial<FunctionConfig> = {}): FunctionConfig {
  return { name, bundlePath: join(FIXTURES, `${fixture}.js`), timeoutSeconds: 5, memoryMb: 128, ...extra };
}

const started: LambdaRuntime[] = [];

export function runtime(options: RuntimeOptions): LambdaRuntime {
  const rt = new LambdaRuntime(options);
  started.push(rt);
  return rt;
}

export async function stopAll(): Promise<void> {
  await Promise.all(started.splice(0).map((rt) => rt.stop()));
}

export function ok(r: InvokeResult): Extract<InvokeResult, { ok: true }> {
  if (!r.ok) throw new Error(`expected success, got ${r.errorType}: ${r.errorMessage}`);
  return r;
}

export function fail(r: InvokeResult): Extract<InvokeResult, { ok: false }> {
  if (r.ok) throw new Error(`expected failure, got ${JSON.stringify(r.payload)}`);
  return r;
}

export const sleep = (ms: number): Promise<void> => new Promise((resolve) => setTimeout(resolve, ms));
