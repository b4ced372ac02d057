/**
 * The per-turn latency budget, watched: a CloudWatch dashboard (p50/p95/p99 of every stage against the budget,
 * the slowest turns with their call ids, calls in progress, errors, throttles, provisioned concurrency), saved Logs
 * Insights queries (saved-queries.ts) and alarms on an encrypted SNS topic for the on-call engineer, each saying what
 * it means, what to look at first and where the dashboard is (docs/ONCALL.md). Metric names come from
 * functions/contracts/metrics.ts, the module the functions publish with.
 */
import { Duration, Stack } from 'aws-cdk-lib';
import {
  Alarm,
  ComparisonOperator,
  Dashboard,
  GraphWidget,
  LogQueryVisualizationType,
  LogQueryWidget,
  MathExpression,
  Metric,
  SingleValueWidget,
  TextWidget,
  TreatMissingData,
  type IMetric,
} from 'aws-cdk-lib/aws-cloudwatch';
import { SnsAction } from 'aws-cdk-lib/aws-cloudwatch-actions';
import { Operation, type ITable } from 'aws-cdk-lib/aws-dynamodb';
import { ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Key } from 'aws-cdk-lib/aws-kms';
import type { Alias, IFunction } from 'aws-cdk-lib/aws-lambda';
import type { ILogGroup } from 'aws-cdk-lib/aws-logs';
import { Topic } from 'aws-cdk-lib/aws-sns';
import { EmailSubscription } from 'aws-cdk-lib/aws-sns-subscriptions';
import { Construct } from 'constructs';
import {
  COLD_START_METRIC,
  ENVIRONMENT_DIMENSION,
  LATENCY_STAGES,
  MODEL_FIRST_TOKEN_METRIC,
  METRICS_NAMESPACE,
  SERVICE_NAME,
  TURN_LATENCY_METRIC,
  type MetricName,
} from '../../functions/contracts/metrics';
import { HTTP_ROUTES } from '../../functions/contracts/routes';
import type { AlarmThresholds } from '../config';
import { SavedQueries, slowestTurnsQuery } from './saved-queries';

export interface LatencyMonitoringProps {
  readonly envName: string;
  /** Turn latency budget drawn on every latency graph (ms). */
  readonly budgetMs: number;
  readonly thresholds: AlarmThresholds;
  /** Every function of the stack, by route-table name, with the log group it writes to. */
  readonly functions: ReadonlyMap<string, IFunction & { readonly logGroup: ILogGroup }>;
  /** The hot path's provisioned aliases, by function name. */
  readonly liveAliases: ReadonlyMap<string, Alias>;
  readonly table: ITable;
  /** API id and stage of the WebSocket API (API Gateway metric dimensions). */
  readonly apiId: string;
  readonly stageName: string;
  readonly alarmEmail?: string;
}

const PERIOD = Duration.minutes(1);
const PERCENTILES = ['p50', 'p95', 'p99'] as const;
/** CloudWatch alarms on a metric-math expression may reference at most 10 metrics. */
const MAX_ALARM_METRICS = 10;
/** CloudFormation's limit on AlarmDescription: the text of the alarm e-mail. */
export const MAX_ALARM_DESCRIPTION = 1024;

export class LatencyMonitoring extends Construct {
  readonly dashboard: Dashboard;
  readonly topic: Topic;
  readonly alarms: readonly Alarm[];
  readonly queries: SavedQueries;

