/**
 * Init-time priming. Awaited by each function's entry (top-level await in an ES module), so Lambda runs it during
 * init — before a provisioned environment takes traffic — instead of in the first invocation. Without it the first
 * frames of a call each pay the first SDK request, schema compilation and lazy code loading, and at 50 frames a
 * second that pushes invocations onto on-demand environments: cold starts on the hot path.
 */
import { fromPcm16, toPcm16, isSpeech } from '../domain/audio';
import { MediaMessage, parseMessage } from '../domain/protocol';
import { TELEPHONY_FORMAT } from '../contracts/audio-format';
import { DEFAULT_ENDPOINTING } from '../contracts/turn-policy';
import { functionSpec } from '../contracts/routes';
import { primeServices } from './container';
import { logger } from '../lambda/observability';
import { primeAppSecret, withinPrimeBudget } from './prime-secret';

export async function primeEnvironment(functionName: string): Promise<void> {
  const started = Date.now();
  const spec = functionSpec(functionName);
  if (!spec) throw new Error(`'${functionName}' is not in the route table`);
  try {
    const frame = fromPcm16(new Int16Array(160), TELEPHONY_FORMAT);
    const sample = JSON.stringify({
      event: 'media',
      sequenceNumber: '2',
      streamSid: 'MZprime',
      media: { track: 'inbound', chunk: '1', timestamp: '0', payload: Buffer.from(frame).toString('base64') },
    });
    isSpeech(toPcm16(Buffer.from(parseMessage(MediaMessage, sample).media.payload, 'base64'), TELEPHONY_FORMAT), DEFAULT_ENDPOINTING);
    await withinPrimeBudget(Promise.all([primeServices(spec.permissions), primeAppSecret(functionName)]));
    logger.debug('environment primed', { functionName, ms: Date.now() - started });
  } catch (err) {
    // Priming is an optimization: never fail init over it.
    logger.warn('priming failed', { functionName, error: (err as Error).message });
  }
}
