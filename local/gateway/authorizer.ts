/** Lambda REQUEST authorizer on `$connect`: identity sources, the event, and how the returned policy is judged. */
import type { InvokeResult } from '../runtime/types';
import type { AuthorizerContext, RequestAuthorizerEvent, WebSocketRequestContext } from './events';
import { headerValue, type Handshake } from './handshake';

export interface AuthorizerSettings {
  readonly functionName: string;
  /** e.g. `route.request.querystring.token`, `route.request.header.Auth`, `stageVariables.x`. */
  readonly identitySource: readonly string[];
}

/**
 * API Gateway checks every identity source before calling the authorizer: one missing or empty → 401 and the
 * authorizer is not invoked. Unrecognised expressions are treated as present (nothing to check locally).
 */
export function identitySourcesPresent(
  sources: readonly string[],
  h: Handshake,
  stageVariables: Readonly<Record<string, string>>,
): boolean {
  for (const source of sources) {
    let value: string | undefined;
    if (source.startsWith('route.request.header.')) {
      value = headerValue(h, source.slice('route.request.header.'.length));
    } else if (source.startsWith('route.request.querystring.')) {
      value = h.queryStringParameters?.[source.slice('route.request.querystring.'.length)];
    } else if (source.startsWith('stageVariables.')) {
      value = stageVariables[source.slice('stageVariables.'.length)];
    } else {
      continue;
    }
    if (value === undefined || value === '') return false;
  }
  return true;
}

export function methodArn(region: string, accountId: string, apiId: string, stage: string, routeKey: string): string {
  return `arn:aws:execute-api:${region}:${accountId}:${apiId}/${stage}/${routeKey}`;
}

export function authorizerEvent(
  arn: string,
  h: Handshake,
  stageVariables: Readonly<Record<string, string>>,
  requestContext: WebSocketRequestContext,
): RequestAuthorizerEvent {
  return {
    type: 'REQUEST',
    methodArn: arn,
    headers: h.headers,
    multiValueHeaders: h.multiValueHeaders,
    queryStringParameters: h.queryStringParameters ?? {},
    multiValueQueryStringParameters: h.multiValueQueryStringParameters ?? {},
    stageVariables: { ...stageVariables },
    requestContext,
  };
}

export type AuthorizerDecision =
  | { readonly allow: true; readonly authorizer: AuthorizerContext }
  | { readonly allow: false; readonly status: 401 | 403 | 500; readonly reason: string };

const asArray = (v: unknown): unknown[] => (Array.isArray(v) ? v : v === undefined ? [] : [v]);

function globMatch(pattern: string, value: string, ignoreCase: boolean): boolean {
  if (pattern === '*') return true;
  const re = new RegExp(
    '^' +
      pattern
        .split('')
        .map((c) => (c === '*' ? '.*' : c === '?' ? '.' : c.replace(/[.+^${}()|[\]\\]/g, '\\$&')))
        .join('') +
      '$',
    ignoreCase ? 'i' : '',
  );
  return re.test(value);
}

/** IAM evaluation restricted to what matters here: explicit Deny wins, then Allow, otherwise implicit deny. */
export function policyEffect(policyDocument: unknown, arn: string): 'Allow' | 'Deny' {
  if (typeof policyDocument !== 'object' || policyDocument === null) return 'Deny';
  let allowed = false;
  for (const st of asArray((policyDocument as { Statement?: unknown }).Statement)) {
    if (typeof st !== 'object' || st === null) continue;
    const s = st as { Effect?: unknown; Action?: unknown; Resource?: unknown };
    const actionOk = asArray(s.Action).some(
      (a) => typeof a === 'string' && globMatch(a, 'execute-api:Invoke', true),
    );
    const resourceOk = asArray(s.Resource).some((r) => typeof r === 'string' && globMatch(r, arn, false));
    if (!actionOk || !resourceOk) continue;
    const effect = typeof s.Effect === 'string' ? s.Effect.toLowerCase() : '';
    if (effect === 'deny') return 'Deny';
    if (effect === 'allow') allowed = true;
  }
  return allowed ? 'Allow' : 'Deny';
}

/**
 * Turn the authorizer's invocation result into API Gateway's decision: Allow → continue with
 * `requestContext.authorizer` = { principalId, ...context } (context values stringified, as API Gateway
 * passes them); Deny → 403; the function failing with the message `Unauthorized` → 401; any other failure or a
 * malformed response (no policy, object/array context values) → 500.
 */
export function judgeAuthorizer(result: InvokeResult, arn: string): AuthorizerDecision {
  if (!result.ok) {
    if (result.errorMessage === 'Unauthorized') return { allow: false, status: 401, reason: 'Unauthorized' };
    return { allow: false, status: 500, reason: `authorizer failed: ${result.errorType}: ${result.errorMessage}` };
  }
  const payload = result.payload;
  if (typeof payload !== 'object' || payload === null || !('policyDocument' in payload)) {
    return { allow: false, status: 500, reason: 'authorizer returned no policyDocument' };
  }
  const p = payload as { principalId?: unknown; policyDocument: unknown; context?: unknown };
  if (policyEffect(p.policyDocument, arn) !== 'Allow') return { allow: false, status: 403, reason: 'Forbidden' };
  const authorizer: Record<string, string | number> = {};
  if (p.context !== undefined && p.context !== null) {
    if (typeof p.context !== 'object' || Array.isArray(p.context)) {
      return { allow: false, status: 500, reason: 'authorizer context is not a map' };
    }
    for (const [k, v] of Object.entries(p.context as Record<string, unknown>)) {
      if (v === null || v === undefined) continue;
      if (typeof v === 'object' || typeof v === 'function') {
        return { allow: false, status: 500, reason: `authorizer context value ${k} is not a primitive` };
      }
      authorizer[k] = String(v);
    }
  }
  if (p.principalId !== undefined && p.principalId !== null) authorizer.principalId = String(p.principalId);
  return { allow: true, authorizer };
}
