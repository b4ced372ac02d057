/**
 * `$default`: everything no other route matched — Twilio's `connected` (valid, nothing to do), and bad input:
 * binary frames, malformed JSON, unknown events.
 */
import { ConnectedMessage, parseMessage, ProtocolError } from '../domain/protocol';
import { routeHandler } from '../lambda/route-handler';

export const handler = routeHandler('$default', async (event) => {
  if (event.isBase64Encoded) throw new ProtocolError('binary frame: the protocol is JSON text');
  let json: unknown;
  try {
    json = JSON.parse(event.body ?? '');
  } catch {
    throw new ProtocolError('malformed JSON');
  }
  const name = typeof json === 'object' && json !== null ? (json as { event?: unknown }).event : undefined;
  if (name === 'connected') {
    parseMessage(ConnectedMessage, event.body);
    return;
  }
  throw new ProtocolError(typeof name === 'string' ? `unknown event '${name.slice(0, 40)}'` : 'message has no event');
});
