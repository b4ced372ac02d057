/** `media`: one frame of caller audio — the hot path (50 invocations per second per call on Twilio's framing). */
import { MediaMessage, parseMessage } from '../domain/protocol';
import { servicesFor } from '../shared/container';
import { routeHandler } from '../shared/handler';
import '../shared/speaks';

export const handler = routeHandler('media', async (event, ctx) => {
  const message = parseMessage(MediaMessage, event.body, event.isBase64Encoded);
  await servicesFor(event).media.process(ctx, message);
});
