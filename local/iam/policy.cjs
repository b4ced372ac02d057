// Evaluation of the local stack's identity policies. CommonJS so that the dynalite child process (plain node, no
// TypeScript) can require it; the TypeScript side (local/iam/index.ts) builds the policy table from the route table
// and hands it to the child as JSON.
//
// A policy table maps an access key id to the Allow statements of that identity:
//   { "local-media": [{ "actions": ["dynamodb:GetItem", …], "resources": ["arn:aws:dynamodb:…:table/calls"] }], … }
// Like IAM: a request is allowed only if some statement matches both its action and its resource (`*` and `?`
// wildcards). Unlike IAM, an access key that is not in the table (`local`, used by tools, tests and the stack's
// own setup) stands for the operator and is allowed everything.
'use strict';

const ACCOUNT_ID = '000000000000';
const REGION = 'us-east-1';
const FUNCTION_KEY_PREFIX = 'local-';

/** The access key id of a SigV4 `Authorization` header (`… Credential=AKID/date/region/service/aws4_request, …`). */
function accessKeyIdOf(authorization) {
  if (typeof authorization !== 'string') return undefined;
  const m = /Credential=([^/,\s]+)\//.exec(authorization);
  return m ? m[1] : undefined;
}

/** The identity AWS names in an AccessDenied message: a function's assumed role, or an IAM user for other keys. */
function principalArn(accessKeyId) {
  if (typeof accessKeyId === 'string' && accessKeyId.startsWith(FUNCTION_KEY_PREFIX)) {
    const fn = accessKeyId.slice(FUNCTION_KEY_PREFIX.length);
    return `arn:aws:sts::${ACCOUNT_ID}:assumed-role/${fn}-role/${fn}`;
  }
  return `arn:aws:iam::${ACCOUNT_ID}:user/${accessKeyId ?? 'anonymous'}`;
}

function wildcard(pattern) {
  if (!/[*?]/.test(pattern)) return (value) => value === pattern;
  const source = pattern.replace(/[.+^${}()|[\]\\]/g, '\\$&').replace(/\*/g, '.*').replace(/\?/g, '.');
  const re = new RegExp(`^${source}$`);
  return (value) => re.test(value);
}

/** `isAllowed(accessKeyId, action, resource)` over a policy table (compiled once). */
function isAllowedBy(table) {
  const compiled = new Map();
  for (const [key, statements] of Object.entries(table)) {
    compiled.set(
      key,
      statements.map((s) => ({ actions: new Set(s.actions), resources: s.resources.map(wildcard) })),
    );
  }
  return function isAllowed(accessKeyId, action, resource) {
    const statements = accessKeyId === undefined ? undefined : compiled.get(accessKeyId);
    if (!statements) return true; // not a function's identity: the operator
    return statements.some((s) => s.actions.has(action) && s.resources.some((match) => match(resource)));
  };
}

module.exports = { ACCOUNT_ID, REGION, FUNCTION_KEY_PREFIX, accessKeyIdOf, principalArn, isAllowedBy };
