/**
 * Twilio's request signatures (X-Twilio-Signature: base64 HMAC-SHA1, keyed with the account's auth token, of the
 * full URL followed by the sorted POST parameters), checked with Twilio's own helper library, and the URL each
 * request was signed for, rebuilt from what API Gateway hands the function.
 */
import { validateRequest } from 'twilio/lib/webhooks/webhooks';

export const TWILIO_SIGNATURE_HEADER = 'x-twilio-signature';

export function header(headers: Record<string, string | undefined> | null | undefined, lowerName: string): string | undefined {
  for (const [k, v] of Object.entries(headers ?? {})) if (k.toLowerCase() === lowerName) return v;
  return undefined;
}

/** True only for a present signature that matches; the comparison is constant-time (inside Twilio's helper). */
export function twilioSignatureValid(authToken: string, signature: string | undefined, url: string, params: Record<string, string> = {}): boolean {
  if (!signature) return false;
  return validateRequest(authToken, signature, url, params);
}

/**
 * The URL a WebSocket caller connected to, as Twilio signed it: scheme (wss behind API Gateway's TLS, ws locally,
 * from X-Forwarded-Proto), host, path, and the query string as it arrived. The path is `/stage` on API Gateway's own
 * endpoint; behind a custom domain it is the API mapping's path, which the event does not carry: `publicUrl` (the
 * stream URL the phone line's TwiML hands Twilio, VOICE_STREAM_URL) gives it whenever the caller came through its host.
 */
export function connectUrl(
  event: {
    headers?: Record<string, string | undefined> | null;
    queryStringParameters?: Record<string, string | undefined> | null;
    requestContext: { domainName?: string; stage: string };
  },
  publicUrl?: string,
): string {
  const proto = header(event.headers, 'x-forwarded-proto') === 'http' ? 'ws' : 'wss';
  const host = header(event.headers, 'host') ?? event.requestContext.domainName ?? '';
  const query = new URLSearchParams(
    Object.entries(event.queryStringParameters ?? {}).flatMap(([k, v]) => (v === undefined ? [] : [[k, v] as [string, string]])),
  ).toString();
  // The published URL's path exactly as written (Twilio signs the text it was given), when the caller used its host.
  const published = publicUrl?.match(/^wss?:\/\/([^/?#]+)([^?#]*)/i);
  const path = published && published[1]!.toLowerCase() === host.toLowerCase() ? published[2]! : `/${event.requestContext.stage}`;
  return `${proto}://${host}${path}${query ? `?${query}` : ''}`;
}

/** The URL an HTTP API (payload 2.0) request was made to: what Twilio signed for the voice webhook. */
export function webhookUrl(event: { headers?: Record<string, string | undefined>; rawPath: string; rawQueryString?: string; requestContext: { domainName: string } }): string {
  const proto = header(event.headers, 'x-forwarded-proto') === 'http' ? 'http' : 'https';
  const host = header(event.headers, 'host') ?? event.requestContext.domainName;
  return `${proto}://${host}${event.rawPath}${event.rawQueryString ? `?${event.rawQueryString}` : ''}`;
}
