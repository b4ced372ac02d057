/** `mark`: the caller's side played our audio up to a mark we sent. */
import { MarkMessage, parseMessage } from '../domain/protocol';
import { closeCaller, servicesFor } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';

export const handler = routeHandler('mark', async (event, ctx) => {
  const message = parseMessage(MarkMessage, event.body, event.isBase64Encoded);
  await servicesFor(event).calls.mark(ctx.callId, message);
}, { closeConnection: closeCaller });