  constructor(scope: Construct, id: string, props: LatencyMonitoringProps) {
    super(scope, id);
    const app = (metricName: MetricName | typeof COLD_START_METRIC, statistic: string, extra: Record<string, string> = {}, label?: string) =>
      new Metric({
        namespace: METRICS_NAMESPACE,
        metricName,
        dimensionsMap: { service: SERVICE_NAME, [ENVIRONMENT_DIMENSION]: props.envName, ...extra },
        statistic,
        period: PERIOD,
        label,
      });
    const sumOf = (label: string, metrics: IMetric[]) => {
      if (metrics.length > MAX_ALARM_METRICS) throw new Error(`${label}: ${metrics.length} metrics, an alarm allows ${MAX_ALARM_METRICS}`);
      const usingMetrics = Object.fromEntries(metrics.map((m, i) => [`m${i}`, m]));
      return new MathExpression({ expression: Object.keys(usingMetrics).join(' + '), usingMetrics, label, period: PERIOD });
    };
    const functions = [...props.functions.entries()];
    const lambda = (name: string, statistic: string, only: (fnName: string) => boolean = () => true) =>
      functions.filter(([fnName]) => only(fnName)).map(([fnName, fn]) => fn.metric(name, { statistic, period: PERIOD, label: fnName }));
    // An alarm may sum at most 10 metrics, fewer than the stack's functions: the WebSocket call path's functions and
    // the HTTP routes' (Twilio webhook, browser token) are alarmed apart.
    const isHttp = (fnName: string) => HTTP_ROUTES.some((r) => r.name === fnName);
    const isCallPath = (fnName: string) => !isHttp(fnName);
    const spillover = [...props.liveAliases.entries()].map(([name, alias]) =>
      alias.metric('ProvisionedConcurrencySpilloverInvocations', { statistic: 'Sum', period: PERIOD, label: name }),
    );
    const utilization = [...props.liveAliases.entries()].map(([name, alias]) =>
      alias.metric('ProvisionedConcurrencyUtilization', { statistic: 'Maximum', period: PERIOD, label: name }),
    );
    const gateway = (metricName: string, statistic = 'Sum') =>
      new Metric({
        namespace: 'AWS/ApiGateway',
        metricName,
        dimensionsMap: { ApiId: props.apiId, Stage: props.stageName },
        statistic,
        period: PERIOD,
        label: metricName,
      });

    // --- Alarm topic: encrypted with a key CloudWatch may use (the AWS-managed SNS key does not let it publish).
    const key = new Key(this, 'AlarmTopicKey', {
      enableKeyRotation: true,
      description: `voice-agent-${props.envName} alarm topic`,
    });
    key.grant(new ServicePrincipal('cloudwatch.amazonaws.com'), 'kms:Decrypt', 'kms:GenerateDataKey*');
    this.topic = new Topic(this, 'AlarmTopic', {
      displayName: `Voice agent ${props.envName} alarms`,
      masterKey: key,
      enforceSSL: true,
    });
    if (props.alarmEmail) this.topic.addSubscription(new EmailSubscription(props.alarmEmail));

    // --- Where the on-call engineer looks: the dashboard (created first: every alarm links to it) and the saved
    // queries (every alarm that has one names it).
    this.dashboard = new Dashboard(this, 'Dashboard', {
      dashboardName: `voice-agent-${props.envName}`,
      // An alarm's link opens the dashboard on the last hour: the hour the alarm looked at, and the time range of the
      // "Slowest turns" table (a Logs Insights widget has none of its own; it follows the dashboard's).
      defaultInterval: Duration.hours(1),
    });
    this.queries = new SavedQueries(this, 'Queries', {
      envName: props.envName,
      logGroups: new Map(functions.map(([name, fn]) => [name, fn.logGroup])),
    });
    const q = this.queries.names;

    // --- Alarms
    const t = props.thresholds;
    const turns = new MathExpression({
      expression: 'completed + failed',
      usingMetrics: { completed: app('TurnsCompleted', 'Sum'), failed: app('TurnsFailed', 'Sum') },
      period: PERIOD,
    });
    const breachWindow = `in ${t.datapointsToAlarm} of the last ${t.evaluationPeriods} minutes`;
    const secret = `voice-agent/${props.envName}`;
    /**
     * The alarm e-mail is all the engineer has at night: what it means, what to look at first, the saved query to run
     * (where one helps), and the dashboard's link last, where mail clients make it clickable.
     */
    const describe = (means: string, first: string, query?: string) =>
      `${means} First: ${first}${query ? ` Logs Insights, saved query ${query}.` : ''} Dashboard: ${this.dashboardUrl}`;
    const alarm = (alarmId: string, description: string, metric: IMetric, threshold: number, once = false) => {
      const a = new Alarm(this, alarmId, {
        alarmName: `voice-agent-${props.envName}-${alarmId}`,
        alarmDescription: description,
        metric,
        threshold,
        comparisonOperator: ComparisonOperator.GREATER_THAN_THRESHOLD,
        // `once`: a single bad minute is an incident (a caller dropped instead of handed to a person).
        evaluationPeriods: once ? 1 : t.evaluationPeriods,
        datapointsToAlarm: once ? 1 : t.datapointsToAlarm,
        // No calls, no data: quiet hours are not an incident.
        treatMissingData: TreatMissingData.NOT_BREACHING,
      });
      a.addAlarmAction(new SnsAction(this.topic));
      a.addOkAction(new SnsAction(this.topic));
      return a;
    };
    this.alarms = [
      alarm(
        'TurnLatencyP95',
        describe(
          `Turn latency p95 (end of caller speech → first agent audio) over ${t.turnLatencyP95Ms} ms ${breachWindow}: callers wait too long for answers.`,
          'the dashboard\'s "Where the p95 goes" graph shows which stage grew; its "Slowest turns" table lists the slow turns with their call ids and stage times. If every stage grew at once, look at "Spillover" and "Cold starts".',
          `${q.slowestTurns} (a longer list), then ${q.callTimeline} with one of its call ids`,
        ),
        app(TURN_LATENCY_METRIC, 'p95'),
        t.turnLatencyP95Ms,
      ),
      alarm(
        'ProviderErrorRate',
        describe(
          `Speech providers (Deepgram speech-to-text, ElevenLabs text-to-speech) failing on more than ${t.providerErrorRatePercent}% of turns ${breachWindow} (timeouts, errors, bad keys): callers hear the fallback phrase.`,
          `the saved query below lists the calls hit and each one's last error (provider, kind, message). The same error on every call points at a key (app secret ${secret}), a quota or the vendor's status page; the dashboard's "Bad input and providers" graph shows errors against retries.`,
          q.providerErrors,
        ),
        new MathExpression({
          expression: 'IF(turns > 0, 100 * errors / turns, 0)',
          usingMetrics: { errors: app('ProviderErrors', 'Sum'), turns },
          label: 'provider errors (% of turns)',
          period: PERIOD,
        }),
        t.providerErrorRatePercent,
      ),
      alarm(
        'LlmErrors',
        describe(
          `The language model failing on more than ${t.llmErrorRatePercent}% of its calls ${breachWindow} (throttled, timed out, refused, broken stream). Callers are still answered (by the rules, or the failure line).`,
          'Bedrock\'s quotas and model access, then the dashboard\'s "Language model" row.',
          `${q.providerErrors} (lines "the language model failed", with the model's errors)`,
        ),
        new MathExpression({
          expression: 'IF(calls > 0, 100 * errors / calls, 0)',
          usingMetrics: { errors: app('LlmErrors', 'Sum'), calls: app('ModelCalls', 'Sum') },
          label: 'model errors (% of model calls)',
          period: PERIOD,
        }),
        t.llmErrorRatePercent,
      ),
      alarm(
        'FunctionErrors',
        describe(
          `Lambda errors (crash, timeout, out of memory) on the call path plus handler failures answered with 500 (RouteErrors) ${breachWindow}: callers may lose a turn or the call.`,
          'the dashboard\'s "Lambda errors" graph names the function; its log group holds the "route failed" line (error and stack, with the callId) or Lambda\'s own timeout or out-of-memory report.',
          `${q.callTimeline} with that callId: what the call went through`,
        ),
        sumOf('function errors', [...lambda('Errors', 'Sum', isCallPath), app('RouteErrors', 'Sum')]),
        t.functionErrorsPerMinute,
      ),
      alarm(
        'Throttles',
        describe(
          `Lambda invocations of the call path throttled ${breachWindow}: account or reserved concurrency exhausted, callers' messages (audio, marks) refused.`,
          `the dashboard's "Lambda throttles" graph names the function and "Calls in progress" whether load grew; then the account's unreserved concurrency (npm run preflight -- --env ${props.envName}).`,
        ),
        sumOf('throttles', lambda('Throttles', 'Sum', isCallPath)),
        t.throttlesPerMinute,
      ),
      alarm(
        'HttpRouteErrors',
        describe(
          `Lambda errors or throttles of the HTTP routes (${HTTP_ROUTES.map((r) => `${r.method} ${r.path}`).join(', ')}) ${breachWindow}: when it is the Twilio webhook, calls to the number go unanswered.`,
          'the dashboard\'s "Lambda errors" and "Lambda throttles" graphs name the function; its log group says why (app secret unavailable, VOICE_STREAM_URL not configured, outbound call refused by Twilio).',
        ),
        sumOf('HTTP route errors', [...lambda('Errors', 'Sum', isHttp), ...lambda('Throttles', 'Sum', isHttp)]),
        t.functionErrorsPerMinute,
      ),
      alarm(
        'PhoneLineFailures',
        describe(
          'Twilio refused or could not be reached: a caller asking for a person was dropped (TransferFailures), or an outbound call was not placed (OutboundCallsFailed).',
          `the Twilio account, its credentials and the numbers in the app secret ${secret}. The mark function logs "transfer failed: ending the call" (with the callId), the outbound-call function "outbound call refused by Twilio" (status, code).`,
          `${q.callTimeline} with the dropped call's callId`,
        ),
        sumOf('phone line failures', [app('TransferFailures', 'Sum'), app('OutboundCallsFailed', 'Sum')]),
        0,
        true,
      ),
      alarm(
        'ProvisionedSpillover',
        describe(
          `Hot-path invocations beyond provisioned concurrency ${breachWindow}: cold starts on the call path, which add to turn latency.`,
          'the dashboard\'s "Provisioned concurrency utilization" and "Spillover" graphs. Raise provisioned/max or the business-hours schedule (lib/config.ts).',
        ),
        sumOf('spillover', spillover),
        t.spilloverPerMinute,
      ),
      alarm(
        'DynamoThrottles',
        describe(
          `Call table requests throttled ${breachWindow}: frames, turns or call state not written or read, so turns may fail.`,
          'the dashboard\'s "Call table" graph (consumed capacity against throttles): an on-demand table may throttle traffic that jumps past twice its previous peak. Requests still throttled after the SDK\'s retries may end as "route failed" lines in the functions\' log groups.',
        ),
        props.table.metricThrottledRequestsForOperations({
          operations: [Operation.GET_ITEM, Operation.PUT_ITEM, Operation.UPDATE_ITEM, Operation.QUERY],
          period: PERIOD,
        }),
        t.dynamoThrottlesPerMinute,
      ),
    ];

    // --- Dashboard
    const budget = [{ value: props.budgetMs, label: `budget ${props.budgetMs} ms` }];
    const percentiles = (metric: MetricName) => PERCENTILES.map((p) => app(metric, p, {}, `${p}`));
    this.dashboard.addWidgets(
      new TextWidget({
        markdown:
          `# Voice agent — ${props.envName}\n` +
          `Turn latency = end of caller speech → first agent audio sent. Budget ${props.budgetMs} ms; ` +
          `the p95 alarm fires over ${t.turnLatencyP95Ms} ms. Stages below add up to the turn. ` +
          `Saved Logs Insights queries: \`${q.slowestTurns}\`, \`${q.providerErrors}\`, \`${q.callTimeline}\` (docs/ONCALL.md).`,
        width: 24,
        height: 3,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Turn latency (ms)', left: percentiles(TURN_LATENCY_METRIC), leftAnnotations: budget, width: 12, height: 6 }),
      new GraphWidget({
        title: 'Where the p95 goes: stages stacked (ms)',
        left: LATENCY_STAGES.map((s) => app(s.metric, 'p95', {}, s.label)),
        leftAnnotations: budget,
        stacked: true,
        width: 12,
        height: 6,
      }),
    );
    // The turns behind the percentiles: the alarm's link lands here, and each row's call id opens that call's timeline
    // (the saved query) or its history. Numbers only: the `turn finished` line carries no transcript or reply.
    this.dashboard.addWidgets(
      new LogQueryWidget({
        title: 'Slowest turns, last hour (or the time range picked above): call ids, stage times in ms',
        logGroupNames: this.queries.turnLogGroups.map((g) => g.logGroupName),
        queryString: slowestTurnsQuery().toString(),
        view: LogQueryVisualizationType.TABLE,
        width: 24,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      ...LATENCY_STAGES.map(
        (s) => new GraphWidget({ title: `${s.label} (ms)`, left: percentiles(s.metric), leftAnnotations: budget, width: 24 / LATENCY_STAGES.length, height: 5 }),
      ),
    );
    // End of turn (docs/LATENCY.md): the endpoint stage's whole distribution in this environment, and what decided it.
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'End of turn: caller silence → turn claimed (ms)',
        left: (['p10', 'p50', 'p90', 'p99', 'Maximum'] as const).map((p) => app('EndpointDelay', p, {}, p === 'Maximum' ? 'max' : p)),
        width: 12,
        height: 6,
      }),
      new GraphWidget({
        title: 'End of turn: what decided it',
        left: [
          app('EndpointsShortened', 'Sum', {}, 'words sounded finished (shorter silence)'),
          app('EndpointsExtended', 'Sum', {}, 'words stopped mid-phrase (longer silence)'),
          app('EndpointWatchesAbandoned', 'Sum', {}, 'caller went on after a pause'),
          app('SpeculationsDiscarded', 'Sum', {}, 'early answers discarded'),
        ],
        right: [app('TurnsPreempted', 'Sum', {}, 'answered preemptively')],
        width: 12,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new SingleValueWidget({ title: 'Calls in progress', metrics: [app('CallsInProgress', 'Maximum', {}, 'calls in progress')], width: 6, height: 5 }),
      new GraphWidget({
        title: 'Calls and turns',
        left: [app('CallsStarted', 'Sum', {}, 'calls started'), app('CallsEnded', 'Sum', {}, 'calls ended')],
        right: [
          app('TurnsCompleted', 'Sum', {}, 'turns completed'),
          app('TurnsFailed', 'Sum', {}, 'turns failed'),
          app('BargeIns', 'Sum', {}, 'barge-ins'),
          app('TurnsPreempted', 'Sum', {}, 'answered preemptively'),
          app('SpeculationsDiscarded', 'Sum', {}, 'preemptive answers discarded'),
        ],
        width: 9,
        height: 5,
      }),
      new GraphWidget({
        title: 'Bad input and providers',
        left: [
          app('InvalidMessages', 'Sum', {}, 'invalid messages'),
          app('ProviderErrors', 'Sum', {}, 'provider errors'),
          app('ProviderRetries', 'Sum', {}, 'provider retries'),
          app('LateFrames', 'Sum', {}, 'late speech frames lost to their turn'),
          app('LateFramesMerged', 'Sum', {}, 'late speech frames merged (turn answered again)'),
          app('EndpointsOverdue', 'Sum', {}, 'utterances closed late (their watcher died or never came)'),
          app('CallerGone', 'Sum', {}, 'caller gone mid-turn'),
          app('ConnectsRefused', 'Sum', {}, 'connects refused (bad token or Twilio signature)'),
          app('WebhooksRefused', 'Sum', {}, 'voice webhooks refused (bad signature)'),
          app('StreamsRefused', 'Sum', {}, 'Twilio streams refused (no valid stream ticket)'),
          app('CallsOffered', 'Sum', {}, 'phone calls offered (Twilio webhook)'),
          app('BrowserTokensIssued', 'Sum', {}, 'browser tokens issued (POST /browser/token)'),
          app('AppSecretErrors', 'Sum', {}, 'app secret unreadable'),
        ],
        right: [
          app('Transfers', 'Sum', {}, 'transfers to a person'),
          app('TransferFailures', 'Sum', {}, 'transfers Twilio refused'),
          app('OutboundCallsPlaced', 'Sum', {}, 'outbound calls placed'),
          app('OutboundCallsRefused', 'Sum', {}, 'outbound calls refused (token, number)'),
          app('OutboundCallsFailed', 'Sum', {}, 'outbound calls Twilio refused'),
        ],
        width: 9,
        height: 5,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Language model: time to first token (ms)', left: percentiles(MODEL_FIRST_TOKEN_METRIC), width: 8, height: 6 }),
      new GraphWidget({
        title: 'Language model: tokens',
        left: [app('ModelInputTokens', 'Sum', {}, 'input tokens'), app('ModelOutputTokens', 'Sum', {}, 'output tokens')],
        right: [app('SpeculationTokensWasted', 'Sum', {}, 'tokens of discarded speculations')],
        width: 8,
        height: 6,
      }),
      new GraphWidget({
        title: 'Language model: calls and failures',
        left: [app('ModelCalls', 'Sum', {}, 'model calls'), app('SpeculationModelCalls', 'Sum', {}, 'calls of discarded speculations')],
        right: [app('LlmErrors', 'Sum', {}, 'failed calls'), app('LlmFallbacks', 'Sum', {}, 'turns answered by the rules instead')],
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Lambda errors', left: lambda('Errors', 'Sum'), right: [app('RouteErrors', 'Sum', {}, 'handler failures (500)')], width: 8, height: 6 }),
      new GraphWidget({ title: 'Lambda throttles', left: lambda('Throttles', 'Sum'), width: 8, height: 6 }),
      new GraphWidget({
        title: 'API Gateway',
        left: [gateway('MessageCount'), gateway('ConnectCount')],
        right: [gateway('ClientError'), gateway('IntegrationError'), gateway('ExecutionError')],
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({ title: 'Provisioned concurrency utilization (max)', left: utilization, leftAnnotations: [{ value: 1, label: 'full' }], width: 8, height: 6 }),
      new GraphWidget({ title: 'Spillover (cold starts on the hot path)', left: spillover, width: 8, height: 6 }),
      new GraphWidget({
        title: 'Cold starts (all init, per function)',
        left: functions.map(([name, fn]) => app(COLD_START_METRIC, 'Sum', { function_name: fn.functionName }, name)),
        width: 8,
        height: 6,
      }),
    );
    this.dashboard.addWidgets(
      new GraphWidget({
        title: 'Call table',
        left: [props.table.metricConsumedWriteCapacityUnits({ period: PERIOD }), props.table.metricConsumedReadCapacityUnits({ period: PERIOD })],
        right: [
          props.table.metricThrottledRequestsForOperations({
            operations: [Operation.GET_ITEM, Operation.PUT_ITEM, Operation.UPDATE_ITEM, Operation.QUERY],
            period: PERIOD,
          }),
        ],
        width: 12,
        height: 6,
      }),
      new GraphWidget({ title: 'Function duration p95 (ms)', left: lambda('Duration', 'p95'), width: 12, height: 6 }),
    );
  }

  /** Console link to the dashboard. */
  get dashboardUrl(): string {
    const region = Stack.of(this).region;
    return `https://${region}.console.aws.amazon.com/cloudwatch/home?region=${region}#dashboards:name=${this.dashboard.dashboardName}`;
  }
}
