/**
 * `POST /calls` (an HTTP API route): the demo line calls someone. Body `{"to": "+14155550123"}`; answers 201
 * `{callSid, status}` once Twilio accepted the call, whose TwiML connects it to the WebSocket stage as a Media Stream,
 * so the agent greets the person who picks up. `Authorization: Bearer <voiceAgentToken>` (the long-lived caller
 * token): placing calls costs money, so nothing short-lived or open may do it. Refused clearly, and nothing dialled:
 * 401 without the token, 400 for a number that is malformed, not a valid number, or premium-rate / shared-cost
 * (libphonenumber's metadata), 503 when the app secret has no Twilio account, token or number to call from, 502 when
 * Twilio refuses (its code is passed on; never the credentials). Phone numbers are personal data: never logged.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { parsePhoneNumberWithError } from 'libphonenumber-js/max';
import { z } from 'zod';
import { TwilioCallError, TwilioCalls } from '../adapters/twilio-calls';
import { presentsAppToken } from '../access/caller-tokens';
import { jsonAnswer } from '../lambda/http-answer';
import { logger, telemetry } from '../lambda/observability';
import { withPowertools } from '../lambda/powertools';
import { appSecrets } from '../settings/secrets';
import { issueStreamTicket, STREAM_TICKET_PARAMETER } from '../access/stream-tickets';
import { header } from '../access/twilio-signature';

const Env = z.object({ VOICE_STREAM_URL: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL') });
const Body = z.object({ to: z.string().max(32) }).strict();

const json = (statusCode: number, body: unknown) => jsonAnswer(statusCode, body);

/** The number to dial in E.164, or why it may not be dialled. */
export function dialable(to: string): { readonly e164: string } | { readonly refused: string } {
  if (!/^\+[1-9]\d{6,14}$/.test(to)) return { refused: 'to: an E.164 number is expected (+, country code, number; e.g. +14155550123)' };
  let number;
  try {
    number = parsePhoneNumberWithError(to);
  } catch (err) {
    return { refused: `to: not a phone number (${(err as Error).message})` };
  }
  if (!number.isValid()) return { refused: 'to: not a valid number for its country' };
  const type = number.getType();
  if (type === 'PREMIUM_RATE' || type === 'SHARED_COST') return { refused: `to: a ${type === 'PREMIUM_RATE' ? 'premium-rate' : 'shared-cost'} number: not dialled` };
  return { e164: number.number };
}

const place = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const env = Env.safeParse(process.env);
  if (!env.success) {
    logger.error('VOICE_STREAM_URL not configured', { error: env.error.message });
    return json(500, { message: 'not configured' });
  }
  let secrets: Awaited<ReturnType<typeof appSecrets>>;
  try {
    secrets = await appSecrets();
  } catch (err) {
    logger.error('app secret unavailable: no outbound call', { error: (err as Error).message });
    telemetry.count('AppSecretErrors');
    return json(503, { message: 'unavailable' });
  }
  if (!presentsAppToken(header(event.headers, 'authorization'), secrets.voiceAgentToken)) {
    logger.warn('outbound call refused: missing or wrong token');
    telemetry.count('OutboundCallsRefused');
    return json(401, { message: 'Authorization: Bearer <voiceAgentToken> required' });
  }
  const raw = event.body ? (event.isBase64Encoded ? Buffer.from(event.body, 'base64').toString('utf8') : event.body) : '';
  let body: z.output<typeof Body>;
  try {
    body = Body.parse(JSON.parse(raw));
  } catch {
    telemetry.count('OutboundCallsRefused');
    return json(400, { message: 'body: {"to": "+14155550123"} expected' });
  }
  const target = dialable(body.to);
  if ('refused' in target) {
    logger.warn('outbound call refused: number', { reason: target.refused.replace(/\+\d+/g, '+…') });
    telemetry.count('OutboundCallsRefused');
    return json(400, { message: target.refused });
  }
  const { twilioAccountSid, twilioAuthToken, twilioPhoneNumber } = secrets;
  if (!twilioAccountSid || !twilioAuthToken || !twilioPhoneNumber) {
    logger.error('outbound call refused: twilioAccountSid, twilioAuthToken and twilioPhoneNumber must be set in the app secret');
    telemetry.count('OutboundCallsRefused');
    return json(503, { message: 'outbound calls not configured: set twilioAccountSid, twilioAuthToken and twilioPhoneNumber in the app secret' });
  }
  try {
    const placed = await new TwilioCalls({ accountSid: twilioAccountSid, authToken: twilioAuthToken }).place(target.e164, twilioPhoneNumber, env.data.VOICE_STREAM_URL, {
      [STREAM_TICKET_PARAMETER]: issueStreamTicket(secrets.voiceAgentToken),
    });
    logger.appendKeys({ callSid: placed.callSid });
    logger.info('outbound call placed', { status: placed.status });
    telemetry.count('OutboundCallsPlaced');
    return json(201, placed);
  } catch (err) {
    const e = err as TwilioCallError;
    logger.error('outbound call refused by Twilio', { status: e.status, code: e.code });
    telemetry.count('OutboundCallsFailed');
    return json(502, { message: 'Twilio did not place the call', ...(e.code !== undefined ? { twilioCode: e.code } : {}), ...(e.status !== undefined ? { twilioStatus: e.status } : {}) });
  }
};

export const handler = withPowertools(place);
