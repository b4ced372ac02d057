/** `start`: stream metadata and media format; the agent greets the caller. */
import { parseMessage, StartMessage } from '../domain/protocol';
import { closeCaller, servicesFor } from '../shared/container';
import { routeHandler } from '../shared/handler';
import '../shared/speaks';

export const handler = routeHandler('start', async (event, ctx) => {
  const message = parseMessage(StartMessage, event.body, event.isBase64Encoded);
  await servicesFor(event).calls.start(ctx.callId, message, ctx.receivedAt, ctx.declaredFormat);
}, { closeConnection: closeCaller });
