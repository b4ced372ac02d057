/**
 * The one route table: API Gateway WebSocket route keys → the Lambda handler that serves them, with the
 * settings both the CDK stack and the local stack read. Route selection is `$request.body.event`, so a
 * Twilio Media Streams message `{"event":"media",…}` goes to the `media` route.
 */
export const ROUTE_SELECTION_EXPRESSION = '$request.body.event';

export interface FunctionSpec {
  /** Function (and bundle) name; the entry is `functions/handlers/<name>.ts`. */
  readonly name: string;
  readonly memoryMb: number;
  readonly timeoutSeconds: number;
  /** On the latency-critical path: gets provisioned concurrency. */
  readonly hotPath: boolean;
}

export interface RouteSpec extends FunctionSpec {
  readonly routeKey: string;
}

const fn = (name: string, hotPath: boolean, timeoutSeconds = 29, memoryMb = 1024): FunctionSpec => ({
  name,
  memoryMb,
  timeoutSeconds,
  hotPath,
});

export const ROUTES: readonly RouteSpec[] = [
  { routeKey: '$connect', ...fn('connect', false, 10, 512) },
  { routeKey: 'start', ...fn('start', true) },
  { routeKey: 'media', ...fn('media', true) },
  { routeKey: 'dtmf', ...fn('dtmf', true) },
  { routeKey: 'mark', ...fn('mark', true, 10, 512) },
  { routeKey: 'stop', ...fn('stop', false, 10, 512) },
  { routeKey: '$disconnect', ...fn('disconnect', false, 10, 512) },
  { routeKey: '$default', ...fn('fallback', false, 10, 512) },
];

/** REQUEST authorizer on `$connect`: the caller's token arrives as `?token=`. */
export const AUTHORIZER = {
  ...fn('authorizer', false, 5, 256),
  identitySource: ['route.request.querystring.token'] as const,
};

export const ALL_FUNCTIONS: readonly FunctionSpec[] = [...ROUTES, AUTHORIZER];
