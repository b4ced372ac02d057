/** `$disconnect`: the socket is gone; end the call if nothing else did. */
import { servicesFor } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';

export const handler = routeHandler('$disconnect', async (event, ctx) => {
  const { disconnectStatusCode, disconnectReason } = event.requestContext;
  await servicesFor(event).calls.disconnect(ctx.callId, `disconnect:${disconnectStatusCode ?? 'unknown'}${disconnectReason ? ` ${disconnectReason}` : ''}`);
});
