/** `npm start`: the local stack in the foreground until SIGINT/SIGTERM. */
import { LocalStack } from './stack';

async function main() {
  const stack = new LocalStack({
    port: Number(process.env.PORT ?? 8080),
    token: process.env.VOICE_AGENT_TOKEN || undefined,
    provisioned: process.env.PROVISIONED !== undefined ? Number(process.env.PROVISIONED) : undefined,
    provisionedByFunction: process.env.PROVISIONED_MEDIA !== undefined ? { media: Number(process.env.PROVISIONED_MEDIA) } : undefined,
    echoLogs: process.env.ECHO_LOGS === '1',
  });
  // The token seeds the local app secret; function environments inherit this process's variables, so drop it here.
  delete process.env.VOICE_AGENT_TOKEN;
  const started = Date.now();
  await stack.start();
  const stats = stack.runtime!.stats();
  const warm = Object.values(stats).reduce((n, s) => n + s.environments, 0);
  console.log(`voice agent ready: ${stack.callerUrl()} (started in ${Date.now() - started} ms, ${warm} provisioned environments, logs in .cache/logs/)`);
  console.log(`call it: npm run call -- --url '${stack.callerUrl()}' --say "what are your opening hours"`);
  let stopping = false;
  const stop = async (signal: string) => {
    if (stopping) return;
    stopping = true;
    console.log(`${signal}: stopping`);
    await stack.stop();
    process.exit(0);
  };
  process.on('SIGINT', () => void stop('SIGINT'));
  process.on('SIGTERM', () => void stop('SIGTERM'));
}

main().catch((err) => {
  console.error(`voice agent failed to start: ${err instanceof Error ? err.message : String(err)}`);
  process.exit(1);
});
