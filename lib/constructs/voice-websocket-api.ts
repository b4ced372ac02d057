/** The API Gateway WebSocket API of the route table: one Lambda integration per route, the authorizer on $connect. */
import { WebSocketApi, WebSocketStage, type WebSocketRouteOptions } from 'aws-cdk-lib/aws-apigatewayv2';
import { WebSocketLambdaAuthorizer } from 'aws-cdk-lib/aws-apigatewayv2-authorizers';
import { WebSocketLambdaIntegration } from 'aws-cdk-lib/aws-apigatewayv2-integrations';
import type { IGrantable } from 'aws-cdk-lib/aws-iam';
import type { IFunction } from 'aws-cdk-lib/aws-lambda';
import { Construct } from 'constructs';
import { AUTHORIZER, ROUTE_SELECTION_EXPRESSION, ROUTES } from '../../functions/routes';

/** Routes that carry messages on an open socket (and may post back through @connections). */
export const isMessageRoute = (routeKey: string) => routeKey !== '$connect' && routeKey !== '$disconnect';

export interface VoiceWebSocketApiProps {
  /** Stage name (the environment). */
  readonly stageName: string;
  /** The function serving each route key of ROUTES. */
  readonly routeFunction: (routeKey: string) => IFunction;
  readonly authorizerFunction: IFunction;
}

export class VoiceWebSocketApi extends Construct {
  readonly api: WebSocketApi;
  readonly stage: WebSocketStage;

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

    this.stage = new WebSocketStage(this, 'Stage', {
      webSocketApi: this.api,
      stageName: props.stageName,
      autoDeploy: true,
    });
  }

  /** execute-api:ManageConnections (post to / delete @connections) on this API. */
  grantManageConnections(grantee: IGrantable): void {
    this.api.grantManageConnections(grantee);
  }

  /** wss://{api}.execute-api.{region}.amazonaws.com/{stage} */
  get url(): string {
    return this.stage.url;
  }

  /** https://{api}.execute-api.{region}.amazonaws.com/{stage}: the @connections management endpoint. */
  get connectionsEndpoint(): string {
    return this.stage.callbackUrl;
  }
}

const routeId = (routeKey: string) => (routeKey.startsWith('$') ? routeKey.slice(1) : routeKey).replace(/[^A-Za-z0-9]/g, '');
