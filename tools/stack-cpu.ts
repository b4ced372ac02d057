/**
 * `npx tsx tools/stack-cpu.ts [--calls 5] [--seconds 10] [--frame-ms 20]`
 * What the local stack costs per media frame: starts it, connects N callers that stream silence after the
 * greeting, and reports media invocations per second and this process's CPU (gateway, runtime, environments and
 * callers; dynalite and the speech engines run in their own processes and are not counted).
 */
import { Command } from 'commander';
import { LocalStack } from '../local/stack';
import { CallerSession } from './caller/session';

async function main() {
  const o = new Command()
    .option('--calls <n>', 'concurrent callers', '5')
    .option('--seconds <n>', 'measurement window', '10')
    .option('--frame-ms <n>', 'media chunk length', '20')
    .option('--provisioned-media <n>', 'provisioned media environments (default: calls + 2)')
    .parse()
    .opts<{ calls: string; seconds: string; frameMs: string; provisionedMedia?: string }>();
  const calls = Number(o.calls);
  const provisionedMedia = o.provisionedMedia !== undefined ? Number(o.provisionedMedia) : calls + 2;
  const stack = await new LocalStack({ port: 0, provisionedByFunction: { media: provisionedMedia } }).start();
  const callers: CallerSession[] = [];
  try {
    for (let i = 0; i < calls; i++) {
      const caller = new CallerSession({ url: stack.callerUrl(), events: true, frameMs: Number(o.frameMs) });
      await caller.connect();
      callers.push(caller);
    }
    await Promise.all(callers.map((c) => c.waitForAgentSilence(500)));
    const before = stack.runtime!.stats().media!.invocations;
    const cpu = process.cpuUsage();
    const started = performance.now();
    await new Promise((resolve) => setTimeout(resolve, Number(o.seconds) * 1000));
    const used = process.cpuUsage(cpu);
    const ms = performance.now() - started;
    const invocations = stack.runtime!.stats().media!.invocations - before;
    const cpuUs = used.user + used.system;
    console.log(
      JSON.stringify({
        calls,
        provisionedMedia,
        mediaEnvironments: stack.runtime!.stats().media!.environments,
        frameMs: Number(o.frameMs),
        mediaInvocationsPerSecond: Math.round((invocations / ms) * 1000),
        cpuPercentOfOneCore: Math.round((cpuUs / 1000 / ms) * 100),
        cpuMicrosecondsPerFrame: Math.round(cpuUs / invocations),
      }),
    );
  } finally {
    for (const c of callers) await c.hangUp().catch(() => undefined);
    await stack.stop();
  }
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
