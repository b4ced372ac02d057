/**
 * Twilio's side of a phone call, for stack tests: request signatures computed the way Twilio documents them
 * (independently of the product's helper library), and the `<Stream>` of a TwiML answer read back into what Twilio
 * would open: the URL and the `<Parameter>`s it sends in the stream's `start` message.
 */
import { createHmac, randomBytes } from 'node:crypto';

/** Twilio's request signature: base64 HMAC-SHA1 of the URL followed by each POST parameter (sorted) as name+value. */
export const twilioSignature = (authToken: string, url: string, params: Record<string, string> = {}) =>
  createHmac('sha1', authToken)
    .update(url + Object.keys(params).sort().map((k) => k + params[k]).join(''))
    .digest('base64');

/** The form parameters of an incoming call's voice webhook (the fields the product reads, and a few it does not). */
export const incomingCall = () => ({
  AccountSid: 'AC' + randomBytes(16).toString('hex'),
  CallSid: 'CA' + randomBytes(16).toString('hex'),
  From: '+15551230001',
  To: '+15551239999',
  CallStatus: 'ringing',
  Direction: 'inbound',
});

const unescape = (s: string) => s.replace(/&quot;/g, '"').replace(/&lt;/g, '<').replace(/&gt;/g, '>').replace(/&apos;/g, "'").replace(/&amp;/g, '&');

/** The stream a TwiML answer connects: its URL and its parameters. Throws if the TwiML has no `<Connect><Stream>`. */
export function streamOf(twiml: string): { url: string; parameters: Record<string, string> } {
  const stream = /<Connect><Stream url="([^"]+)">(.*?)<\/Stream><\/Connect>/s.exec(twiml);
  if (!stream) throw new Error(`no <Connect><Stream> in ${twiml}`);
  const parameters: Record<string, string> = {};
  for (const [, name, value] of stream[2]!.matchAll(/<Parameter name="([^"]*)" value="([^"]*)"\/>/g)) parameters[unescape(name!)] = unescape(value!);
  return { url: unescape(stream[1]!), parameters };
}

/** Posts a signed incoming call to the voice webhook at `webhookUrl` and returns the stream its TwiML connects. */
export async function answeredCall(webhookUrl: string, authToken: string, call = incomingCall()) {
  const res = await fetch(webhookUrl, {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded', 'X-Twilio-Signature': twilioSignature(authToken, webhookUrl, call) },
    body: new URLSearchParams(call).toString(),
  });
  if (res.status !== 200) throw new Error(`voice webhook answered ${res.status}`);
  return { call, ...streamOf(await res.text()) };
}
