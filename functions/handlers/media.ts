/** `media`: one frame of caller audio — the hot path (50 invocations per second per call on Twilio's framing). */
import { MediaMessage, parseMessage } from '../domain/protocol';
import { closeCaller, servicesFor } from '../shared/container';
import { routeHandler } from '../shared/handler';
import '../shared/speaks';

export const handler = routeHandler('media', async (event, ctx) => {
  const message = parseMessage(MediaMessage, event.body, event.isBase64Encoded);
  const services = servicesFor(event);
  if ((await services.media.process(ctx, message)) === 'over-max-duration') await services.calls.endOverMaxDuration(ctx.callId);
}, { closeConnection: closeCaller });
