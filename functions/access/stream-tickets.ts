/**
 * Stream tickets: what admits a Twilio Media Stream's `start`, beyond the signed upgrade.
 *
 * Twilio signs a stream's WebSocket upgrade over its URL alone, and `<Stream url>` takes no query string, so that
 * signature is the same for every call to the line: anyone who ever saw one (a proxy log, a header dump) could open
 * streams as Twilio for as long as the auth token lives, and claim any call SID (which a transfer would then redirect).
 * So the TwiML that connects a call (the voice webhook, an outbound call) carries a short-lived ticket as a
 * `<Parameter>`; it arrives in the stream's `start` message, and a stream admitted by Twilio signature starts only with
 * a valid, unexpired one. Tickets are caller tokens under their own key (functions/access/caller-tokens.ts,
 * purpose `stream-ticket`): stateless, keyed with the app secret's `voiceAgentToken`, useless as a `?token=`.
 */
import { issueCallerToken, verifyCallerToken, type CallerTokenRejection } from './caller-tokens';

/** The `<Parameter>` name the ticket travels under (customParameters of `start`). */
export const STREAM_TICKET_PARAMETER = 'streamTicket';
/** Twilio connects the stream right after it reads the TwiML: two minutes leave room for a slow answer, no more. */
export const STREAM_TICKET_LIFETIME_SECONDS = 120;

export const issueStreamTicket = (voiceAgentToken: string, nowMs?: number): string =>
  issueCallerToken(voiceAgentToken, { lifetimeSeconds: STREAM_TICKET_LIFETIME_SECONDS, purpose: 'stream-ticket', nowMs }).token;

/** Why a stream's `start` is refused, or undefined when its ticket admits it. */
export function streamTicketRefusal(
  customParameters: Readonly<Record<string, string>> | undefined,
  voiceAgentToken: string,
  nowMs?: number,
): CallerTokenRejection | 'missing' | undefined {
  const ticket = customParameters?.[STREAM_TICKET_PARAMETER];
  if (!ticket) return 'missing';
  const check = verifyCallerToken(ticket, voiceAgentToken, { purpose: 'stream-ticket', nowMs });
  return check.valid ? undefined : check.reason;
}
