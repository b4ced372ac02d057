// DynamoDB fault injection for the local stack (test tooling): requests fail the way DynamoDB fails, so the
// unchanged AWS SDK in the functions classifies and retries them as it would on AWS.
//
// Rules, set over HTTP on dynalite's own port (DynamoDB's API is POST / with x-amz-target, so no real request can
// reach these paths):
//   POST   /__local/faults  {"kind": K, "rate"?: 0..1, "count"?: N, "forMs"?: ms, "operations"?: [...], "callers"?: C}
//          adds a rule; answers {"id": n}. A matching request gets fault K with probability `rate` (default 1); the
//          rule stops after `count` faults and/or `forMs` after it was set (an outage). `operations`: e.g.
//          ["PutItem","Query"] (default all). `callers`: "functions" (default: requests signed with a function's key,
//          local-<name>; tests and tools reading state with the operator key are spared) or "all".
//   POST   /__local/faults  {"clear": true}   (or DELETE /__local/faults) removes every rule; counts are kept.
//   GET    /__local/faults  → {"rules": [...], "injected": {"total", "byKind", "byOperation"}}
// Kinds (the status and body DynamoDB answers, `__type` is what the SDK turns into the error's name):
//   throttling              400 ThrottlingException            (the SDK retries it as throttling)
//   provisioned-throughput  400 ProvisionedThroughputExceededException (idem)
//   internal-error          500 InternalServerError            (retried as a transient server error)
//   unavailable             503 ServiceUnavailable             (idem)
//   reset                   the connection is destroyed with no response (ECONNRESET: retried as transient)
'use strict';
const { crc32 } = require('node:zlib');
const { randomBytes } = require('node:crypto');
const { accessKeyIdOf, FUNCTION_KEY_PREFIX } = require('../iam/policy.cjs');

const ERRORS = {
  throttling: {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ThrottlingException',
    message:
      'Throughput exceeds the current capacity of your table or index. DynamoDB is automatically scaling your table or index so please try again shortly.',
  },
  'provisioned-throughput': {
    status: 400,
    type: 'com.amazonaws.dynamodb.v20120810#ProvisionedThroughputExceededException',
    message: 'The level of configured provisioned throughput for the table was exceeded. Consider increasing your provisioning level with the UpdateTable API.',
  },
  'internal-error': { status: 500, type: 'com.amazonaws.dynamodb.v20120810#InternalServerError', message: 'Internal server error' },
  unavailable: { status: 503, type: 'com.amazon.coral.availability#ServiceUnavailableException', message: 'Service Unavailable' },
};
const KINDS = [...Object.keys(ERRORS), 'reset'];

function createFaults(random = Math.random) {
  let rules = [];
  let nextId = 1;
  const injected = { total: 0, byKind: {}, byOperation: {} };

  function validate(body) {
    if (!KINDS.includes(body.kind)) throw new Error(`kind must be one of ${KINDS.join(', ')}`);
    if (body.rate !== undefined && !(typeof body.rate === 'number' && body.rate >= 0 && body.rate <= 1)) throw new Error('rate must be in [0, 1]');
    for (const k of ['count', 'forMs']) {
      if (body[k] !== undefined && !(Number.isInteger(body[k]) && body[k] > 0)) throw new Error(`${k} must be a positive integer`);
    }
    if (body.operations !== undefined && !(Array.isArray(body.operations) && body.operations.every((o) => typeof o === 'string'))) {
      throw new Error('operations must be a list of operation names');
    }
    if (body.callers !== undefined && body.callers !== 'functions' && body.callers !== 'all') throw new Error('callers must be "functions" or "all"');
  }

  function add(body) {
    validate(body);
    const rule = {
      id: nextId++,
      kind: body.kind,
      rate: body.rate ?? 1,
      remaining: body.count,
      until: body.forMs !== undefined ? Date.now() + body.forMs : undefined,
      operations: body.operations,
      callers: body.callers ?? 'functions',
      injected: 0,
    };
    rules.push(rule);
    return rule.id;
  }

  /** The fault this request gets, if any (counted). */
  function take(operation, authorization) {
    if (rules.length === 0) return undefined;
    const now = Date.now();
    rules = rules.filter((r) => (r.until === undefined || now < r.until) && (r.remaining === undefined || r.remaining > 0));
    const key = accessKeyIdOf(authorization);
    for (const r of rules) {
      if (r.operations && !r.operations.includes(operation)) continue;
      if (r.callers === 'functions' && !(key && key.startsWith(FUNCTION_KEY_PREFIX))) continue;
      if (r.rate < 1 && random() >= r.rate) continue;
      if (r.remaining !== undefined) r.remaining--;
      r.injected++;
      injected.total++;
      injected.byKind[r.kind] = (injected.byKind[r.kind] ?? 0) + 1;
      injected.byOperation[operation] = (injected.byOperation[operation] ?? 0) + 1;
      return r.kind;
    }
    return undefined;
  }

  /** Answers the request with the fault, once its body has been read (as DynamoDB does). */
  function respond(kind, req, res) {
    if (kind === 'reset') {
      req.socket.destroy();
      return;
    }
    const e = ERRORS[kind];
    const body = JSON.stringify({ __type: e.type, message: e.message });
    const send = () => {
      res.writeHead(e.status, {
        'x-amzn-RequestId': randomBytes(39).toString('base64').toUpperCase().replace(/\+|\//g, '0'),
        'x-amz-crc32': crc32(body),
        'Content-Type': 'application/x-amz-json-1.0',
        'Content-Length': Buffer.byteLength(body),
      });
      res.end(body);
    };
    if (req.readableEnded) send();
    else {
      req.on('end', send);
      req.resume();
    }
  }

  /** The control endpoint; true when it handled the request. */
  function control(req, res) {
    if (!req.url || !req.url.startsWith('/__local/faults')) return false;
    const reply = (status, value) => {
      res.writeHead(status, { 'content-type': 'application/json' });
      res.end(JSON.stringify(value));
    };
    if (req.method === 'GET') {
      reply(200, { rules: rules.map(({ id, kind, rate, remaining, until, operations, callers, injected: n }) => ({ id, kind, rate, remaining, until, operations, callers, injected: n })), injected });
      return true;
    }
    if (req.method === 'DELETE') {
      rules = [];
      reply(200, { cleared: true });
      return true;
    }
    const chunks = [];
    req.on('data', (c) => chunks.push(c));
    req.on('end', () => {
      try {
        const body = JSON.parse(Buffer.concat(chunks).toString() || '{}');
        if (body.clear === true) {
          rules = [];
          return reply(200, { cleared: true });
        }
        reply(200, { id: add(body) });
      } catch (err) {
        reply(400, { error: err.message });
      }
    });
    return true;
  }

  return { take, respond, control, injected };
}

module.exports = { createFaults, DYNAMO_FAULT_KINDS: KINDS };
