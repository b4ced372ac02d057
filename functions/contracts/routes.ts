/**
 * The one route table: API Gateway WebSocket route keys → the Lambda handler that serves them, with the
 * settings both the CDK stack and the local stack read. Route selection is `$request.body.event`, so a
 * Twilio Media Streams message `{"event":"media",…}` goes to the `media` route.
 */
export const ROUTE_SELECTION_EXPRESSION = '$request.body.event';

/** DynamoDB actions a function may perform on the call table (and nothing else: no Scan, Delete or batch). */
export type TableAction = 'dynamodb:GetItem' | 'dynamodb:PutItem' | 'dynamodb:UpdateItem' | 'dynamodb:Query';

/**
 * What a function may touch: its IAM policy on AWS (lib/constructs/route-functions.ts) and what the local stack
 * lets it do (a denied request fails locally the way it would on AWS).
 */
export interface Permissions {
  /** Actions on the call table. Any table access includes GetItem: init-time priming reads one item. */
  readonly table: readonly TableAction[];
  /** execute-api:ManageConnections on this API: posts to / closes the caller's connection. */
  readonly manageConnections: boolean;
  /** secretsmanager:GetSecretValue on the app secret (caller token, vendor API keys, Twilio credentials). */
  readonly appSecret: boolean;
  /**
   * Hears and speaks: uses the speech providers (Deepgram, ElevenLabs; keys from the app secret, so it needs
   * `appSecret`), which are chosen for it (SPEECH_PROVIDERS) and warmed at init.
   */
  readonly speech: boolean;
  /**
   * Answers callers' words (runs turns): when the environment's responder is a language model (RESPONDER=bedrock), it
   * calls it — bedrock:InvokeModelWithResponseStream on the configured model or inference profile, nothing else.
   */
  readonly model: boolean;
  /**
   * Lists calls from the call table's `calls-by-day` index (functions/contracts/table-schema.ts CALLS_BY_DAY):
   * dynamodb:Query on that index, nothing else of it.
   */
  readonly callIndex: boolean;
}

export interface FunctionSpec {
  /**
   * Function (and bundle) name: the handler is `functions/handlers/<name>.ts`; the bundle's entry,
   * `functions/entries/<name>.ts`, exports it and primes the environment during init (top-level await).
   */
  readonly name: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** On the latency-critical path: gets provisioned concurrency. */
  readonly hotPath: boolean;
  readonly permissions: Permissions;
}

export interface RouteSpec extends FunctionSpec {
  readonly routeKey: string;
}

const fn = (name: string, hotPath: boolean, permissions: Permissions, timeoutSeconds = 29, memoryMb = 1024): FunctionSpec => ({
  name,
  memoryMb,
  timeoutSeconds,
  hotPath,
  permissions,
});

const NONE: Permissions = { table: [], manageConnections: false, appSecret: false, speech: false, model: false, callIndex: false };
/** Reads and conditional updates of the call item: state transitions that never write audio or turns. */
const UPDATE_CALL: Permissions = { ...NONE, table: ['dynamodb:GetItem', 'dynamodb:UpdateItem'] };
/** Speaks the greeting (turn 1): writes the turn, speaks back, needs the vendor keys; no caller audio to read. */
const GREET: Permissions = {
  table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem'],
  manageConnections: true,
  appSecret: true,
  speech: true,
  model: false,
  callIndex: false,
};
/** Runs turns: stores frames and turns, queries audio, speaks back, and needs the vendor keys. */
const RUN_TURNS: Permissions = {
  table: ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'],
  manageConnections: true,
  appSecret: true,
  speech: true,
  model: true,
  callIndex: false,
};

export const ROUTES: readonly RouteSpec[] = [
  { routeKey: '$connect', ...fn('connect', false, { ...NONE, table: ['dynamodb:GetItem', 'dynamodb:PutItem'] }, 10, 512) },
  { routeKey: 'start', ...fn('start', true, GREET) },
  { routeKey: 'media', ...fn('media', true, RUN_TURNS) },
  { routeKey: 'dtmf', ...fn('dtmf', true, RUN_TURNS) },
  // The final mark of a goodbye turn sends the hangup event and closes the connection; of a transfer on a phone
  // call, it asks Twilio (credentials in the app secret) to redirect the call to the transfer number.
  { routeKey: 'mark', ...fn('mark', true, { ...UPDATE_CALL, manageConnections: true, appSecret: true }, 10, 512) },
  { routeKey: 'stop', ...fn('stop', false, UPDATE_CALL, 10, 512) },
  { routeKey: '$disconnect', ...fn('disconnect', false, UPDATE_CALL, 10, 512) },
  // Validates and refuses: touches nothing.
  { routeKey: '$default', ...fn('fallback', false, NONE, 10, 512) },
];

/**
 * REQUEST authorizer on `$connect`: a `?token=` or an `X-Twilio-Signature` header, checked against the app secret.
 * No identity source: either may be absent, and API Gateway would refuse a connect missing one before asking.
 * (With none, API Gateway cannot cache decisions; each connect is authorized afresh, which is what we want.)
 */
export const AUTHORIZER = {
  ...fn('authorizer', false, { ...NONE, appSecret: true }, 5, 256),
  identitySource: [] as readonly string[],
};

export interface HttpRouteSpec extends FunctionSpec {
  readonly method: 'GET' | 'POST';
  readonly path: string;
}

/** HTTP routes (an HTTP API on AWS, the gateway's HTTP server locally). */
export const HTTP_ROUTES: readonly HttpRouteSpec[] = [
  // Twilio's voice webhook: answers an incoming call with TwiML that connects it to the WebSocket API.
  { method: 'POST', path: '/twilio/voice', ...fn('twilio-voice', false, { ...NONE, appSecret: true }, 10, 256) },
  // The browser page's short-lived caller token (keyed with the app secret's token; never returns that token).
  { method: 'POST', path: '/browser/token', ...fn('browser-token', false, { ...NONE, appSecret: true }, 10, 256) },
  // The agent calls someone: Twilio's REST API places a call whose TwiML connects it to the WebSocket API.
  { method: 'POST', path: '/calls', ...fn('outbound-call', false, { ...NONE, appSecret: true }, 15, 256) },
  // The on-call engineer's history of this environment's calls (Bearer <voiceAgentToken>): lists calls from the index,
  // reads a call and its turns; writes nothing.
  {
    method: 'GET',
    path: '/history',
    ...fn('call-history', false, { ...NONE, table: ['dynamodb:GetItem', 'dynamodb:Query'], appSecret: true, callIndex: true }, 10, 512),
  },
];

/**
 * The HTTP API's CORS configuration (API Gateway answers preflights itself and sets the CORS headers of every answer;
 * the local gateway does the same). Needed by the history page, deployed beside the call page on another origin,
 * which sends an Authorization header; the other routes take simple requests (the call page's POST /browser/token).
 */
export const HTTP_CORS = {
  allowOrigins: ['*'],
  // POST too: with CORS configured, HTTP API sets every answer's CORS headers itself, the token endpoint's included.
  allowMethods: ['GET', 'POST'],
  allowHeaders: ['authorization'],
  maxAgeSeconds: 3600,
} as const;

export const ALL_FUNCTIONS: readonly FunctionSpec[] = [...ROUTES, AUTHORIZER, ...HTTP_ROUTES];

export const functionSpec = (name: string): FunctionSpec | undefined => ALL_FUNCTIONS.find((f) => f.name === name);
