/** `npm start`: the local stack in the foreground until SIGINT/SIGTERM. */
import { PLACEMENTS, type Placement } from './runtime/types';
import { LocalStack, PROVIDERS, type Providers } from './stack';

/** Function settings `npm start` passes through from its own environment (functions see nothing else of it). */
const TUNING_VARIABLES = ['PREEMPT_SILENCE_MS', 'ENDPOINT_SILENCE_MS', 'END_OF_TURN', 'COMPLETE_SILENCE_MS', 'COMPLETE_MIN_CONFIDENCE', 'UNSURE_SILENCE_MS', 'INCOMPLETE_SILENCE_MS', 'TICK_MS', 'SPEECH_END_TICK_MS', 'STT_TIMEOUT_MS', 'TTS_TIMEOUT_MS', 'VAD_THRESHOLD_DBFS', 'PROMPT_CACHE', 'POWERTOOLS_LOG_LEVEL', 'CALL_RETENTION_HOURS'];

async function main() {
  const providers = (process.env.PROVIDERS || 'offline') as Providers;
  if (!PROVIDERS.includes(providers)) throw new Error(`PROVIDERS=${providers}: expected one of ${PROVIDERS.join(', ')}`);
  const placement = (process.env.PLACEMENT || 'mru') as Placement;
  if (!PLACEMENTS.includes(placement)) throw new Error(`PLACEMENT=${placement}: expected one of ${PLACEMENTS.join(', ')}`);
  const responder = (process.env.RESPONDER || 'rules') as 'rules' | 'bedrock';
  if (!['rules', 'bedrock'].includes(responder)) throw new Error(`RESPONDER=${responder}: expected rules or bedrock`);
  const functionEnv = Object.fromEntries(TUNING_VARIABLES.flatMap((k) => (process.env[k] ? [[k, process.env[k]!]] : [])));
  const stack = new LocalStack({
    providers,
    responder,
    modelLatency: process.env.MODEL_LATENCY === 'zero' ? 'zero' : undefined,
    functionEnv,
    vendorAudio: process.env.VENDOR_AUDIO === 'synthetic' ? 'synthetic' : 'speech',
    port: Number(process.env.PORT ?? 8080),
    token: process.env.VOICE_AGENT_TOKEN || undefined,
    provisioned: process.env.PROVISIONED !== undefined ? Number(process.env.PROVISIONED) : undefined,
    provisionedByFunction: process.env.PROVISIONED_MEDIA !== undefined ? { media: Number(process.env.PROVISIONED_MEDIA) } : undefined,
    echoLogs: process.env.ECHO_LOGS === '1',
    placement,
    twilioAuthToken: process.env.TWILIO_AUTH_TOKEN || undefined,
    twilio: {
      accountSid: process.env.TWILIO_ACCOUNT_SID || undefined,
      transferNumber: process.env.TRANSFER_NUMBER || undefined,
      phoneNumber: process.env.TWILIO_PHONE_NUMBER || undefined,
    },
  });
  const started = Date.now();
  await stack.start();
  const stats = stack.runtime!.stats();
  const warm = Object.values(stats).reduce((n, s) => n + s.environments, 0);
  console.log(
    `voice agent ready: ${stack.callerUrl()} (speech: ${providers}; responder: ${responder}; placement: ${placement}; started in ${Date.now() - started} ms, ${warm} provisioned environments, logs in .cache/logs/)`,
  );
  console.log(`call it: npm run call -- --url '${stack.callerUrl()}' --say "what are your opening hours"`);
  console.log(`or talk to it in a browser: ${stack.pageUrl()} (press Call; the page asks for a 5-minute token itself)`);
  console.log(`the calls, turn by turn (the on-call history): ${stack.pageUrl()}history.html (token: ${stack.token}, the one in the call URL)`);
  if (stack.bedrock) console.log(`Bedrock Runtime is a local stand-in at ${stack.bedrock.url}: a deterministic policy (the front desk's rules asking for tool calls), not a language model`);
  if (process.env.TWILIO_AUTH_TOKEN) {
    console.log(`Twilio voice webhook: http://127.0.0.1:${stack.port}/twilio/voice (signed with TWILIO_AUTH_TOKEN)`);
    console.log(`Twilio's REST API (transfers, outbound calls) is a local stand-in at ${stack.twilioRest!.url}: it records requests; no phone rings`);
  }
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
