/**
 * What the HTTP API routes answer (payload format 2.0 structured results): JSON that no browser or proxy keeps (a
 * token, a call placed, transcripts). `cors`: readable by a page on any origin (the browser pages are deployed to S3,
 * another origin than the HTTP API).
 */
import type { APIGatewayProxyStructuredResultV2 } from 'aws-lambda';

export function jsonAnswer(statusCode: number, body: unknown, options: { readonly cors?: boolean } = {}): APIGatewayProxyStructuredResultV2 {
  return {
    statusCode,
    headers: {
      'content-type': 'application/json',
      'cache-control': 'no-store',
      ...(options.cors ? { 'access-control-allow-origin': '*' } : {}),
    },
    body: JSON.stringify(body),
  };
}
