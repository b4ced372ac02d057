/**
 * The latency budget on the dashboard and in the alarms: every stage of a turn, p50/p95/p99 against the budget,
 * thresholds per environment from lib/config.ts, every alarm notifying the encrypted topic. The on-call engineer's
 * path from an alarm to the slow turn (docs/ONCALL.md): alarm descriptions that say what to look at and link the
 * dashboard, the slowest turns on it, and the saved Logs Insights queries — reading the log lines the functions write.
 */
import { readdirSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { ENVIRONMENT_CONFIG } from '../../../lib/config';
import { MAX_ALARM_DESCRIPTION } from '../../../lib/constructs/latency-monitoring';
import { CALL_ID_PLACEHOLDER, PROVIDER_FAILURE_MESSAGES, TURN_FINISHED_MESSAGE, TURN_STAGE_FIELDS } from '../../../lib/constructs/saved-queries';
import { ENVIRONMENTS, type EnvName } from '../../../lib/environments';
import { ALL_FUNCTIONS, HTTP_ROUTES, ROUTES } from '../../../functions/contracts/routes';
import { LATENCY_STAGES, METRICS_NAMESPACE, TURN_LATENCY_METRIC } from '../../../functions/contracts/metrics';
import { functionOf, referencedIds, resources, synth, type Resource } from './synth';

const templates = Object.fromEntries(ENVIRONMENTS.map((env) => [env, synth(env)])) as Record<EnvName, ReturnType<typeof synth>>;

type Widget = {
  type: string;
  width?: number;
  properties: { title?: string; metrics?: unknown[][]; annotations?: { horizontal?: { value: number }[] }; stacked?: boolean; query?: string; view?: string };
};

/** A template value as text: `<ref:LogicalId>` for each Ref (`<ref:AWS::Region>` too), `<token>` for other intrinsics. */
function text(value: unknown): string {
  if (typeof value === 'string') return value;
  const v = value as Record<string, unknown> | null;
  if (v && Array.isArray(v['Fn::Join'])) {
    const [separator, parts] = v['Fn::Join'] as [string, unknown[]];
    return parts.map(text).join(separator);
  }
  if (v && typeof v.Ref === 'string') return `<ref:${v.Ref}>`;
  return '<token>';
}

/** The dashboard body as JSON, each Ref a `<ref:…>` marker (see text()). */
function dashboardBody(env: EnvName): { start?: string; widgets: Widget[] } {
  const [, dashboard] = resources(templates[env], 'AWS::CloudWatch::Dashboard')[0]!;
  return JSON.parse(text(dashboard.Properties.DashboardBody)) as { start?: string; widgets: Widget[] };
}
const dashboardWidgets = (env: EnvName): Widget[] => dashboardBody(env).widgets;

/** Logical id of the log group function `<name>` writes to. */
const logGroupOf = (env: EnvName, name: string): string => {
  const ids = referencedIds(functionOf(templates[env], name).Properties.LoggingConfig?.LogGroup);
  expect(ids).toHaveLength(1);
  return ids[0]!;
};

/** The functions that run turns (greeting, speech, keypad) and every function a call's messages reach. */
const TURN_FUNCTIONS = ['start', 'media', 'dtmf'];
const CALL_FUNCTIONS = ROUTES.map((r) => r.name);

const alarmsOf = (env: EnvName) =>
  Object.fromEntries(resources(templates[env], 'AWS::CloudWatch::Alarm').map(([, a]) => [String(a.Properties.AlarmName).replace(`voice-agent-${env}-`, ''), a]));

/** Saved query name → its properties. */
const queriesOf = (env: EnvName) =>
  Object.fromEntries(resources(templates[env], 'AWS::Logs::QueryDefinition').map(([, q]) => [String(q.Properties.Name), q.Properties as { QueryString: string; LogGroupNames: unknown }]));

/** A Logs Insights query's commands (`fields …`, `filter …`), as the `| ` at each line's start separates them. */
const commandsOf = (query: string) => query.split(/\n?\s*\|\s+/).map((c) => c.trim());

/** [namespace, metricName, …dims, {stat}] rows of a widget, as {name, stat}. */
function metricsOf(widget: Widget): { namespace: string; name: string; stat?: string }[] {
  let last: unknown[] = [];
  return (widget.properties.metrics ?? []).map((row) => {
    // CloudWatch's "…" shorthand: '.' repeats the previous row's value at that position.
    const filled = row.map((v, i) => (v === '.' ? last[i] : v));
    last = filled;
    const options = filled.find((v) => typeof v === 'object' && v !== null && !Array.isArray(v)) as { stat?: string } | undefined;
    return { namespace: String(filled[0]), name: String(filled[1]), stat: options?.stat };
  });
}

describe('dashboard', () => {
  const widgets = dashboardWidgets('dev');
  const graph = (title: string) => {
    const w = widgets.find((x) => x.properties.title?.startsWith(title));
    if (!w) throw new Error(`no widget '${title}' in ${widgets.map((x) => x.properties.title).join(' | ')}`);
    return w;
  };

  it.each([TURN_LATENCY_METRIC, ...LATENCY_STAGES.map((s) => s.metric)])('shows %s at p50, p95 and p99 against the budget', (metric) => {
    const stage = LATENCY_STAGES.find((s) => s.metric === metric);
    const w = graph(stage ? stage.label : 'Turn latency');
    const rows = metricsOf(w).filter((m) => m.name === metric);
    expect(rows.map((r) => r.stat).sort()).toEqual(['p50', 'p95', 'p99']);
    expect(rows.every((r) => r.namespace === METRICS_NAMESPACE)).toBe(true);
    expect(w.properties.annotations?.horizontal?.map((a) => a.value)).toEqual([ENVIRONMENT_CONFIG.dev.latencyBudgetMs]);
  });

  it('stacks the p95 of every stage against the budget, to show where a turn goes', () => {
    const w = graph('Where the p95 goes');
    expect(w.properties.stacked).toBe(true);
    expect(metricsOf(w).map((m) => `${m.name}:${m.stat}`)).toEqual(LATENCY_STAGES.map((s) => `${s.metric}:p95`));
  });

  it('shows calls in progress, errors, throttles, spillover and cold starts', () => {
    expect(metricsOf(graph('Calls in progress')).map((m) => `${m.name}:${m.stat}`)).toEqual(['CallsInProgress:Maximum']);
    expect(metricsOf(graph('Lambda errors')).filter((m) => m.name === 'Errors')).toHaveLength(ALL_FUNCTIONS.length);
    expect(metricsOf(graph('Lambda throttles')).filter((m) => m.name === 'Throttles')).toHaveLength(ALL_FUNCTIONS.length);
    expect(metricsOf(graph('Spillover')).filter((m) => m.name === 'ProvisionedConcurrencySpilloverInvocations')).toHaveLength(
      ROUTES.filter((r) => r.hotPath).length,
    );
    expect(metricsOf(graph('Cold starts')).filter((m) => m.name === 'ColdStart')).toHaveLength(ALL_FUNCTIONS.length);
    expect(metricsOf(graph('API Gateway')).map((m) => m.name)).toEqual(expect.arrayContaining(['IntegrationError', 'ExecutionError', 'ClientError']));
  });
});

describe('alarms', () => {
  it.each(ENVIRONMENTS)('%s: thresholds and evaluation from the config', (env) => {
    const alarms = alarmsOf(env);
    const t = ENVIRONMENT_CONFIG[env].alarms;
    const expected: Record<string, number> = {
      TurnLatencyP95: t.turnLatencyP95Ms,
      ProviderErrorRate: t.providerErrorRatePercent,
      FunctionErrors: t.functionErrorsPerMinute,
      Throttles: t.throttlesPerMinute,
      HttpRouteErrors: t.functionErrorsPerMinute,
      ProvisionedSpillover: t.spilloverPerMinute,
      DynamoThrottles: t.dynamoThrottlesPerMinute,
      PhoneLineFailures: 0,
      LlmErrors: t.llmErrorRatePercent,
    };
    expect(Object.keys(alarms).sort()).toEqual(Object.keys(expected).sort());
    // A phone-line failure is an incident in its own minute: a caller was dropped instead of handed to a person.
    expect(alarms.PhoneLineFailures!.Properties).toMatchObject({ Threshold: 0, EvaluationPeriods: 1, DatapointsToAlarm: 1, TreatMissingData: 'notBreaching' });
    for (const [name, threshold] of Object.entries(expected)) {
      if (name === 'PhoneLineFailures') continue;
      expect(alarms[name]!.Properties).toMatchObject({
        Threshold: threshold,
        ComparisonOperator: 'GreaterThanThreshold',
        EvaluationPeriods: t.evaluationPeriods,
        DatapointsToAlarm: t.datapointsToAlarm,
        TreatMissingData: 'notBreaching',
      });
    }
  });

  it('watches turn latency p95 on the metric the functions publish', () => {
    const a = alarmsOf('prod').TurnLatencyP95!;
    expect(a.Properties).toMatchObject({ MetricName: TURN_LATENCY_METRIC, Namespace: METRICS_NAMESPACE, ExtendedStatistic: 'p95', Period: 60 });
    expect(a.Properties.Dimensions).toEqual(
      expect.arrayContaining([
        { Name: 'service', Value: 'voice-agent' },
        { Name: 'environment', Value: 'prod' },
      ]),
    );
  });

  it('computes the provider error rate from provider errors over turns, and sums errors over every function', () => {
    const statNames = (alarm: string) =>
      (alarmsOf('dev')[alarm]!.Properties.Metrics as { MetricStat?: { Metric: { MetricName: string } } }[]).flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : []));
    const alarms = alarmsOf('dev');
    const rate = alarms.ProviderErrorRate!.Properties.Metrics as { Expression?: string; MetricStat?: { Metric: { MetricName: string } } }[];
    expect(rate.find((m) => m.Expression?.includes('100 * errors / turns'))).toBeDefined();
    expect(rate.flatMap((m) => (m.MetricStat ? [m.MetricStat.Metric.MetricName] : [])).sort()).toEqual(['ProviderErrors', 'TurnsCompleted', 'TurnsFailed']);
    // An alarm sums at most 10 metrics: the call path's functions in FunctionErrors/Throttles, the HTTP routes' apart.
    const names = statNames('FunctionErrors');
    expect(names.filter((n) => n === 'Errors')).toHaveLength(ALL_FUNCTIONS.length - HTTP_ROUTES.length);
    expect(names).toContain('RouteErrors');
    expect(statNames('Throttles')).toHaveLength(ALL_FUNCTIONS.length - HTTP_ROUTES.length);
    expect(statNames('HttpRouteErrors').sort()).toEqual([...HTTP_ROUTES.map(() => 'Errors'), ...HTTP_ROUTES.map(() => 'Throttles')]);
    for (const alarm of Object.values(alarmsOf('dev'))) expect((alarm.Properties.Metrics as unknown[] | undefined)?.length ?? 1).toBeLessThanOrEqual(11); // 10 metrics + the expression
  });

  it.each(ENVIRONMENTS)('%s: every alarm notifies the alarm topic on alarm and on recovery', (env) => {
    const [topicId] = resources(templates[env], 'AWS::SNS::Topic')[0]!;
    for (const alarm of Object.values(alarmsOf(env))) {
      expect(alarm.Properties.AlarmActions).toEqual([{ Ref: topicId }]);
      expect(alarm.Properties.OKActions).toEqual([{ Ref: topicId }]);
    }
  });

  it('encrypts the topic with a rotated key CloudWatch may use, enforces TLS, subscribes the alarm e-mail when given', () => {
    const t = templates.dev;
    const [, topic] = resources(t, 'AWS::SNS::Topic')[0]!;
    const [keyId, key] = resources(t, 'AWS::KMS::Key')[0]!;
    expect(referencedIds(topic.Properties.KmsMasterKeyId)).toEqual([keyId]);
    expect(key.Properties.EnableKeyRotation).toBe(true);
    const cloudwatch = (key.Properties.KeyPolicy.Statement as { Principal?: { Service?: string }; Action: string[] }[]).find(
      (s) => s.Principal?.Service === 'cloudwatch.amazonaws.com',
    );
    expect(cloudwatch?.Action).toEqual(expect.arrayContaining(['kms:Decrypt', 'kms:GenerateDataKey*']));
    const [, policy] = resources(t, 'AWS::SNS::TopicPolicy')[0]!;
    expect(JSON.stringify(policy.Properties.PolicyDocument)).toContain('aws:SecureTransport');

    expect(resources(t, 'AWS::SNS::Subscription')).toHaveLength(0);
    const withEmail = synth('dev', { alarmEmail: 'oncall@example.com' });
    const [, sub] = resources(withEmail, 'AWS::SNS::Subscription')[0]! as [string, Resource];
    expect(sub.Properties).toMatchObject({ Protocol: 'email', Endpoint: 'oncall@example.com' });
  });
});

