/**
 * Twilio's voice webhook (`POST /twilio/voice`, an HTTP API route): a call came in to the Twilio number. Checks
 * X-Twilio-Signature over the URL and the form parameters with the account's auth token (app secret), and answers
 * with TwiML that connects the call to the WebSocket API as a bidirectional Media Stream: `<Connect><Stream>` with
 * the caller, the number called and the call id as `<Parameter>`s (they arrive in the stream's `start` message), and
 * a short-lived stream ticket (functions/access/stream-tickets.ts). Twilio's upgrade to that stream is signed too;
 * the authorizer checks it, and the `start` handler the ticket. A replayed webhook changes nothing: it is answered
 * again (Twilio retries webhooks too) with a fresh ticket, and nothing is stored.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import VoiceResponse from 'twilio/lib/twiml/VoiceResponse';
import { z } from 'zod';
import { logger, telemetry } from '../lambda/observability';
import { withPowertools } from '../lambda/powertools';
import { appSecrets } from '../settings/secrets';
import { issueStreamTicket, STREAM_TICKET_PARAMETER } from '../access/stream-tickets';
import { header, TWILIO_SIGNATURE_HEADER, twilioSignatureValid, webhookUrl } from '../access/twilio-signature';

const Env = z.object({ VOICE_STREAM_URL: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL') });

/** The fields of Twilio's voice request this uses (it sends many more; all of them are signed). */
const VoiceRequest = z.object({
  CallSid: z.string().regex(/^CA[0-9a-f]{32}$/i, 'not a Twilio call SID'),
  From: z.string().max(64).default(''),
  To: z.string().max(64).default(''),
});

const text = (statusCode: number, body: string): APIGatewayProxyStructuredResultV2 => ({ statusCode, headers: { 'content-type': 'text/plain' }, body });

export function twiml(streamUrl: string, call: z.output<typeof VoiceRequest>, ticket: string): string {
  const response = new VoiceResponse();
  const stream = response.connect().stream({ url: streamUrl });
  stream.parameter({ name: STREAM_TICKET_PARAMETER, value: ticket });
  stream.parameter({ name: 'callSid', value: call.CallSid });
  stream.parameter({ name: 'from', value: call.From });
  stream.parameter({ name: 'to', value: call.To });
  return response.toString();
}

const answer = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const env = Env.safeParse(process.env);
  if (!env.success) {
    logger.error('VOICE_STREAM_URL not configured', { error: env.error.message });
    return text(500, 'not configured');
  }
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  const params = Object.fromEntries(new URLSearchParams(raw));
  let secrets: Awaited<ReturnType<typeof appSecrets>>;
  try {
    secrets = await appSecrets();
  } catch (err) {
    logger.error('app secret unavailable: refusing the call', { error: (err as Error).message });
    telemetry.count('AppSecretErrors');
    return text(503, 'unavailable');
  }
  if (!secrets.twilioAuthToken) {
    logger.error('twilioAuthToken is not set in the app secret: refusing the call');
    telemetry.count('WebhooksRefused');
    return text(503, 'phone line not configured');
  }
  // Signed over the URL Twilio requested (as configured on the number) and every POST parameter.
  if (!twilioSignatureValid(secrets.twilioAuthToken, header(event.headers, TWILIO_SIGNATURE_HEADER), webhookUrl(event), params)) {
    logger.warn('voice webhook refused: missing or bad X-Twilio-Signature');
    telemetry.count('WebhooksRefused');
    return text(403, 'forbidden');
  }
  const call = VoiceRequest.safeParse(params);
  if (!call.success) {
    logger.warn('voice webhook: not a voice request', { error: call.error.issues.map((i) => `${i.path.join('.')}: ${i.message}`).join('; ') });
    return text(400, 'not a Twilio voice request');
  }
  logger.appendKeys({ callSid: call.data.CallSid });
  logger.info('incoming call: connecting it to the stream');
  telemetry.count('CallsOffered');
  return { statusCode: 200, headers: { 'content-type': 'text/xml' }, body: twiml(env.data.VOICE_STREAM_URL, call.data, issueStreamTicket(secrets.voiceAgentToken)) };
};

export const handler = withPowertools(answer);
