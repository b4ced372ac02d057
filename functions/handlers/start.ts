/**
 * `start`: stream metadata and media format; the agent greets the caller. A stream Twilio's signature let in is a phone
 * call only with a valid stream ticket from the TwiML that connected it (functions/access/stream-tickets.ts): without
 * one the stream is refused and closed, and nothing starts.
 */
import { parseMessage, StartMessage } from '../domain/protocol';
import { closeCaller, servicesFor, useSpeech } from '../wiring/container';
import { routeHandler } from '../lambda/route-handler';
import { logger, telemetry } from '../lambda/observability';
import { appSecrets } from '../settings/secrets';
import { streamTicketRefusal } from '../access/stream-tickets';
import { speechServices } from '../wiring/speech-services';

// This function speaks: its bundle carries the speech adapters (the functions that do not, leave them out).
useSpeech(speechServices);

export const handler = routeHandler('start', async (event, ctx) => {
  const message = parseMessage(StartMessage, event.body, event.isBase64Encoded);
  const phoneCall = ctx.authenticatedBy === 'twilio-signature';
  if (phoneCall) {
    const refusal = streamTicketRefusal(message.start.customParameters, (await appSecrets()).voiceAgentToken);
    if (refusal) {
      logger.warn('stream refused: its start has no valid stream ticket', { reason: refusal });
      telemetry.count('StreamsRefused');
      await closeCaller(event);
      return { statusCode: 403, body: `stream ticket ${refusal}` };
    }
  }
  await servicesFor(event).calls.start(ctx.callId, message, ctx.receivedAt, { declaredFormat: ctx.declaredFormat, phoneCall });
}, { closeConnection: closeCaller });
