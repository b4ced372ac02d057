/**
 * The CDK stack against the route table: routes, functions, authorizer, table and grants all come from
 * functions/routes.ts and functions/adapters/table-schema.ts. Bundling is skipped (no esbuild run per test).
 */
import { App, type CfnElement } from 'aws-cdk-lib';
import { Match, Template } from 'aws-cdk-lib/assertions';
import { ENVIRONMENT_CONFIG } from '../../../lib/config';
import { CALL_TABLE_SCHEMA } from '../../../functions/adapters/table-schema';
import { ALL_FUNCTIONS, AUTHORIZER, ROUTE_SELECTION_EXPRESSION, ROUTES } from '../../../functions/routes';
import { parseEnvName, stackName, type EnvName } from '../../../lib/environments';
import { isMessageRoute } from '../../../lib/constructs/voice-websocket-api';
import { VoiceAgentStack } from '../../../lib/voice-agent-stack';

type Resource = { Type: string; Properties: Record<string, any>; DeletionPolicy?: string; UpdateReplacePolicy?: string };

const stacks = new WeakMap<Template, VoiceAgentStack>();

function synth(envName: EnvName, voiceAgentToken: string | null = 'test-token'): Template {
  const app = new App({ context: { 'aws:cdk:bundling-stacks': [] } });
  const stack = new VoiceAgentStack(app, stackName(envName), { envName, voiceAgentToken: voiceAgentToken ?? undefined });
  const template = Template.fromStack(stack);
  stacks.set(template, stack);
  return template;
}

const dev = synth('dev');
const resources = (t: Template, type: string) => Object.entries(t.findResources(type) as Record<string, Resource>);

/** Logical id of the Lambda function built for spec `<name>` (the construct `Functions/<name>`). */
function functionIdByName(t: Template, name: string): string {
  const stack = stacks.get(t)!;
  const fn = stack.node.findChild('Functions').node.findChild(name);
  const id = stack.getLogicalId(fn.node.defaultChild as CfnElement);
  expect((t.toJSON().Resources[id] as Resource | undefined)?.Type).toBe('AWS::Lambda::Function');
  return id;
}

/** Fn::GetAtt / Fn::Join integration URIs → the Lambda logical ids they reference. */
function referencedIds(value: unknown): string[] {
  const found: string[] = [];
  const walk = (v: unknown) => {
    if (Array.isArray(v)) v.forEach(walk);
    else if (v && typeof v === 'object') {
      const o = v as Record<string, unknown>;
      if (Array.isArray(o['Fn::GetAtt'])) found.push(String((o['Fn::GetAtt'] as unknown[])[0]));
      if (typeof o.Ref === 'string') found.push(o.Ref);
      Object.values(o).forEach(walk);
    }
  };
  walk(value);
  return found;
}

describe('environment', () => {
  it('defaults to dev and rejects unknown names', () => {
    expect(parseEnvName(undefined)).toBe('dev');
    expect(parseEnvName('prod')).toBe('prod');
    expect(() => parseEnvName('qa')).toThrow(/unknown environment/);
    expect(stackName('staging')).toBe('VoiceAgent-staging');
  });
});

describe('WebSocket API', () => {
  it('selects routes with the route table expression', () => {
    dev.resourceCountIs('AWS::ApiGatewayV2::Api', 1);
    dev.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
  });

  it('has exactly one route per ROUTES entry, each on a Lambda proxy integration of that route\'s function', () => {
    const routes = resources(dev, 'AWS::ApiGatewayV2::Route');
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual(ROUTES.map((r) => r.routeKey).sort());

    const integrations = Object.fromEntries(resources(dev, 'AWS::ApiGatewayV2::Integration'));
    for (const spec of ROUTES) {
      const [, route] = routes.find(([, r]) => r.Properties.RouteKey === spec.routeKey)!;
      const target = route.Properties.Target as { 'Fn::Join': [string, unknown[]] };
      const integrationId = referencedIds(target)[0]!;
      const integration = integrations[integrationId];
      expect(integration?.Properties.IntegrationType).toBe('AWS_PROXY');
      const targets = referencedIds(integration?.Properties.IntegrationUri);
      if (spec.hotPath) {
        // Hot-path routes invoke the `live` alias, where the provisioned concurrency is.
        const alias = Object.fromEntries(resources(dev, 'AWS::Lambda::Alias'))[targets.find((id) => id.includes('live'))!];
        expect(alias?.Properties.Name).toBe('live');
        expect(referencedIds(alias?.Properties.FunctionName)).toContain(functionIdByName(dev, spec.name));
      } else {
        expect(targets).toContain(functionIdByName(dev, spec.name));
      }
    }
  });

  it('has the REQUEST authorizer with the route table identity source on $connect only', () => {
    dev.resourceCountIs('AWS::ApiGatewayV2::Authorizer', 1);
    dev.hasResourceProperties('AWS::ApiGatewayV2::Authorizer', {
      AuthorizerType: 'REQUEST',
      IdentitySource: [...AUTHORIZER.identitySource],
      AuthorizerUri: Match.objectLike({ 'Fn::Join': Match.anyValue() }),
    });
    const [authorizer] = resources(dev, 'AWS::ApiGatewayV2::Authorizer');
    expect(referencedIds(authorizer![1].Properties.AuthorizerUri)).toContain(functionIdByName(dev, AUTHORIZER.name));

    for (const [, route] of resources(dev, 'AWS::ApiGatewayV2::Route')) {
      if (route.Properties.RouteKey === '$connect') {
        expect(route.Properties.AuthorizationType).toBe('CUSTOM');
        expect(route.Properties.AuthorizerId).toEqual({ Ref: authorizer![0] });
      } else {
        expect(route.Properties.AuthorizationType ?? 'NONE').toBe('NONE');
        expect(route.Properties.AuthorizerId).toBeUndefined();
      }
    }
  });

  it('deploys an auto-deployed stage named after the environment', () => {
    dev.hasResourceProperties('AWS::ApiGatewayV2::Stage', { StageName: 'dev', AutoDeploy: true });
    expect(synth('staging').findResources('AWS::ApiGatewayV2::Stage', { Properties: { StageName: 'staging' } })).not.toEqual({});
  });

  it('outputs the wss:// URL and the table name', () => {
    const outputs = dev.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.WebSocketUrl?.Value)).toContain('wss://');
    expect(outputs.CallsTableName?.Value).toEqual({ Ref: resources(dev, 'AWS::DynamoDB::Table')[0]![0] });
  });
});

