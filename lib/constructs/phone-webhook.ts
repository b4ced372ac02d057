/**
 * The HTTP front doors (functions/contracts/routes.ts HTTP_ROUTES), one HTTP API: `POST /twilio/voice`, which Twilio calls when
 * the number rings (its function answers with TwiML pointing the call at the WebSocket stage), `POST /browser/token`,
 * where the browser page gets a short-lived caller token, `POST /calls`, where the owner of the line has the
 * agent call someone, and `GET /history`, the on-call engineer's list of calls turn by turn. Every function behind it is told the stream URL callers are given (VOICE_STREAM_URL). No route
 * has an API Gateway authorizer: each says why below.
 */
import { Duration, RemovalPolicy, Validations } from 'aws-cdk-lib';
import { CorsHttpMethod, HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, type CfnRoute, type CfnStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HTTP_CORS, HTTP_ROUTES } from '../../functions/contracts/routes';

export interface PhoneWebhookProps {
  /** Function name → function (RouteFunctions.byName). */
  readonly functions: ReadonlyMap<string, LambdaFunction>;
  /** wss:// URL of the WebSocket stage the TwiML connects calls to. */
  readonly streamUrl: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  /** Tighter limits for some routes (`METHOD /path` → limits), so one route cannot use up the others' share. */
  readonly routeThrottle?: Readonly<Record<string, { readonly rateLimit: number; readonly burstLimit: number }>>;
  readonly logRetention: RetentionDays;
  readonly retainLogs: boolean;
}

/**
 * Why each HTTP route has no API Gateway authorizer (cdk-nag AwsSolutions-APIG4). A new route must say why here,
 * or the synth fails.
 */
const WHY_NO_AUTHORIZER: Readonly<Record<string, string>> = {
  'twilio-voice': "Twilio's webhook cannot present an API Gateway authorizer; the function validates X-Twilio-Signature (HMAC of URL and parameters).",
  'browser-token':
    'Open on purpose: the demo line\'s browser page has no credential to present. It hands out only 5-minute caller tokens ' +
    '(never the long-lived one), and its stage route is throttled.',
  'call-history':
    'Authenticated in the function: Authorization: Bearer <voiceAgentToken>, compared in constant time with the app secret; ' +
    'it reads only this environment\'s calls, writes nothing, and its stage route is throttled.',
  'outbound-call':
    'Authenticated in the function: Authorization: Bearer <voiceAgentToken>, compared in constant time with the app secret ' +
    '(the same check the WebSocket authorizer makes); its stage route is throttled to a few calls a second.',
};

export class PhoneWebhook extends Construct {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: PhoneWebhookProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', {
      description: 'Twilio voice webhook, browser token, outbound call and call history endpoints of the voice agent',
      createDefaultStage: false,
      // The history page (deployed beside the call page, another origin) sends an Authorization header: its browser asks
      // first (a CORS preflight), which HTTP API answers itself from this. Nothing else needs it (simple requests).
      corsPreflight: {
        allowOrigins: [...HTTP_CORS.allowOrigins],
        allowMethods: HTTP_CORS.allowMethods.map((m) => CorsHttpMethod[m]),
        allowHeaders: [...HTTP_CORS.allowHeaders],
        maxAge: Duration.seconds(HTTP_CORS.maxAgeSeconds),
      },
    });
    const logs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    const stage = new HttpStage(this, 'Stage', {
      httpApi: this.api,
      autoDeploy: true,
      throttle: props.throttle,
      accessLogSettings: {
        destination: new LogGroupLogDestination(logs),
        format: AccessLogFormat.custom(JSON.stringify({ requestId: '$context.requestId', ip: '$context.identity.sourceIp', routeKey: '$context.routeKey', status: '$context.status', latency: '$context.responseLatency' })),
      },
    });
    const cfnStage = stage.node.defaultChild as CfnStage;
    cfnStage.addPropertyOverride('StageName', '$default');
    const routes = new Map<string, CfnRoute>();
    for (const route of HTTP_ROUTES) {
      const fn = props.functions.get(route.name);
      if (!fn) throw new Error(`no function for HTTP route ${route.method} ${route.path}`);
      fn.addEnvironment('VOICE_STREAM_URL', props.streamUrl);
      const [added] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${route.name}-integration`, fn),
      });
      const reason = WHY_NO_AUTHORIZER[route.name];
      if (!reason) throw new Error(`HTTP route ${route.method} ${route.path}: say in WHY_NO_AUTHORIZER why it has no authorizer`);
      Validations.of(added!).acknowledge({ id: 'AwsSolutions-APIG4', reason });
      routes.set(`${route.method} ${route.path}`, added!.node.defaultChild as CfnRoute);
    }
    for (const [routeKey, limits] of Object.entries(props.routeThrottle ?? {})) {
      const route = routes.get(routeKey);
      if (!route) throw new Error(`routeThrottle: no HTTP route ${routeKey}`);
      cfnStage.addPropertyOverride(`RouteSettings.${routeKey}`, { ThrottlingRateLimit: limits.rateLimit, ThrottlingBurstLimit: limits.burstLimit });
      // API Gateway refuses route settings for a route it does not know yet ("Unable to find Route by key … within the
      // provided RouteSettings"), and nothing else orders the stage after the route: CloudFormation could create the
      // stage first on the first deploy.
      cfnStage.addResourceDependency(route);
    }
  }

  /** https://{api}.execute-api.{region}.amazonaws.com: the routes' base URL. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
