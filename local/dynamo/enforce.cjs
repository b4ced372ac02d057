// IAM for dynalite: a request signed with a function's access key must be allowed by that function's policy
// (local/iam) for its action on its table, or it gets DynamoDB's AccessDeniedException. Done inside the server that
// runs dynalite (no proxy, no extra hop: the local stack sends ~50 requests a second per call). CommonJS: the
// dynalite child process runs plain node.
'use strict';
const { EventEmitter } = require('node:events');
const { crc32 } = require('node:zlib');
const { randomBytes } = require('node:crypto');
const { ACCOUNT_ID, REGION, accessKeyIdOf, isAllowedBy, principalArn } = require('../iam/policy.cjs');

const tableArn = (name) => `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${name}`;

/** The resources a request touches, as IAM names them; undefined when the body is not JSON (dynalite answers). */
function resourcesOf(body) {
  let data;
  try {
    data = JSON.parse(body);
  } catch {
    return undefined;
  }
  if (data === null || typeof data !== 'object') return undefined;
  if (typeof data.TableName === 'string') {
    const table = tableArn(data.TableName);
    // A Query or Scan on an index is authorized on the index's ARN.
    return [typeof data.IndexName === 'string' ? `${table}/index/${data.IndexName}` : table];
  }
  if (data.RequestItems && typeof data.RequestItems === 'object') return Object.keys(data.RequestItems).map(tableArn);
  return ['*']; // ListTables and other account-level operations
}

function deny(res, accessKeyId, action, resource) {
  const body = JSON.stringify({
    __type: 'com.amazon.coral.service#AccessDeniedException',
    Message:
      `User: ${principalArn(accessKeyId)} is not authorized to perform: ${action} on resource: ${resource} ` +
      `because no identity-based policy allows the ${action} action`,
  });
  res.writeHead(400, {
    'x-amzn-RequestId': randomBytes(39).toString('base64').toUpperCase().replace(/\+|\//g, '0'),
    'x-amz-crc32': crc32(body),
    'Content-Type': 'application/x-amz-json-1.0',
    'Content-Length': Buffer.byteLength(body),
  });
  res.end(body);
}

/**
 * Puts the policy table's checks in front of dynalite's request handler on `server`. Requests signed with a key that
 * is not in the table (the operator's) go straight through; a function's request is read whole, checked, and handed
 * to dynalite as a replayed request.
 */
function enforcePolicy(server, table) {
  const isAllowed = isAllowedBy(table);
  const handlers = server.listeners('request');
  server.removeAllListeners('request');
  const dispatch = (req, res) => {
    for (const h of handlers) h.call(server, req, res);
  };
  server.on('request', (req, res) => {
    const accessKeyId = accessKeyIdOf(req.headers.authorization);
    if (accessKeyId === undefined || !Object.hasOwn(table, accessKeyId)) return dispatch(req, res);
    const chunks = [];
    req.on('data', (chunk) => chunks.push(chunk));
    req.on('error', () => res.destroy());
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const operation = String(req.headers['x-amz-target'] ?? '').split('.')[1];
      const resources = operation ? resourcesOf(body.toString()) : undefined;
      if (resources) {
        const action = `dynamodb:${operation}`;
        const denied = resources.find((r) => !isAllowed(accessKeyId, action, r));
        if (denied !== undefined) return deny(res, accessKeyId, action, denied);
      }
      // dynalite reads headers, method, url and the data/end events: replay the consumed body to it.
      const replay = Object.assign(new EventEmitter(), { headers: req.headers, method: req.method, url: req.url });
      dispatch(replay, res);
      if (body.length > 0) replay.emit('data', body);
      replay.emit('end');
    });
  });
}

module.exports = { enforcePolicy };
