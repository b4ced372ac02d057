/**
 * The voice agent in one environment: the call table, the app secret, one function per route-table entry, the
 * WebSocket API in front of them, and the latency budget watched by a dashboard and alarms.
 */
import { Annotations, CfnOutput, Stack, type StackProps } from 'aws-cdk-lib';
import { ALL_FUNCTIONS } from '../functions/contracts/routes';
import { accountNeeds, checkAccount } from './account-needs';
import type { Construct } from 'constructs';
import { AppSecret } from './constructs/app-secret';
import { CallTable } from './constructs/call-table';
import { LatencyMonitoring } from './constructs/latency-monitoring';
import { PhoneWebhook } from './constructs/phone-webhook';
import { RouteFunctions } from './constructs/route-functions';
import { VoiceWebSocketApi } from './constructs/voice-websocket-api';
import { WebClient } from './constructs/web-client';
import type { EnvironmentConfig } from './config';
import type { EnvName } from './environments';

export interface VoiceAgentStackProps extends StackProps {
  readonly envName: EnvName;
  readonly config: EnvironmentConfig;
  /**
   * The target account's unreserved Lambda concurrency (`npm run preflight` prints it; `-c accountConcurrency=…`):
   * when given, a stack whose provisioned concurrency cannot fit fails the synth with what to do, instead of
   * CloudFormation rolling back halfway through the deploy (lib/account-needs.ts).
   */
  readonly accountConcurrency?: number;
}

export class VoiceAgentStack extends Stack {
  readonly callTable: CallTable;
  readonly appSecret: AppSecret;
  readonly functions: RouteFunctions;
  readonly webSocket: VoiceWebSocketApi;
  readonly monitoring: LatencyMonitoring;
  readonly phone: PhoneWebhook;
  readonly web: WebClient;

