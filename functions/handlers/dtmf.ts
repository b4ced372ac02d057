/** `dtmf`: a key press from the caller is a turn of its own. */
import { DtmfMessage, parseMessage } from '../domain/protocol';
import { closeCaller, servicesFor } from '../shared/container';
import { routeHandler } from '../shared/handler';
import '../shared/speaks';

export const handler = routeHandler('dtmf', async (event, ctx) => {
  const message = parseMessage(DtmfMessage, event.body, event.isBase64Encoded);
  await servicesFor(event).calls.dtmf(ctx.callId, message, ctx.receivedAt);
}, { closeConnection: closeCaller });
