/**
 * REQUEST authorizer on `$connect`. A caller gets in with either
 *  - `?token=` matching `voiceAgentToken` of the app secret (the CLI, the load generator), or
 *  - `?token=` holding a valid, unexpired short-lived caller token (the browser page: functions/access/caller-tokens.ts,
 *    issued by `POST /browser/token` and keyed with the same `voiceAgentToken`), or
 *  - an `X-Twilio-Signature` header that signs the URL it connected to with the Twilio auth token (a phone call
 *    through Twilio Media Streams; functions/access/twilio-signature.ts).
 * All compared in constant time; the secret is cached per warm environment (functions/settings/secrets.ts). Anything
 * else — missing, forged, a Twilio signature when no Twilio token is configured — is denied (API Gateway: 403).
 */
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { logger, telemetry } from '../lambda/observability';
import { withPowertools } from '../lambda/powertools';
import { looksLikeCallerToken, sameSecret, verifyCallerToken } from '../access/caller-tokens';
import { appSecrets, type AppSecrets } from '../settings/secrets';
import { connectUrl, header, TWILIO_SIGNATURE_HEADER, twilioSignatureValid } from '../access/twilio-signature';
import { CONNECT_FORMAT_PARAMETER, isConnectFormat, type ConnectFormat } from '../contracts/connect-parameters';

type AuthenticatedBy = 'token' | 'browser-token' | 'twilio-signature' | 'none';

/**
 * The context API Gateway hands every message of the connection: who let it in, and the audio format the connection
 * declared (`?format=`; Twilio Media Streams are always μ-law), so the media function can decode a frame before it
 * has read the call (docs/ARCHITECTURE.md, "The hot path"). An unknown value is left out, not refused: the format
 * then comes from the `start` message alone.
 */
function policy(effect: 'Allow' | 'Deny', resource: string, principalId: string, authenticatedBy: AuthenticatedBy = 'none', format?: ConnectFormat): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    context: format ? { authenticatedBy, format } : { authenticatedBy },
  };
}

const authorize = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const presented = event.queryStringParameters?.token;
  const declared = event.queryStringParameters?.[CONNECT_FORMAT_PARAMETER];
  const format = isConnectFormat(declared) ? declared : undefined;
  const signature = header(event.headers, TWILIO_SIGNATURE_HEADER);
  let secrets: AppSecrets;
  try {
    secrets = await appSecrets();
  } catch (err) {
    // No secret, no way to tell callers apart: refuse. The error names the secret and the failure, never its value.
    logger.error('app secret unavailable: refusing the caller', { error: (err as Error).message });
    telemetry.count('AppSecretErrors');
    return policy('Deny', event.methodArn, 'anonymous');
  }
  if (presented && sameSecret(presented, secrets.voiceAgentToken)) return policy('Allow', event.methodArn, 'caller', 'token', format);
  // Checked only after the long-lived token failed: a browser token never equals it, and this costs two HMACs.
  const browser = presented && looksLikeCallerToken(presented) ? verifyCallerToken(presented, secrets.voiceAgentToken) : undefined;
  if (browser?.valid) return policy('Allow', event.methodArn, 'browser', 'browser-token', format);
  if (signature && secrets.twilioAuthToken) {
    const url = connectUrl(event as Parameters<typeof connectUrl>[0], process.env.VOICE_STREAM_URL);
    if (twilioSignatureValid(secrets.twilioAuthToken, signature, url)) return policy('Allow', event.methodArn, 'twilio', 'twilio-signature', 'mulaw');
  }
  // The reason, never the token: an expired browser token is worth telling apart from a forged one when debugging.
  const reason = browser && !browser.valid ? `browser token ${browser.reason}` : presented ? 'bad token' : signature ? (secrets.twilioAuthToken ? 'bad Twilio signature' : 'Twilio signature but no Twilio auth token configured') : 'no token or signature';
  logger.warn('connect refused', { reason });
  telemetry.count('ConnectsRefused');
  return policy('Deny', event.methodArn, 'anonymous');
};

export const handler = withPowertools(authorize);
