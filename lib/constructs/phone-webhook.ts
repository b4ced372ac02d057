/**
 * The phone line's front door: an HTTP API whose `POST /twilio/voice` (functions/routes.ts HTTP_ROUTES) Twilio
 * calls when the number rings. Its function answers with TwiML pointing the call at the WebSocket stage.
 * No API Gateway authorizer: Twilio cannot present one; the function checks X-Twilio-Signature instead.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { HttpApi, HttpMethod, HttpStage, LogGroupLogDestination, type CfnStage } from 'aws-cdk-lib/aws-apigatewayv2';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { HttpLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { Function as LambdaFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { HTTP_ROUTES } from '../../functions/routes';

export interface PhoneWebhookProps {
  /** Function name → function (RouteFunctions.byName). */
  readonly functions: ReadonlyMap<string, LambdaFunction>;
  /** wss:// URL of the WebSocket stage the TwiML connects calls to. */
  readonly streamUrl: string;
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly logRetention: RetentionDays;
  readonly retainLogs: boolean;
}

export class PhoneWebhook extends Construct {
  readonly api: HttpApi;

  constructor(scope: Construct, id: string, props: PhoneWebhookProps) {
    super(scope, id);
    this.api = new HttpApi(this, 'Api', { description: 'Twilio voice webhook of the voice agent', createDefaultStage: false });
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
    (stage.node.defaultChild as CfnStage).addPropertyOverride('StageName', '$default');
    for (const route of HTTP_ROUTES) {
      const fn = props.functions.get(route.name);
      if (!fn) throw new Error(`no function for HTTP route ${route.method} ${route.path}`);
      fn.addEnvironment('VOICE_STREAM_URL', props.streamUrl);
      const [added] = this.api.addRoutes({
        path: route.path,
        methods: [HttpMethod[route.method]],
        integration: new HttpLambdaIntegration(`${route.name}-integration`, fn),
      });
      Validations.of(added!).acknowledge({
        id: 'AwsSolutions-APIG4',
        reason: "Twilio's webhook cannot present an API Gateway authorizer; the function validates X-Twilio-Signature (HMAC of URL and parameters).",
      });
    }
  }

  /** https://{api}.execute-api.{region}.amazonaws.com: the webhook's base URL. */
  get url(): string {
    return this.api.apiEndpoint;
  }
}