describe('the slowest turns on the dashboard', () => {
  const body = dashboardBody('dev');
  const widget = body.widgets.find((w) => w.type === 'log' && w.properties.title?.startsWith('Slowest turns, last hour'));

  it('is a Logs Insights table over the log groups of the functions that run turns', () => {
    expect(widget).toBeDefined();
    expect(widget!.properties.view).toBe('table');
    expect(widget!.width).toBe(24);
    const sources = [...widget!.properties.query!.matchAll(/SOURCE '([^']*)'/g)].map((m) => m[1]);
    expect(sources.sort()).toEqual(TURN_FUNCTIONS.map((name) => `<ref:${logGroupOf('dev', name)}>`).sort());
  });

  it('lists the `turn finished` lines slowest first, with their call ids and every stage', () => {
    const commands = commandsOf(widget!.properties.query!.replace(/^(SOURCE '[^']*' \| )+/, ''));
    const fields = commands.find((c) => c.startsWith('fields '))!.slice('fields '.length).split(', ');
    expect(fields.slice(0, 6)).toEqual(['@timestamp', 'callId', 'turn', 'kind', 'status', 'latencyMs']);
    expect(fields).toEqual(expect.arrayContaining([...TURN_STAGE_FIELDS]));
    expect(commands).toContain(`filter message = "${TURN_FINISHED_MESSAGE}" and ispresent(latencyMs)`);
    expect(commands.slice(-2)).toEqual(['sort latencyMs desc', 'limit 20']);
  });

  it('opens on the last hour: a log widget has no time range of its own, it follows the dashboard\'s', () => {
    expect(body.start).toBe('-PT1H');
  });
});

describe('saved Logs Insights queries', () => {
  const folder = (env: EnvName) => `voice-agent-${env}`;

  it.each(ENVIRONMENTS)('%s: slowest turns, calls with provider errors and a call\'s timeline, over the right log groups', (env) => {
    const queries = queriesOf(env);
    const groups = (names: readonly string[]) => names.map((name) => logGroupOf(env, name)).sort();
    expect(Object.keys(queries).sort()).toEqual([
      `${folder(env)}/call-timeline-by-id`,
      `${folder(env)}/calls-with-provider-errors`,
      `${folder(env)}/slowest-turns`,
    ]);
    expect(referencedIds(queries[`${folder(env)}/slowest-turns`]!.LogGroupNames).sort()).toEqual(groups(TURN_FUNCTIONS));
    expect(referencedIds(queries[`${folder(env)}/calls-with-provider-errors`]!.LogGroupNames).sort()).toEqual(groups(TURN_FUNCTIONS));
    expect(referencedIds(queries[`${folder(env)}/call-timeline-by-id`]!.LogGroupNames).sort()).toEqual(groups(CALL_FUNCTIONS));
  });

  const queries = queriesOf('prod');
  const commands = (name: string) => commandsOf(queries[`${folder('prod')}/${name}`]!.QueryString);

  it('slowest turns: the `turn finished` lines by latency, with call id and stage times', () => {
    const q = commands('slowest-turns');
    expect(q[0]).toBe(`fields @timestamp, callId, turn, kind, status, latencyMs, ${TURN_STAGE_FIELDS.join(', ')}, endOfTurnMs, preempted`);
    expect(q.slice(1)).toEqual([`filter message = "${TURN_FINISHED_MESSAGE}" and ispresent(latencyMs)`, 'sort latencyMs desc', 'limit 50']);
  });

  it('calls with provider errors: one row per call with its failures, the latest first', () => {
    const q = commands('calls-with-provider-errors');
    const filter = q.find((c) => c.startsWith('filter '))!;
    expect(JSON.parse(filter.replace(/^filter message in /, ''))).toEqual([...PROVIDER_FAILURE_MESSAGES]);
    const stats = q.find((c) => c.startsWith('stats '))!;
    expect(stats).toMatch(/count\(\*\) as failures,.* by callId$/);
    expect(stats).toContain('latest(error) as lastError');
    expect(q).toContain('sort lastAt desc');
  });

  it('a call\'s timeline: every line of one call id, in time order', () => {
    const q = commands('call-timeline-by-id');
    expect(q).toEqual([expect.stringMatching(/^fields @timestamp, function_name, level, message, /), `filter callId = "${CALL_ID_PLACEHOLDER}"`, 'sort @timestamp asc', 'limit 10000']);
  });

  describe('read what the functions write', () => {
    const source = (dir: string) =>
      readdirSync(path.join(__dirname, '../../..', dir))
        .filter((f) => f.endsWith('.ts'))
        .map((f) => readFileSync(path.join(__dirname, '../../..', dir, f), 'utf8'))
        .join('\n');
    const call = source('functions/domain/call');

    it('every provider failure message is a warning a turn writes', () => {
      for (const message of PROVIDER_FAILURE_MESSAGES) expect(call).toContain(`telemetry.warn('${message}'`);
    });

    it('every field of the slowest turns is a key of the `turn finished` line (callId: of every route\'s line)', () => {
      const line = new RegExp(`telemetry\\.info\\('${TURN_FINISHED_MESSAGE}', \\{([^}]*)\\}\\)`).exec(call);
      expect(line).not.toBeNull();
      const keys = [...line![1]!.matchAll(/^\s*(\w+):/gm)].map((m) => m[1]);
      for (const field of ['turn', 'kind', 'status', 'latencyMs', ...TURN_STAGE_FIELDS, 'endOfTurnMs', 'preempted']) expect(keys).toContain(field);
      // Numbers and names only: what the caller said and heard never goes to a log line.
      expect(keys.filter((k) => /transcript|reply|text|audio|phone|number/i.test(k!))).toEqual([]);
      expect(source('functions/lambda')).toMatch(/deferKeys\(\{ callId: connectionId/);
    });
  });
});

describe('alarm descriptions', () => {
  /** Longer than any Region's name: the description must fit wherever it is deployed. */
  const REGION_STAND_IN = 'r'.repeat(20);

  it.each(ENVIRONMENTS)('%s: each says what it means and what to check first, links the dashboard, and fits CloudFormation\'s limit', (env) => {
    const [dashboardId, dashboard] = resources(templates[env], 'AWS::CloudWatch::Dashboard')[0]!;
    const saved = Object.keys(queriesOf(env));
    const alarms = Object.entries(alarmsOf(env));
    expect(alarms.length).toBeGreaterThan(0);
    const tooLong: Record<string, number> = {};
    for (const [name, alarm] of alarms) {
      const description = text(alarm.Properties.AlarmDescription);
      expect({ name, description }).toEqual({
        name,
        description: expect.stringMatching(
          new RegExp(
            `\\. First: .+ Dashboard: https://<ref:AWS::Region>\\.console\\.aws\\.amazon\\.com/cloudwatch/home\\?region=<ref:AWS::Region>#dashboards:name=<ref:${dashboardId}>$`,
          ),
        ),
      });
      const deployed = description.replaceAll('<ref:AWS::Region>', REGION_STAND_IN).replaceAll(`<ref:${dashboardId}>`, String(dashboard.Properties.DashboardName));
      expect(deployed).not.toMatch(/<ref:|<token>/);
      if (deployed.length > MAX_ALARM_DESCRIPTION) tooLong[name] = deployed.length;
      // A saved query an alarm names is one the stack deploys.
      for (const [query] of deployed.matchAll(/voice-agent-[a-z]+\/[a-z-]+/g)) expect(saved).toContain(query);
    }
    expect(tooLong).toEqual({});
  });

  it('names the saved query to run where one helps', () => {
    const alarms = alarmsOf('prod');
    const description = (name: string) => text(alarms[name]!.Properties.AlarmDescription);
    expect(description('TurnLatencyP95')).toContain('saved query voice-agent-prod/slowest-turns');
    expect(description('TurnLatencyP95')).toContain('voice-agent-prod/call-timeline-by-id');
    expect(description('TurnLatencyP95')).toContain('"Slowest turns"');
    expect(description('ProviderErrorRate')).toContain('saved query voice-agent-prod/calls-with-provider-errors');
    expect(description('LlmErrors')).toContain('saved query voice-agent-prod/calls-with-provider-errors');
    expect(description('FunctionErrors')).toContain('saved query voice-agent-prod/call-timeline-by-id');
    expect(description('PhoneLineFailures')).toContain('saved query voice-agent-prod/call-timeline-by-id');
    // The thresholds in the text are the environment's.
    expect(description('TurnLatencyP95')).toContain(`over ${ENVIRONMENT_CONFIG.prod.alarms.turnLatencyP95Ms} ms`);
  });
});
