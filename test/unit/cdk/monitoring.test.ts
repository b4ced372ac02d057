/**
 * The latency budget on the dashboard and in the alarms: every stage of a turn, p50/p95/p99 against the budget,
 * thresholds per environment from lib/config.ts, every alarm notifying the encrypted topic.
 */
import { ENVIRONMENT_CONFIG } from '../../../lib/config';
import { ENVIRONMENTS, type EnvName } from '../../../lib/environments';
import { ALL_FUNCTIONS, HTTP_ROUTES, ROUTES } from '../../../functions/contracts/routes';
import { LATENCY_STAGES, METRICS_NAMESPACE, TURN_LATENCY_METRIC } from '../../../functions/contracts/metrics';
import { referencedIds, resources, synth, type Resource } from './synth';

const templates = Object.fromEntries(ENVIRONMENTS.map((env) => [env, synth(env)])) as Record<EnvName, ReturnType<typeof synth>>;

type Widget = { type: string; properties: { title?: string; metrics?: unknown[][]; annotations?: { horizontal?: { value: number }[] }; stacked?: boolean } };

/** The dashboard body as JSON, with each token (Ref/GetAtt) replaced by a `<token>` marker. */
function dashboardWidgets(env: EnvName): Widget[] {
  const [, dashboard] = resources(templates[env], 'AWS::CloudWatch::Dashboard')[0]!;
  const body = dashboard.Properties.DashboardBody as string | { 'Fn::Join': [string, unknown[]] };
  const text = typeof body === 'string' ? body : body['Fn::Join'][1].map((p) => (typeof p === 'string' ? p : '<token>')).join('');
  return (JSON.parse(text) as { widgets: Widget[] }).widgets;
}

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
  const alarmsOf = (env: EnvName) => Object.fromEntries(resources(templates[env], 'AWS::CloudWatch::Alarm').map(([, a]) => [String(a.Properties.AlarmName).replace(`voice-agent-${env}-`, ''), a]));

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
