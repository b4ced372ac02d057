/**
 * `POST /browser/token` (an HTTP API route): a short-lived caller token for the browser page (web/), so the page can
 * open the WebSocket without ever holding the long-lived `voiceAgentToken` (functions/access/caller-tokens.ts).
 * Answers `{ token, expiresAt, url }`: the token, its expiry (epoch seconds) and the WebSocket stage to connect to
 * with `?token=`.
 *
 * Open on purpose (a demo line: whoever has the page may call); what bounds it is the HTTP API stage's throttling and
 * the token's five-minute life. `Access-Control-Allow-Origin: *` on every answer, errors included, so a page served
 * from another origin (the S3 bucket, a file, a dev server) can read it; the page sends a CORS "simple" request (a
 * POST without body or custom headers), so no preflight route is needed.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { jsonAnswer } from '../lambda/http-answer';
import { z } from 'zod';
import { issueCallerToken } from '../access/caller-tokens';
import { logger, telemetry } from '../lambda/observability';
import { withPowertools } from '../lambda/powertools';
import { appSecrets } from '../settings/secrets';

const Env = z.object({ VOICE_STREAM_URL: z.string().regex(/^wss?:\/\//, 'must be a ws:// or wss:// URL') });

/** A token is a credential: no browser or proxy may keep it (no-store); readable from any origin. */
const json = (statusCode: number, body: unknown) => jsonAnswer(statusCode, body, { cors: true });

const issue = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  const env = Env.safeParse(process.env);
  if (!env.success) {
    logger.error('VOICE_STREAM_URL not configured', { error: env.error.message });
    return json(500, { message: 'not configured' });
  }
  let voiceAgentToken: string;
  try {
    ({ voiceAgentToken } = await appSecrets());
  } catch (err) {
    logger.error('app secret unavailable: no browser token', { error: (err as Error).message });
    telemetry.count('AppSecretErrors');
    return json(503, { message: 'unavailable' });
  }
  const { token, expiresAt } = issueCallerToken(voiceAgentToken);
  // Which page asked (its origin; HTTP API lower-cases header names) and until when; never the token.
  logger.info('browser token issued', { origin: event.headers?.origin?.slice(0, 200) ?? 'none', expiresAt });
  telemetry.count('BrowserTokensIssued');
  return json(200, { token, expiresAt, url: env.data.VOICE_STREAM_URL });
};

export const handler = withPowertools(issue);
