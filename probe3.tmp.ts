import { LocalStack } from './local/stack';
import { randomUUID } from 'node:crypto';
(async () => {
  const stack = await new LocalStack({ port: 0, skipBuild: true, echoLogs: false }).start();
  const rt = stack.runtime!;
  const connectionId = 'probe-' + randomUUID();
  const ctx = (routeKey: string, eventType = 'MESSAGE') => ({ routeKey, eventType, connectionId, requestTimeEpoch: Date.now(), domainName: `127.0.0.1:${stack.port}`, stage: 'local', messageId: randomUUID() });
  let t = Date.now();
  console.log('connect', JSON.stringify(await rt.invoke('connect', { requestContext: ctx('$connect', 'CONNECT') })), Date.now() - t);
  t = Date.now();
  const r = await rt.invoke('start', { requestContext: ctx('start'), isBase64Encoded: false, body: JSON.stringify({ event: 'start', sequenceNumber: '1', streamSid: 'MZp', start: { streamSid: 'MZp', customParameters: { voiceAgentEvents: 'true' } } }) });
  console.log('start', JSON.stringify(r), Date.now() - t);
  stack.logs.onLine((fn, l) => console.log('LOG', fn, l.slice(0, 200)));
  await stack.stop();
  process.exit(0);
})();
