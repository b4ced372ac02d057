/**
 * Bedrock Runtime's streaming responses on the wire: `application/vnd.amazon.eventstream` messages (prelude, headers,
 * payload, CRCs), encoded by Smithy's own codec, the one the SDK decodes them with. A ConverseStream response is a
 * sequence of event messages (`:message-type: event`, `:event-type: messageStart | contentBlockStart | …`, JSON
 * payload); a failure after the stream has started is an exception message (`:message-type: exception`,
 * `:exception-type: throttlingException | modelStreamErrorException | …`, JSON payload with `message`).
 */
import { EventStreamCodec } from '@smithy/core/event-streams';

const codec = new EventStreamCodec(
  (bytes) => Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength).toString('utf8'),
  (text) => new Uint8Array(Buffer.from(text, 'utf8')),
);

const json = (payload: unknown): Uint8Array => new Uint8Array(Buffer.from(JSON.stringify(payload), 'utf8'));

/** A JSON message of the given kind: `event` named by `:event-type`, or `exception` named by `:exception-type`. */
function message(kind: 'event' | 'exception', name: string, payload: unknown): Uint8Array {
  return codec.encode({
    headers: {
      [`:${kind}-type`]: { type: 'string', value: name },
      ':content-type': { type: 'string', value: 'application/json' },
      ':message-type': { type: 'string', value: kind },
    },
    body: json(payload),
  });
}

/** One event of the stream, e.g. `eventMessage('contentBlockDelta', {contentBlockIndex: 0, delta: {text: 'Hi'}})`. */
export const eventMessage = (eventType: string, payload: unknown): Uint8Array => message('event', eventType, payload);

/** An error after the stream started, as the service sends it (the SDK throws it as the named exception). */
export const exceptionMessage = (exceptionType: string, payload: { message: string } & Record<string, unknown>): Uint8Array =>
  message('exception', exceptionType, payload);

/** Decodes one message (tests read the stand-in's bytes back with it). */
export function decodeMessage(bytes: Uint8Array): { headers: Record<string, string>; payload: unknown } {
  const message = codec.decode(bytes);
  const headers = Object.fromEntries(Object.entries(message.headers).map(([k, v]) => [k, String(v.value)]));
  return { headers, payload: JSON.parse(Buffer.from(message.body).toString('utf8')) as unknown };
}
