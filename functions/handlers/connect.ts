/** `$connect`: the authorizer has already allowed the caller; create the call. */
import { servicesFor } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';

export const handler = routeHandler('$connect', async (event, ctx) => {
  await servicesFor(event).calls.connect(ctx.callId, ctx.connectionId);
  return { statusCode: 200 };
});
