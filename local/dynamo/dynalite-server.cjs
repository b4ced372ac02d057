// DynamoDB for the local stack: dynalite (an implementation of the DynamoDB API, in memory) in its own process,
// so its CPU never stalls the gateway. Prints {"port":N} once listening.
// LOCAL_IAM_POLICY (JSON, local/iam): the functions' policies, enforced in this process (see enforce.cjs).
const dynalite = require('dynalite');
const { enforcePolicy } = require('./enforce.cjs');
const server = dynalite({ createTableMs: 0, deleteTableMs: 0, updateTableMs: 0 });
if (process.env.LOCAL_IAM_POLICY) enforcePolicy(server, JSON.parse(process.env.LOCAL_IAM_POLICY));
server.listen(Number(process.env.DYNALITE_PORT || 0), '127.0.0.1', () => {
  process.stdout.write(JSON.stringify({ port: server.address().port }) + '\n');
});
const stop = () => server.close(() => process.exit(0));
process.on('SIGTERM', stop);
process.on('SIGINT', stop);
process.on('disconnect', stop);