describe('functions', () => {
  it('has one function per route-table spec and no other', () => {
    dev.resourceCountIs('AWS::Lambda::Function', ALL_FUNCTIONS.length);
  });

  it.each(ALL_FUNCTIONS.map((f) => [f.name, f] as const))('%s: memory, timeout, runtime, arch, tracing, env from the spec', (name, spec) => {
    const fn = dev.toJSON().Resources[functionIdByName(dev, name)] as Resource;
    expect(fn.Properties).toMatchObject({
      MemorySize: spec.memoryMb,
      Timeout: spec.timeoutSeconds,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
    });
    expect(fn.Properties.Environment.Variables).toMatchObject({
      CALLS_TABLE: { Ref: resources(dev, 'AWS::DynamoDB::Table')[0]![0] },
      POWERTOOLS_SERVICE_NAME: 'voice-agent',
      POWERTOOLS_METRICS_NAMESPACE: 'VoiceAgent',
      NODE_OPTIONS: '--enable-source-maps',
    });
    expect(fn.Properties.LoggingConfig?.LogGroup).toBeDefined();
  });

  it('gives the token to the authorizer only', () => {
    for (const spec of ALL_FUNCTIONS) {
      const vars = (dev.toJSON().Resources[functionIdByName(dev, spec.name)] as Resource).Properties.Environment.Variables;
      expect(vars.VOICE_AGENT_TOKEN).toBe(spec.name === AUTHORIZER.name ? 'test-token' : undefined);
    }
    const noToken = synth('dev', null);
    expect((noToken.toJSON().Resources[functionIdByName(noToken, AUTHORIZER.name)] as Resource).Properties.Environment.Variables.VOICE_AGENT_TOKEN).toBeUndefined();
  });

  it('keeps logs for a bounded time', () => {
    for (const [, group] of resources(dev, 'AWS::Logs::LogGroup')) expect(group.Properties.RetentionInDays).toBe(7);
    dev.resourceCountIs('AWS::Logs::LogGroup', ALL_FUNCTIONS.length);
  });
});

describe('call table', () => {
  it('matches CALL_TABLE_SCHEMA: keys, TTL, on-demand, PITR', () => {
    dev.resourceCountIs('AWS::DynamoDB::Table', 1);
    dev.hasResourceProperties('AWS::DynamoDB::Table', {
      KeySchema: [
        { AttributeName: CALL_TABLE_SCHEMA.partitionKey, KeyType: 'HASH' },
        { AttributeName: CALL_TABLE_SCHEMA.sortKey, KeyType: 'RANGE' },
      ],
      AttributeDefinitions: Match.arrayWith([
        { AttributeName: CALL_TABLE_SCHEMA.partitionKey, AttributeType: 'S' },
        { AttributeName: CALL_TABLE_SCHEMA.sortKey, AttributeType: 'S' },
      ]),
      BillingMode: 'PAY_PER_REQUEST',
      TimeToLiveSpecification: { AttributeName: CALL_TABLE_SCHEMA.timeToLiveAttribute, Enabled: true },
      PointInTimeRecoverySpecification: { PointInTimeRecoveryEnabled: true },
    });
  });

  it('is retained in prod and not in dev', () => {
    const [, prodTable] = resources(synth('prod'), 'AWS::DynamoDB::Table')[0]!;
    expect(prodTable.DeletionPolicy).toBe('Retain');
    expect(prodTable.UpdateReplacePolicy).toBe('Retain');
    const [, devTable] = resources(dev, 'AWS::DynamoDB::Table')[0]!;
    expect(devTable.DeletionPolicy).toBe('Delete');
  });
});

