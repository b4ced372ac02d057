/**
 * The local gateway's HTTP API routes with the project's CORS configuration (HTTP_CORS), as API Gateway HTTP API
 * behaves with one: it answers a browser's preflight itself without invoking the function, and every answer to a
 * request with an Origin carries the API's CORS headers, not the function's.
 */
import { HTTP_CORS } from '../../../functions/contracts/routes';
import { WebSocketGateway } from '../../../local/gateway/gateway';
import { FakeInvoker } from './helpers';

let gateway: WebSocketGateway;
let base: string;
const invoker = new FakeInvoker({
  history: (event: { queryStringParameters?: Record<string, string> }) => ({
    statusCode: 200,
    headers: { 'content-type': 'application/json', 'access-control-allow-origin': 'https://function-says.example' },
    body: JSON.stringify({ query: event.queryStringParameters ?? {} }),
  }),
});

beforeAll(async () => {
  gateway = new WebSocketGateway({
    invoker,
    routes: [{ routeKey: '$default', functionName: 'fallback' }],
    httpRoutes: [{ method: 'GET', path: '/history', functionName: 'history' }],
    httpCors: HTTP_CORS,
  });
  const { port } = await gateway.start();
  base = `http://127.0.0.1:${port}`;
});
afterAll(async () => gateway?.stop());

it('answers the preflight of a cross-origin request with an Authorization header, without invoking the function', async () => {
  const before = invoker.callsTo('history').length;
  const res = await fetch(`${base}/history`, {
    method: 'OPTIONS',
    headers: { origin: 'https://pages.example', 'access-control-request-method': 'GET', 'access-control-request-headers': 'authorization' },
  });
  expect(res.status).toBe(204);
  expect(Object.fromEntries([...res.headers].filter(([k]) => k.startsWith('access-control-')))).toEqual({
    'access-control-allow-origin': '*',
    'access-control-allow-methods': 'GET,POST',
    'access-control-allow-headers': 'authorization',
    'access-control-max-age': '3600',
  });
  expect(invoker.callsTo('history')).toHaveLength(before);
});

it("sets the API's CORS headers on the answer in place of the function's, and passes the query string", async () => {
  const res = await fetch(`${base}/history?limit=5`, { headers: { origin: 'https://pages.example', authorization: 'Bearer x' } });
  expect(res.status).toBe(200);
  expect(res.headers.get('access-control-allow-origin')).toBe('*');
  expect(await res.json()).toEqual({ query: { limit: '5' } });
});

it('leaves an OPTIONS request that is not a preflight, or for a path without a route, to the rest of the server', async () => {
  expect((await fetch(`${base}/nothing`, { method: 'OPTIONS', headers: { origin: 'https://pages.example', 'access-control-request-method': 'GET' } })).status).not.toBe(204);
  expect((await fetch(`${base}/history`, { method: 'OPTIONS' })).status).not.toBe(204);
});
