/**
 * `GET /history` (an HTTP API route): the on-call engineer's view of this environment's calls (web/history.html).
 *   GET /history                    recent calls, newest first: `{ environment, calls, next? }`; `?limit=1..100`,
 *                                   `?before=<next>` for the page after
 *   GET /history?call=<callId>      one call turn by turn: what was heard and answered, each stage's timings
 * Transcripts are personal data: `Authorization: Bearer <voiceAgentToken>` (the long-lived token, compared in constant
 * time as `POST /calls` does) or 401, and only this environment's calls (functions/adapters/dynamo-call-history.ts).
 * Nothing of a call is logged here but its id. `Access-Control-Allow-Origin: *` on every answer, so the page deployed
 * beside the call page (another origin) can read it; its preflight is answered by the HTTP API's CORS configuration.
 */
import type { APIGatewayProxyEventV2, APIGatewayProxyStructuredResultV2 } from 'aws-lambda';
import { z } from 'zod';
import { presentsAppToken } from '../access/caller-tokens';
import { jsonAnswer } from '../lambda/http-answer';
import { header } from '../access/twilio-signature';
import { BadCursorError } from '../adapters/dynamo-call-history';
import { HISTORY_DEFAULT_LIMIT, HISTORY_MAX_LIMIT } from '../contracts/history';
import { logger, telemetry } from '../lambda/observability';
import { withPowertools } from '../lambda/powertools';
import { appSecrets } from '../settings/secrets';
import { callHistory } from '../wiring/call-history';

const Query = z
  .object({
    call: z.string().regex(/^[A-Za-z0-9=_-]{1,128}$/, 'a call id').optional(),
    limit: z.coerce.number().int().min(1).max(HISTORY_MAX_LIMIT).default(HISTORY_DEFAULT_LIMIT),
    before: z.string().max(2048).optional(),
  })
  .strict();

/** Transcripts: no browser or proxy keeps them (no-store); readable by the page on its own origin. */
const json = (statusCode: number, body: unknown) => jsonAnswer(statusCode, body, { cors: true });

const serve = async (event: APIGatewayProxyEventV2): Promise<APIGatewayProxyStructuredResultV2> => {
  let secrets: Awaited<ReturnType<typeof appSecrets>>;
  try {
    secrets = await appSecrets();
  } catch (err) {
    logger.error('app secret unavailable: no history', { error: (err as Error).message });
    telemetry.count('AppSecretErrors');
    return json(503, { message: 'unavailable' });
  }
  if (!presentsAppToken(header(event.headers, 'authorization'), secrets.voiceAgentToken)) {
    logger.warn('history refused: missing or wrong token');
    telemetry.count('HistoryRefused');
    return json(401, { message: 'Authorization: Bearer <voiceAgentToken> required' });
  }
  const query = Query.safeParse(event.queryStringParameters ?? {});
  if (!query.success) {
    const issue = query.error.issues[0];
    return json(400, { message: `${issue?.path.join('.') || 'query'}: ${issue?.message}` });
  }
  const { call, limit, before } = query.data;
  if (call) {
    logger.appendKeys({ callId: call });
    const detail = await callHistory().getCall(call);
    logger.info('history: one call', { found: detail !== undefined, turns: detail?.turns.length });
    return detail ? json(200, detail) : json(404, { message: `no call ${call} in ${callHistory().environment}` });
  }
  try {
    const page = await callHistory().listCalls(limit, before);
    logger.info('history: calls listed', { calls: page.calls.length, more: page.next !== undefined });
    return json(200, page);
  } catch (err) {
    if (err instanceof BadCursorError) return json(400, { message: err.message });
    throw err;
  }
};

export const handler = withPowertools(serve);