describe('grants', () => {
  const policies = resources(dev, 'AWS::IAM::Policy');
  /** All statements of the policies attached to the role of function `name`. */
  function statementsOf(name: string): Array<{ Action: string | string[]; Resource: unknown }> {
    const fn = dev.toJSON().Resources[functionIdByName(dev, name)] as Resource;
    const roleId = (fn.Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return policies
      .filter(([, p]) => (p.Properties.Roles as Array<{ Ref: string }>).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement);
  }
  const actions = (name: string) => statementsOf(name).flatMap((s) => (Array.isArray(s.Action) ? s.Action : [s.Action]));

  it('grants execute-api:ManageConnections on this API to every message route, and to no other function', () => {
    const apiId = resources(dev, 'AWS::ApiGatewayV2::Api')[0]![0];
    for (const spec of ROUTES) {
      const manage = statementsOf(spec.name).filter((s) => [s.Action].flat().includes('execute-api:ManageConnections'));
      if (isMessageRoute(spec.routeKey)) {
        expect(manage).toHaveLength(1);
        expect(JSON.stringify(manage[0]!.Resource)).toContain(apiId);
        expect(JSON.stringify(manage[0]!.Resource)).toContain('@connections');
      } else {
        expect(manage).toHaveLength(0);
      }
    }
    expect(actions(AUTHORIZER.name)).not.toContain('execute-api:ManageConnections');
    expect(ROUTES.filter((r) => isMessageRoute(r.routeKey)).map((r) => r.routeKey)).toEqual(
      expect.arrayContaining(['start', 'media', 'dtmf', 'mark', 'stop', '$default']),
    );
  });

  it('grants table access to the route functions and none to the authorizer', () => {
    for (const spec of ROUTES) expect(actions(spec.name)).toEqual(expect.arrayContaining(['dynamodb:PutItem', 'dynamodb:Query', 'dynamodb:UpdateItem']));
    expect(actions(AUTHORIZER.name).filter((a) => a.startsWith('dynamodb:'))).toEqual([]);
  });
});

describe('provisioned concurrency (lib/config.ts)', () => {
  const hot = ROUTES.filter((r) => r.hotPath);
  const prod = synth('prod');

  it.each([
    ['dev', dev, ENVIRONMENT_CONFIG.dev],
    ['prod', prod, ENVIRONMENT_CONFIG.prod],
  ] as const)('gives every hot-path function a live alias with the %s provisioned concurrency and utilization scaling', (_name, t, config) => {
    const aliases = resources(t, 'AWS::Lambda::Alias');
    expect(aliases).toHaveLength(hot.length);
    for (const spec of hot) {
      const alias = aliases.find(([, a]) => referencedIds(a.Properties.FunctionName).includes(functionIdByName(t, spec.name)));
      expect(alias?.[1].Properties.ProvisionedConcurrencyConfig).toEqual({ ProvisionedConcurrentExecutions: config.hotPath.provisioned });
    }
    t.resourcePropertiesCountIs(
      'AWS::ApplicationAutoScaling::ScalableTarget',
      { MinCapacity: config.hotPath.provisioned, MaxCapacity: config.hotPath.maxProvisioned, ScalableDimension: 'lambda:function:ProvisionedConcurrency' },
      hot.length,
    );
    t.resourcePropertiesCountIs(
      'AWS::ApplicationAutoScaling::ScalingPolicy',
      {
        TargetTrackingScalingPolicyConfiguration: Match.objectLike({
          TargetValue: config.hotPath.utilizationTarget,
          PredefinedMetricSpecification: { PredefinedMetricType: 'LambdaProvisionedConcurrencyUtilization' },
        }),
      },
      hot.length,
    );
  });

  it('provisions more in prod than in dev', () => {
    expect(ENVIRONMENT_CONFIG.prod.hotPath.provisioned).toBeGreaterThan(ENVIRONMENT_CONFIG.dev.hotPath.provisioned);
  });

  it('tells every message route its @connections endpoint, so init-time priming can open it', () => {
    for (const spec of ROUTES) {
      const [, fn] = resources(dev, 'AWS::Lambda::Function').find(([id]) => id === functionIdByName(dev, spec.name))!;
      const endpoint = fn.Properties.Environment?.Variables?.CONNECTIONS_ENDPOINT;
      if (['$connect', '$disconnect'].includes(spec.routeKey)) expect(endpoint).toBeUndefined();
      else expect(JSON.stringify(endpoint)).toMatch(/execute-api/);
    }
  });
});
