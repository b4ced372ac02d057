/** `media`: one frame of caller audio — the hot path (50 invocations per second per call on Twilio's framing). */
import { MediaMessage, parseMessage } from '../domain/protocol';
import { closeCaller, servicesFor, useSpeech } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';
import { speechServices } from '../wiring/speech-services';

// This function speaks: its bundle carries the speech adapters (the functions that do not, leave them out).
useSpeech(speechServices);

export const handler = routeHandler('media', async (event, ctx) => {
  const message = parseMessage(MediaMessage, event.body, event.isBase64Encoded);
  const services = servicesFor(event);
  const outcome = await services.media.process(ctx, message);
  if (outcome !== 'handled') await services.calls.endForLimit(ctx.callId, outcome);
}, { closeConnection: closeCaller });
