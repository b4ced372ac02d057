/** `stop`: the caller's side ended the stream. */
import { parseMessage, StopMessage } from '../domain/protocol';
import { servicesFor } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';

export const handler = routeHandler('stop', async (event, ctx) => {
  const message = parseMessage(StopMessage, event.body, event.isBase64Encoded);
  await servicesFor(event).calls.stop(ctx.callId, message);
});
