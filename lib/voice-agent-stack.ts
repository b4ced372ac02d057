/** The voice agent: the call table, one function per route-table entry, and the WebSocket API in front of them. */
import { Annotations, CfnOutput, RemovalPolicy, Stack, type StackProps } from 'aws-cdk-lib';
import type { Construct } from 'constructs';
import { CallTable } from './constructs/call-table';
import { RouteFunctions } from './constructs/route-functions';
import { isMessageRoute, VoiceWebSocketApi } from './constructs/voice-websocket-api';
import { ENVIRONMENT_CONFIG } from './config';
import type { EnvName } from './environments';

export interface VoiceAgentStackProps extends StackProps {
  readonly envName: EnvName;
  /** TODO(secrets): plain value for now; a later issue moves it to Secrets Manager. */
  readonly voiceAgentToken?: string;
}

export class VoiceAgentStack extends Stack {
  readonly callTable: CallTable;
  readonly functions: RouteFunctions;
  readonly webSocket: VoiceWebSocketApi;

  constructor(scope: Construct, id: string, props: VoiceAgentStackProps) {
    super(scope, id, props);
    const config = ENVIRONMENT_CONFIG[props.envName];

    this.callTable = new CallTable(this, 'CallTable', { retain: config.retainData });

    this.functions = new RouteFunctions(this, 'Functions', {
      tableName: this.callTable.table.tableName,
      voiceAgentToken: props.voiceAgentToken,
      logRetention: config.logRetention,
      logRemovalPolicy: config.retainData ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
      hotPath: config.hotPath,
    });
    if (!props.voiceAgentToken) {
      Annotations.of(this.functions.authorizer).addWarningV2(
        'voice-agent:noToken',
        'no VOICE_AGENT_TOKEN given (-c voiceAgentToken=… or $VOICE_AGENT_TOKEN): the authorizer will refuse every caller',
      );
    }

    this.webSocket = new VoiceWebSocketApi(this, 'WebSocket', {
      stageName: props.envName,
      routeFunction: (routeKey) => this.functions.route(routeKey),
      authorizerFunction: this.functions.authorizer,
    });

    for (const [routeKey, fn] of this.functions.byRouteKey) {
      // TODO(least-privilege): read/write on the whole table for every route for now; narrow per route later.
      this.callTable.table.grantReadWriteData(fn);
      if (isMessageRoute(routeKey)) {
        this.webSocket.grantManageConnections(fn);
        // Lets init-time priming open the @connections client before the first invocation.
        fn.addEnvironment('CONNECTIONS_ENDPOINT', this.webSocket.connectionsEndpoint);
      }
    }

    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocket.url, description: 'wss:// URL of the WebSocket stage' });
    new CfnOutput(this, 'CallsTableName', { value: this.callTable.table.tableName, description: 'DynamoDB call table' });
  }
}
