/** `$connect`: the authorizer has already allowed the caller; create the call. */
import { servicesFor } from '../shared/container';
import { routeHandler } from '../shared/handler';

export const handler = routeHandler('$connect', async (event, ctx) => {
  await servicesFor(event).calls.connect(ctx.callId, ctx.connectionId);
  return { statusCode: 200 };
});
