/** The offline speech engines as their own process (their CPU must not stall the gateway). Prints {"url":…}. */
import { FRONT_DESK_CORPUS } from '../functions/domain/responder';
import { startSpeechServer } from './speech/server';

async function main() {
  const server = await startSpeechServer({
    port: Number(process.env.SPEECH_PORT ?? 0),
    corpus: FRONT_DESK_CORPUS,
    sttPoolSize: Number(process.env.STT_POOL_SIZE ?? 2),
    ttsCacheEntries: process.env.TTS_CACHE === '0' ? 0 : undefined,
  });
  process.stdout.write(JSON.stringify({ url: server.url }) + '\n');
  const stop = () => void server.close().finally(() => process.exit(0));
  process.on('SIGTERM', stop);
  process.on('SIGINT', stop);
}

main().catch((err) => {
  console.error(err);
  process.exit(1);
});