  constructor(scope: Construct, id: string, props: VoiceAgentStackProps) {
    super(scope, id, props);
    const { config, envName } = props;
    const needs = accountNeeds(config, ALL_FUNCTIONS.filter((f) => f.hotPath).length);
    if (props.accountConcurrency !== undefined) {
      const verdict = checkAccount(needs, { unreserved: props.accountConcurrency }, envName);
      if (verdict.blocking) throw new Error(verdict.blocking);
      if (verdict.warning) Annotations.of(this).addWarningV2('voice-agent:account-concurrency', verdict.warning);
    } else if (needs.provisionedAtDeploy > 0) {
      Annotations.of(this).addInfo(
        `Provisioned concurrency needs ${needs.concurrencyForDeploy} of the account's unreserved Lambda concurrency to deploy and ${needs.concurrencyForPeak} at its peak ` +
          '(new accounts have 10): `npm run preflight -- --env ' + envName + '` checks the account.',
      );
    }

    this.callTable = new CallTable(this, 'CallTable', config.table);
    this.appSecret = new AppSecret(this, 'AppSecret', { secretName: `voice-agent/${envName}`, retain: config.table.retain });

    this.functions = new RouteFunctions(this, 'Functions', {
      envName,
      responder: config.responder,
      table: this.callTable.table,
      callRetentionHours: config.table.callRetentionHours,
      appSecret: this.appSecret.secret,
      memoryMb: config.memoryMb,
      logRetention: config.logs.retention,
      retainLogs: config.logs.retain,
      hotPath: config.hotPath,
    });

    this.webSocket = new VoiceWebSocketApi(this, 'WebSocket', {
      stageName: envName,
      routeFunction: (routeKey) => this.functions.route(routeKey),
      authorizerFunction: this.functions.authorizer,
      throttle: config.stageThrottle,
      detailedRouteMetrics: config.detailedRouteMetrics,
      logRetention: config.logs.retention,
      retainLogs: config.logs.retain,
      manageAccountLogRole: config.manageApiGatewayLogRole,
      customDomain: config.customDomain,
    });
    // The authorizer checks a Twilio signature against the URL Twilio was given (functions/access/twilio-signature.ts).
    this.functions.authorizer.addEnvironment('VOICE_STREAM_URL', this.webSocket.publicUrl);
    this.functions.allowConnections({ endpoint: this.webSocket.connectionsEndpoint, stageArn: this.webSocket.stageArn, stageArnForNag: this.webSocket.stageArnForNag });

    this.phone = new PhoneWebhook(this, 'Phone', {
      functions: this.functions.byName,
      streamUrl: this.webSocket.publicUrl,
      // One request per incoming call: a few a second is a busy line; anything far beyond it is not Twilio.
      throttle: { rateLimit: 20, burstLimit: 50 },
      // The browser token endpoint is open: one token per Call pressed. Its own, lower limit keeps a flood of token
      // requests from taking the phone line's share of the stage.
      routeThrottle: {
        'POST /browser/token': { rateLimit: 5, burstLimit: 10 },
        'POST /calls': { rateLimit: 1, burstLimit: 5 },
        // An engineer's page: a few requests a second is plenty, and bounds what a leaked token could pull out quickly.
        'GET /history': { rateLimit: 2, burstLimit: 10 },
      },
      logRetention: config.logs.retention,
      retainLogs: config.logs.retain,
    });

    this.web = new WebClient(this, 'WebClient', { apiUrl: this.phone.url, logRetention: config.logs.retention, retainLogs: config.logs.retain });

    this.monitoring = new LatencyMonitoring(this, 'Monitoring', {
      envName,
      budgetMs: config.latencyBudgetMs,
      thresholds: config.alarms,
      functions: this.functions.byName,
      liveAliases: this.functions.liveAliases,
      table: this.callTable.table,
      apiId: this.webSocket.api.apiId,
      stageName: this.webSocket.stage.stageName,
      alarmEmail: config.alarmEmail,
    });

    new CfnOutput(this, 'WebSocketUrl', { value: this.webSocket.publicUrl, description: 'wss:// URL callers connect to (add ?token=<voiceAgentToken>)' });
    if (this.webSocket.domain) {
      new CfnOutput(this, 'CustomDomainTarget', {
        value: this.webSocket.domain.regionalDomainName,
        description: `DNS: a CNAME from ${config.customDomain!.domainName} to this name (Regional API Gateway domain)`,
      });
      new CfnOutput(this, 'StageUrl', { value: this.webSocket.url, description: "The stage's own execute-api URL (still served)" });
    }
    new CfnOutput(this, 'TwilioWebhookUrl', {
      value: `${this.phone.url}/twilio/voice`,
      description: "Twilio number → Voice → 'A call comes in' → Webhook, HTTP POST (set twilioAuthToken in the app secret)",
    });
    new CfnOutput(this, 'WebClientPage', {
      value: this.web.pageS3Uri,
      description: 'The browser page (private bucket): open the link `aws s3 presign <this> --expires-in 3600` prints',
    });
    new CfnOutput(this, 'CallHistoryPage', {
      value: this.web.historyPageS3Uri,
      description: "The on-call history of this environment's calls (private bucket; presign it like WebClientPage; it asks for the voiceAgentToken)",
    });
    new CfnOutput(this, 'DashboardUrl', { value: this.monitoring.dashboardUrl, description: 'CloudWatch dashboard of the latency budget' });
    new CfnOutput(this, 'CallsTableName', { value: this.callTable.table.tableName, description: 'DynamoDB call table' });
    new CfnOutput(this, 'AppSecretName', { value: `voice-agent/${envName}`, description: 'Secrets Manager secret: voiceAgentToken, deepgramApiKey, elevenLabsApiKey, twilioAuthToken' });
    new CfnOutput(this, 'AlarmTopicArn', { value: this.monitoring.topic.topicArn, description: 'SNS topic the alarms notify' });
  }
}
