/**
 * The API Gateway WebSocket API of the route table: one Lambda integration per route, the authorizer on $connect,
 * a stage with throttling, access logs and execution logs at ERROR.
 */
import { Aws, RemovalPolicy, Stack, Validations, type CfnElement } from 'aws-cdk-lib';
import { AccessLogFormat } from 'aws-cdk-lib/aws-apigateway';
import { CfnAccount } from 'aws-cdk-lib/aws-apigateway';
import {
  CfnStage,
  DomainName,
  LogGroupLogDestination,
  WebSocketApi,
  WebSocketStage,
  type WebSocketRouteOptions,
} from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import { Certificate } from 'aws-cdk-lib/aws-certificatemanager';
import { ManagedPolicy, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AUTHORIZER, ROUTE_SELECTION_EXPRESSION, ROUTES } from '../../functions/contracts/routes';
import { checkCustomDomain, type CustomDomain } from '../config';

export interface VoiceWebSocketApiProps {
  /** Stage name (the environment). */
  readonly stageName: string;
  /** The function serving each route key of ROUTES. */
  readonly routeFunction: (routeKey: string) => IFunction;
  readonly authorizerFunction: IFunction;
  /** Stage-wide steady rate (messages/s) and burst. */
  readonly throttle: { readonly rateLimit: number; readonly burstLimit: number };
  readonly detailedRouteMetrics: boolean;
  readonly logRetention: RetentionDays;
  readonly retainLogs: boolean;
  /** Create and set the account's API Gateway CloudWatch Logs role (required before a WebSocket stage may log). */
  readonly manageAccountLogRole: boolean;
  /** Serve the stage at this domain name too (lib/config.ts CustomDomain). */
  readonly customDomain?: CustomDomain;
}

/** One JSON line per connect, message and disconnect. No message bodies: they carry caller audio. */
const ACCESS_LOG_FIELDS = {
  requestId: '$context.requestId',
  connectionId: '$context.connectionId',
  routeKey: '$context.routeKey',
  eventType: '$context.eventType',
  status: '$context.status',
  requestTime: '$context.requestTimeEpoch',
  integrationLatency: '$context.integrationLatency',
  integrationStatus: '$context.integration.status',
  integrationError: '$context.integration.error',
  authorizeError: '$context.authorize.error',
  error: '$context.error.message',
  ip: '$context.identity.sourceIp',
  disconnectStatusCode: '$context.disconnectStatusCode',
};

