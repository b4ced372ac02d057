/**
 * REQUEST authorizer on `$connect`: the caller presents `?token=`. Compared in constant time with `voiceAgentToken`
 * of the app secret (functions/shared/secrets.ts, cached per warm environment). (Twilio signatures and short-lived
 * browser tokens are added by the phone/browser issue.)
 */
import { timingSafeEqual } from 'node:crypto';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { logger, metrics, telemetry, tracer } from '../shared/observability';
import { appSecrets } from '../shared/secrets';

function policy(effect: 'Allow' | 'Deny', resource: string, principalId: string): APIGatewayAuthorizerResult {
  return {
    principalId,
    policyDocument: { Version: '2012-10-17', Statement: [{ Action: 'execute-api:Invoke', Effect: effect, Resource: resource }] },
    context: { authenticatedBy: 'token' },
  };
}

function tokenMatches(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

const authorize = async (event: APIGatewayRequestAuthorizerEvent): Promise<APIGatewayAuthorizerResult> => {
  const presented = event.queryStringParameters?.token;
  let expected: string;
  try {
    expected = (await appSecrets()).voiceAgentToken;
  } catch (err) {
    // No secret, no way to tell callers apart: refuse. The error names the secret and the failure, never its value.
    logger.error('app secret unavailable: refusing the caller', { error: (err as Error).message });
    telemetry.count('AppSecretErrors');
    return policy('Deny', event.methodArn, 'anonymous');
  }
  if (!presented || !tokenMatches(presented, expected)) {
    logger.warn('connect refused: bad token');
    telemetry.count('ConnectsRefused');
    return policy('Deny', event.methodArn, 'anonymous');
  }
  return policy('Allow', event.methodArn, 'caller');
};

export const handler = middy(authorize)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use({ after: async () => { if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics(); } });
