/**
 * REQUEST authorizer on `$connect`: the caller presents `?token=`. Compared in constant time with the configured
 * token. (Twilio signatures and short-lived browser tokens are added by the phone/browser issue.)
 */
import { timingSafeEqual } from 'node:crypto';
import middy from '@middy/core';
import { injectLambdaContext } from '@aws-lambda-powertools/logger/middleware';
import { captureLambdaHandler } from '@aws-lambda-powertools/tracer/middleware';
import type { APIGatewayAuthorizerResult, APIGatewayRequestAuthorizerEvent } from 'aws-lambda';
import { logger, metrics, tracer } from '../shared/observability';

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
  const expected = process.env.VOICE_AGENT_TOKEN;
  const presented = event.queryStringParameters?.token;
  if (!expected) {
    logger.error('VOICE_AGENT_TOKEN is not configured: refusing every caller');
    return policy('Deny', event.methodArn, 'anonymous');
  }
  if (!presented || !tokenMatches(presented, expected)) {
    logger.warn('connect refused: bad token');
    metrics.addMetric('ConnectsRefused', 'Count', 1);
    return policy('Deny', event.methodArn, 'anonymous');
  }
  return policy('Allow', event.methodArn, 'caller');
};

export const handler = middy(authorize)
  .use(captureLambdaHandler(tracer, { captureResponse: false }))
  .use(injectLambdaContext(logger, { resetKeys: true }))
  .use({ after: async () => { if (metrics.hasStoredMetrics()) metrics.publishStoredMetrics(); } });
