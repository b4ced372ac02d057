/** `dtmf`: a key press from the caller is a turn of its own. */
import { DtmfMessage, parseMessage } from '../domain/protocol';
import { closeCaller, servicesFor, useSpeech } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';
import { speechServices } from '../wiring/speech-services';

// This function speaks: its bundle carries the speech adapters (the functions that do not, leave them out).
useSpeech(speechServices);

export const handler = routeHandler('dtmf', async (event, ctx) => {
  const message = parseMessage(DtmfMessage, event.body, event.isBase64Encoded);
  await servicesFor(event).calls.dtmf(ctx.callId, message, ctx.receivedAt);
}, { closeConnection: closeCaller });
