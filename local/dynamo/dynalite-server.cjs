// DynamoDB for the local stack: dynalite (an implementation of the DynamoDB API, in memory) in its own process,
// so its CPU never stalls the gateway. Prints {"port":N} once listening.
// LOCAL_IAM_POLICY (JSON, local/iam): the functions' policies, enforced in this process (see enforce.cjs).
const dynalite = require('dynalite');
const { enforcePolicy } = require('./enforce.cjs');
const { createFaults } = require('./faults.cjs');
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
if (process.env.LOCAL_IAM_POLICY) enforcePolicy(server, JSON.parse(process.env.LOCAL_IAM_POLICY));
countRequests(server, createFaults());

// Requests by operation with their bytes (what DynamoDB bills is derived from these: benchmarks and the cost model),
// and the faults injected into them (faults.cjs, controlled at /__local/faults). GET /__local/stats answers them;
// DynamoDB's API is POST / only, so no real request can reach these paths.
function countRequests(server, faults) {
  const counts = {};
  const handlers = server.listeners('request');
  server.removeAllListeners('request');
  server.on('request', (req, res) => {
    if (req.method === 'GET' && req.url === '/__local/stats') {
      res.writeHead(200, { 'content-type': 'application/json' });
      return res.end(JSON.stringify(counts));
    }
    if (faults.control(req, res)) return;
    const op = String(req.headers['x-amz-target'] || '').split('.')[1] || 'unknown';
    const c = (counts[op] = counts[op] || { requests: 0, requestBytes: 0, responseBytes: 0, faults: 0 });
    c.requests++;
    req.on('data', (chunk) => (c.requestBytes += chunk.length));
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    res.write = (chunk, ...rest) => {
      if (chunk) c.responseBytes += Buffer.byteLength(chunk);
      return write(chunk, ...rest);
    };
    res.end = (chunk, ...rest) => {
      if (chunk && typeof chunk !== 'function') c.responseBytes += Buffer.byteLength(chunk);
      return end(chunk, ...rest);
    };
    const fault = faults.take(op, req.headers.authorization);
    if (fault) {
      c.faults++;
      return faults.respond(fault, req, res);
    }
    for (const h of handlers) h.call(server, req, res);
  });
}
// DynamoDB keeps an idle keep-alive connection for about a minute (observed: aws/aws-sdk-java#1365 ~60 s,
// feast-dev/feast#5167 ~90 s); Node's default is 5 s. With 5 s, a Lambda environment thawed after a few seconds'
// freeze sends its first request on a socket the server has already closed ("socket hang up"): retried by the SDK
// while it has retry quota, a route error once an outage has spent it, on a timescale DynamoDB does not have.
server.keepAliveTimeout = 60_000;
server.headersTimeout = 65_000;
server.listen(Number(process.env.DYNALITE_PORT || 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