export class VoiceWebSocketApi extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;
  readonly accessLogs: LogGroup;
  /** The custom domain name, when there is one. */
  readonly domain?: DomainName;
  private readonly customDomain?: CustomDomain;

  constructor(scope: Construct, id: string, props: VoiceWebSocketApiProps) {
    super(scope, id);
    const authorizer = new WebSocketLambdaAuthorizer('Authorizer', props.authorizerFunction, {
      identitySource: [...AUTHORIZER.identitySource],
    });
    const integration = (routeKey: string): WebSocketRouteOptions => ({
      integration: new WebSocketLambdaIntegration(`${routeId(routeKey)}Integration`, props.routeFunction(routeKey)),
    });

    const connect = ROUTES.find((r) => r.routeKey === '$connect');
    const disconnect = ROUTES.find((r) => r.routeKey === '$disconnect');
    const fallback = ROUTES.find((r) => r.routeKey === '$default');
    this.api = new WebSocketApi(this, 'Api', {
      apiName: `voice-agent-${props.stageName}`,
      routeSelectionExpression: ROUTE_SELECTION_EXPRESSION,
      connectRouteOptions: connect ? { ...integration(connect.routeKey), authorizer } : undefined,
      disconnectRouteOptions: disconnect ? integration(disconnect.routeKey) : undefined,
      defaultRouteOptions: fallback ? integration(fallback.routeKey) : undefined,
    });
    for (const route of ROUTES) {
      if (route.routeKey.startsWith('$')) continue;
      this.api.addRoute(route.routeKey, integration(route.routeKey));
    }
    Validations.of(this.api).acknowledge({
      id: 'AwsSolutions-APIG4',
      reason:
        'WebSocket APIs authorize once, on $connect (the Lambda authorizer); messages on an open connection cannot ' +
        'carry an authorizer. The call is bound to that authorized connection.',
    });

    this.accessLogs = new LogGroup(this, 'AccessLogs', {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    this.customDomain = props.customDomain;
    if (props.customDomain) {
      checkCustomDomain(props.customDomain);
      this.domain = new DomainName(this, 'Domain', {
        domainName: props.customDomain.domainName,
        certificate: Certificate.fromCertificateArn(this, 'Certificate', props.customDomain.certificateArn),
      });
    }
    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      ...(this.domain ? { domainMapping: { domainName: this.domain, mappingKey: props.customDomain!.basePath } } : {}),
      autoDeploy: true,
      throttle: props.throttle,
      detailedMetricsEnabled: props.detailedRouteMetrics,
      accessLogSettings: {
        destination: new LogGroupLogDestination(this.accessLogs),
        format: AccessLogFormat.custom(JSON.stringify(ACCESS_LOG_FIELDS)),
      },
    });
    const cfnStage = this.stage.node.defaultChild as CfnStage;
    // Execution logs at ERROR only: INFO would write a line per message, 50 a second per call.
    cfnStage.addPropertyOverride('DefaultRouteSettings.LoggingLevel', 'ERROR');
    cfnStage.addPropertyOverride('DefaultRouteSettings.DataTraceEnabled', false);

    if (props.manageAccountLogRole) {
      // API Gateway refuses a WebSocket stage with logging until the account names a role it may log with.
      const role = new Role(this, 'ApiGatewayLogRole', {
        assumedBy: new ServicePrincipal('apigateway.amazonaws.com'),
        managedPolicies: [ManagedPolicy.fromAwsManagedPolicyName('service-role/AmazonAPIGatewayPushToCloudWatchLogs')],
      });
      // Account-wide: other APIs in the account/region may rely on it, so it outlives this stack.
      role.applyRemovalPolicy(RemovalPolicy.RETAIN);
      const account = new CfnAccount(this, 'ApiGatewayAccount', { cloudWatchRoleArn: role.roleArn });
      account.applyRemovalPolicy(RemovalPolicy.RETAIN);
        cfnStage.addResourceDependency(account);
      Validations.of(role).acknowledge({
        id: 'AwsSolutions-IAM4[Policy::arn:<AWS::Partition>:iam::aws:policy/service-role/AmazonAPIGatewayPushToCloudWatchLogs]',
        reason: 'The AWS-managed policy API Gateway documents for its account-level logging role.',
      });
    }
  }

  /** wss://{api}.execute-api.{region}.amazonaws.com/{stage} */
  get url(): string {
    return this.stage.url;
  }

  /**
   * The URL callers are given (the phone line's TwiML, the browser token): `wss://{domain}/{basePath}` behind a custom
   * domain, else the stage's own URL.
   */
  get publicUrl(): string {
    const d = this.customDomain;
    return d ? `wss://${d.domainName}${d.basePath ? `/${d.basePath}` : ''}` : this.url;
  }

  /** https://{api}.execute-api.{region}.amazonaws.com/{stage}: the @connections management endpoint. */
  get connectionsEndpoint(): string {
    return this.stage.callbackUrl;
  }

  /** arn:…:execute-api:{region}:{account}:{api}/{stage}: what ManageConnections grants are scoped to. */
  get stageArn(): string {
    // Pseudo-parameters even when the stack's region is known, so the ARN (and cdk-nag's finding id) is the same
    // for every deployer.
    return `arn:${Aws.PARTITION}:execute-api:${Aws.REGION}:${Aws.ACCOUNT_ID}:${this.api.apiId}/${this.stage.stageName}`;
  }

  /** stageArn as cdk-nag renders it in finding ids (tokens as `<…>`). */
  get stageArnForNag(): string {
    const apiLogicalId = Stack.of(this).getLogicalId(this.api.node.defaultChild as CfnElement);
    return `arn:<AWS::Partition>:execute-api:<AWS::Region>:<AWS::AccountId>:<${apiLogicalId}>/${this.stage.stageName}`;
  }
}

const routeId = (routeKey: string) => (routeKey.startsWith('$') ? routeKey.slice(1) : routeKey).replace(/[^A-Za-z0-9]/g, '');
