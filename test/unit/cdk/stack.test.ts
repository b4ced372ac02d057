/**
 * The CDK stack against the route table and lib/config.ts: routes, functions, authorizer, stage, table, secret and
 * provisioned concurrency all come from functions/contracts/routes.ts, functions/contracts/table-schema.ts and the config.
 */
import { Match } from 'aws-cdk-lib/assertions';
import { ENVIRONMENT_CONFIG } from '../../../lib/config';
import { CALL_TABLE_SCHEMA, CALLS_BY_DAY, createTableInput } from '../../../functions/contracts/table-schema';
import { ALL_FUNCTIONS, AUTHORIZER, HTTP_CORS, HTTP_ROUTES, ROUTE_SELECTION_EXPRESSION, ROUTES } from '../../../functions/contracts/routes';
import { standalonePage, STANDALONE_PAGE } from '../../../lib/constructs/web-client';
import { parseEnvName, stackName } from '../../../lib/environments';
import { functionIdByName, functionOf, referencedIds, resources, synth } from './synth';

const dev = synth('dev');
const prod = synth('prod');

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
    // The WebSocket API, and the HTTP API of HTTP_ROUTES (below).
    expect(resources(dev, 'AWS::ApiGatewayV2::Api').map(([, a]) => a.Properties.ProtocolType).sort()).toEqual(['HTTP', 'WEBSOCKET']);
    dev.hasResourceProperties('AWS::ApiGatewayV2::Api', {
      ProtocolType: 'WEBSOCKET',
      RouteSelectionExpression: ROUTE_SELECTION_EXPRESSION,
    });
  });

  it('has exactly one route per ROUTES entry, each on a Lambda proxy integration of that route\'s function', () => {
    const [wsApiId] = resources(dev, 'AWS::ApiGatewayV2::Api').find(([, a]) => a.Properties.ProtocolType === 'WEBSOCKET')!;
    const routes = resources(dev, 'AWS::ApiGatewayV2::Route').filter(([, r]) => referencedIds(r.Properties.ApiId).includes(wsApiId));
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

  it.each([
    ['dev', dev, ENVIRONMENT_CONFIG.dev],
    ['prod', prod, ENVIRONMENT_CONFIG.prod],
  ] as const)('%s stage: throttling from the config, execution logs at ERROR without bodies, JSON access logs', (_env, t, config) => {
    const [, stage] = resources(t, 'AWS::ApiGatewayV2::Stage')[0]!;
    expect(stage.Properties.DefaultRouteSettings).toEqual({
      ThrottlingRateLimit: config.stageThrottle.rateLimit,
      ThrottlingBurstLimit: config.stageThrottle.burstLimit,
      DetailedMetricsEnabled: config.detailedRouteMetrics,
      LoggingLevel: 'ERROR',
      DataTraceEnabled: false,
    });
    const logGroupId = referencedIds(stage.Properties.AccessLogSettings.DestinationArn)[0]!;
    expect(resources(t, 'AWS::Logs::LogGroup').map(([id]) => id)).toContain(logGroupId);
    const format = JSON.parse(stage.Properties.AccessLogSettings.Format) as Record<string, string>;
    expect(format).toMatchObject({ connectionId: '$context.connectionId', routeKey: '$context.routeKey', status: '$context.status' });
    // Message bodies carry caller audio: never logged.
    expect(JSON.stringify(format)).not.toMatch(/body|requestBody/i);
  });

  it('sets the account CloudWatch role API Gateway needs before a WebSocket stage may log, kept on delete', () => {
    const [accountId, account] = resources(dev, 'AWS::ApiGateway::Account')[0]!;
    expect(referencedIds(account.Properties.CloudWatchRoleArn)).toHaveLength(1);
    expect(account.DeletionPolicy).toBe('Retain');
    const [, stage] = resources(dev, 'AWS::ApiGatewayV2::Stage')[0]!;
    expect(stage.DependsOn).toContain(accountId);
    expect(resources(synth('dev', { manageApiGatewayLogRole: false }), 'AWS::ApiGateway::Account')).toHaveLength(0);
  });

  it('outputs the wss:// URL, the dashboard URL, the table and secret names and the alarm topic', () => {
    const outputs = dev.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.WebSocketUrl?.Value)).toContain('wss://');
    const [dashboardId, dashboard] = resources(dev, 'AWS::CloudWatch::Dashboard')[0]!;
    expect(dashboard.Properties.DashboardName).toBe('voice-agent-dev');
    expect(JSON.stringify(outputs.DashboardUrl?.Value)).toContain(`"#dashboards:name=",{"Ref":"${dashboardId}"}`);
    expect(outputs.CallsTableName?.Value).toEqual({ Ref: resources(dev, 'AWS::DynamoDB::Table')[0]![0] });
    expect(outputs.AppSecretName?.Value).toBe('voice-agent/dev');
    expect(outputs.AlarmTopicArn?.Value).toEqual({ Ref: resources(dev, 'AWS::SNS::Topic')[0]![0] });
    expect(JSON.stringify(outputs.CallHistoryPage?.Value)).toMatch(/call-history\.html/);
  });
});

describe('the first deploy', () => {
  // API Gateway refuses a stage whose RouteSettings name a route it does not know yet ("Unable to find Route by key …
  // within the provided RouteSettings"): on a first deploy CloudFormation creates resources in parallel unless one
  // depends on the other, so every stage must depend on each route its settings name (on both APIs).
  it.each([
    ['dev', dev],
    ['prod', prod],
  ])('%s: every stage depends on the routes its route settings name', (_env, template) => {
    const routes = resources(template, 'AWS::ApiGatewayV2::Route');
    const stages = resources(template, 'AWS::ApiGatewayV2::Stage');
    expect(stages.length).toBe(2);
    let named = 0;
    for (const [stageId, stage] of stages) {
      const apiIds = referencedIds(stage.Properties.ApiId);
      for (const routeKey of Object.keys(stage.Properties.RouteSettings ?? {})) {
        named++;
        const route = routes.find(([, r]) => r.Properties.RouteKey === routeKey && referencedIds(r.Properties.ApiId).some((id) => apiIds.includes(id)));
        expect({ stageId, routeKey, route: route?.[0] }).toEqual({ stageId, routeKey, route: expect.any(String) });
        expect({ stageId, routeKey, dependsOn: stage.DependsOn ?? [] }).toEqual({ stageId, routeKey, dependsOn: expect.arrayContaining([route![0]]) });
      }
    }
    expect(named).toBeGreaterThan(0); // the HTTP API throttles the token route on its own
  });
});

describe('custom domain (lib/config.ts customDomain)', () => {
  const customDomain = { domainName: 'voice.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c-4b5a-6978-8796-a5b4c3d2e1f0', basePath: 'agent' };
  const t = synth('dev', { customDomain });
  const json = t.toJSON();

  it('maps the WebSocket stage to the domain at the base path, with the certificate', () => {
    const [[domainId, domain]] = resources(t, 'AWS::ApiGatewayV2::DomainName') as [[string, any]];
    expect(domain.Properties).toMatchObject({ DomainName: 'voice.example.com', DomainNameConfigurations: [{ CertificateArn: customDomain.certificateArn, EndpointType: 'REGIONAL' }] });
    const [[, mapping]] = resources(t, 'AWS::ApiGatewayV2::ApiMapping') as [[string, any]];
    const [wsApiId] = resources(t, 'AWS::ApiGatewayV2::Api').find(([, a]) => a.Properties.ProtocolType === 'WEBSOCKET')!;
    const [wsStageId, wsStage] = resources(t, 'AWS::ApiGatewayV2::Stage').find(([, st]) => referencedIds(st.Properties.ApiId).includes(wsApiId))!;
    expect(mapping.Properties.ApiMappingKey).toBe('agent');
    expect(referencedIds(mapping.Properties.ApiId)).toEqual([wsApiId]);
    expect(referencedIds(mapping.Properties.DomainName)).toEqual([domainId]);
    // The stage is named, not referenced: only DependsOn orders the mapping after it on a first deploy.
    expect(mapping.Properties.Stage).toBe(wsStage.Properties.StageName);
    expect(mapping.DependsOn).toEqual(expect.arrayContaining([wsStageId, domainId]));
  });

  it('gives Twilio and the authorizer the domain\'s URL, and outputs it with the DNS target', () => {
    for (const name of [...HTTP_ROUTES.map((r) => r.name), AUTHORIZER.name]) {
      expect(functionOf(t, name).Properties.Environment.Variables.VOICE_STREAM_URL).toBe('wss://voice.example.com/agent');
    }
    expect(json.Outputs.WebSocketUrl.Value).toBe('wss://voice.example.com/agent');
    expect(referencedIds(json.Outputs.CustomDomainTarget.Value)).toHaveLength(1);
  });

  it('without one, the authorizer is told the stage\'s own URL', () => {
    expect(JSON.stringify(functionOf(dev, AUTHORIZER.name).Properties.Environment.Variables.VOICE_STREAM_URL)).toMatch(/"wss:\/\/"/);
    expect(resources(dev, 'AWS::ApiGatewayV2::DomainName')).toHaveLength(0);
    expect(dev.toJSON().Outputs.CustomDomainTarget).toBeUndefined();
  });

  it.each([
    [{ ...customDomain, domainName: 'Voice.Example.com' }, /a lower-case DNS name/],
    [{ ...customDomain, certificateArn: 'arn:aws:iam::123456789012:server-certificate/x' }, /an ACM certificate ARN/],
    [{ ...customDomain, basePath: 'agent/v1' }, /one level of letters/],
  ])('refuses %j', (bad, message) => {
    expect(() => synth('dev', { customDomain: bad })).toThrow(message);
  });
});

describe('HTTP routes and the browser page', () => {
  const [httpApiId] = resources(dev, 'AWS::ApiGatewayV2::Api').find(([, a]) => a.Properties.ProtocolType === 'HTTP')!;

  it('has one HTTP API route per HTTP_ROUTES entry, each function told the WebSocket stage URL', () => {
    const routes = resources(dev, 'AWS::ApiGatewayV2::Route').filter(([, r]) => referencedIds(r.Properties.ApiId).includes(httpApiId));
    expect(routes.map(([, r]) => r.Properties.RouteKey).sort()).toEqual(HTTP_ROUTES.map((r) => `${r.method} ${r.path}`).sort());
    for (const spec of HTTP_ROUTES) {
      expect(JSON.stringify(functionOf(dev, spec.name).Properties.Environment.Variables.VOICE_STREAM_URL)).toMatch(/"wss:\/\/"/);
    }
  });

  it('throttles the open token endpoint below the stage, so it cannot take the phone line\'s share', () => {
    const [, stage] = resources(dev, 'AWS::ApiGatewayV2::Stage').find(([, st]) => referencedIds(st.Properties.ApiId).includes(httpApiId))!;
    const stageLimit = stage.Properties.DefaultRouteSettings.ThrottlingRateLimit as number;
    const token = stage.Properties.RouteSettings['POST /browser/token'] as { ThrottlingRateLimit: number; ThrottlingBurstLimit: number };
    expect(token.ThrottlingRateLimit).toBeLessThan(stageLimit);
    expect(token.ThrottlingBurstLimit).toBeGreaterThan(0);
    // The history too: an engineer's page, far below the stage.
    expect((stage.Properties.RouteSettings['GET /history'] as { ThrottlingRateLimit: number }).ThrottlingRateLimit).toBeLessThan(stageLimit);
  });

  it('answers the history page\'s preflight from HTTP_CORS (GET with an Authorization header, from the page\'s origin)', () => {
    const [, api] = resources(dev, 'AWS::ApiGatewayV2::Api').find(([id]) => id === httpApiId)!;
    expect(api.Properties.CorsConfiguration).toEqual({
      AllowOrigins: [...HTTP_CORS.allowOrigins],
      AllowMethods: [...HTTP_CORS.allowMethods],
      AllowHeaders: [...HTTP_CORS.allowHeaders],
      MaxAge: HTTP_CORS.maxAgeSeconds,
    });
  });

  it('keeps the page in a private bucket: public access blocked, TLS only, emptied and deleted with the stack', () => {
    const [bucketId, bucket] = resources(dev, 'AWS::S3::Bucket')[0]!;
    expect(bucket.Properties.PublicAccessBlockConfiguration).toEqual({ BlockPublicAcls: true, BlockPublicPolicy: true, IgnorePublicAcls: true, RestrictPublicBuckets: true });
    expect(bucket.Properties).not.toHaveProperty('WebsiteConfiguration');
    const [, policy] = resources(dev, 'AWS::S3::BucketPolicy').find(([, p]) => referencedIds(p.Properties.Bucket).includes(bucketId))!;
    const statements = policy.Properties.PolicyDocument.Statement as { Effect: string; Principal?: unknown; Condition?: unknown }[];
    expect(statements).toContainEqual(expect.objectContaining({ Effect: 'Deny', Condition: { Bool: { 'aws:SecureTransport': 'false' } } }));
    // Nobody outside the account is allowed anything (the deployment's access is in its role, not here).
    expect(statements.filter((st) => st.Effect === 'Allow' && JSON.stringify(st.Principal) === '{"AWS":"*"}')).toEqual([]);
    expect(statements.filter((st) => st.Effect === 'Allow' && st.Principal === '*')).toEqual([]);
    const [, deployment] = resources(dev, 'Custom::CDKBucketDeployment')[0]!;
    expect(referencedIds(deployment.Properties.DestinationBucketName)).toEqual([bucketId]);
    expect(deployment.Properties.RetainOnDelete).toBe(false);
    // call.html is deployed with the HTTP API's address filled in at deploy time.
    expect(JSON.stringify(deployment.Properties.SourceMarkers)).toContain(`{"Fn::GetAtt":["${httpApiId}","ApiEndpoint"]}`);
    const outputs = dev.toJSON().Outputs as Record<string, { Value: unknown }>;
    expect(JSON.stringify(outputs.WebClientPage?.Value)).toBe(JSON.stringify({ 'Fn::Join': ['', ['s3://', { Ref: bucketId }, `/${STANDALONE_PAGE}`]] }));
  });

  it('makes call.html self-contained: scripts inlined, the API address filled in, nothing fetched from elsewhere', () => {
    const html = standalonePage('https://abc123.execute-api.us-east-1.amazonaws.com');
    expect(html).toContain('<meta name="voice-agent-api" content="https://abc123.execute-api.us-east-1.amazonaws.com">');
    expect(html).not.toMatch(/<script src=/);
    expect(html).toContain('class Resampler'); // codec.js
    expect(html).toContain("registerProcessor('voice-agent-capture'"); // app.js
    expect(html).not.toMatch(/(src|href)="https?:/);
  });
});

describe('functions', () => {
  it('has one function per route-table spec and no other (but the page deployment\'s, during deploys)', () => {
    const names = resources(dev, 'AWS::Lambda::Function').map(([id]) => id);
    expect(names).toHaveLength(ALL_FUNCTIONS.length + 1);
    expect(names.filter((id) => id.startsWith('CustomCDKBucketDeployment'))).toHaveLength(1);
  });

  it.each(ALL_FUNCTIONS.map((f) => [f.name, f] as const))('%s: memory, timeout, runtime, arch, tracing, env from the spec', (name, spec) => {
    const fn = functionOf(dev, name);
    expect(fn.Properties).toMatchObject({
      MemorySize: ENVIRONMENT_CONFIG.dev.memoryMb[name] ?? spec.memoryMb,
      Timeout: spec.timeoutSeconds,
      Runtime: 'nodejs22.x',
      Architectures: ['arm64'],
      Handler: 'index.handler',
      TracingConfig: { Mode: 'Active' },
    });
    const vars = fn.Properties.Environment.Variables;
    expect(vars).toMatchObject({ POWERTOOLS_SERVICE_NAME: 'voice-agent', VOICE_AGENT_ENV: 'dev', NODE_OPTIONS: '--enable-source-maps' });
    // Only what the function may use: the table name where it has table access, the secret id where it may read it.
    expect(vars.CALLS_TABLE).toEqual(spec.permissions.table.length > 0 ? { Ref: resources(dev, 'AWS::DynamoDB::Table')[0]![0] } : undefined);
    // Calls and transcripts live as long as the environment keeps them (TTL written by the functions).
    expect(vars.CALL_RETENTION_HOURS).toBe(spec.permissions.table.length > 0 ? String(ENVIRONMENT_CONFIG.dev.table.callRetentionHours) : undefined);
    expect(vars.APP_SECRET_ID).toEqual(spec.permissions.appSecret ? { Ref: resources(dev, 'AWS::SecretsManager::Secret')[0]![0] } : undefined);
    expect(vars.SPEECH_PROVIDERS).toBe(['start', 'media', 'dtmf'].includes(name) ? 'vendors' : undefined);
    expect(fn.Properties.LoggingConfig?.LogGroup).toBeDefined();
  });

  it('passes no secret value in any environment variable', () => {
    for (const t of [dev, prod]) {
      for (const [, fn] of resources(t, 'AWS::Lambda::Function')) {
        expect(Object.keys(fn.Properties.Environment.Variables).filter((k) => /TOKEN|KEY|SECRET(?!_ID)/.test(k))).toEqual([]);
      }
    }
  });

  it('sizes memory per environment from the config', () => {
    for (const [name, mb] of Object.entries(ENVIRONMENT_CONFIG.prod.memoryMb)) expect(functionOf(prod, name).Properties.MemorySize).toBe(mb);
    expect(Object.keys(ENVIRONMENT_CONFIG.prod.memoryMb).length).toBeGreaterThan(0);
  });

  it('keeps logs for the environment\'s retention, and keeps them on delete in prod only', () => {
    for (const [t, days, policy] of [
      [dev, 7, 'Delete'],
      [prod, 30, 'Retain'],
    ] as const) {
      const groups = resources(t, 'AWS::Logs::LogGroup');
      // + the WebSocket and HTTP stages' access logs, + the page deployment's logs
      expect(groups).toHaveLength(ALL_FUNCTIONS.length + 3);
      for (const [, group] of groups) {
        expect(group.Properties.RetentionInDays).toBe(days);
        expect(group.DeletionPolicy).toBe(policy);
      }
    }
  });
});

describe('call table', () => {
  it('matches CALL_TABLE_SCHEMA: keys, TTL, on-demand, PITR, encryption', () => {
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
      SSESpecification: { SSEEnabled: true },
    });
  });

  it('has the sparse calls-by-day index of the shared schema (the local table is created from the same definition)', () => {
    const [, table] = resources(dev, 'AWS::DynamoDB::Table')[0]!;
    const local = createTableInput('calls').GlobalSecondaryIndexes!;
    expect(table.Properties.GlobalSecondaryIndexes).toEqual(
      local.map((i) => ({ IndexName: i.IndexName, KeySchema: i.KeySchema, Projection: { ProjectionType: 'INCLUDE', NonKeyAttributes: [...CALLS_BY_DAY.projected] } })),
    );
    // Nothing a turn or a frame writes is projected: the hot path's writes never reach the index.
    for (const hot of ['turnCount', 'watch', 'agent', 'lastEndpointChunk', 'dialog', 'dialogTurn']) expect(CALLS_BY_DAY.projected).not.toContain(hot);
  });

  it('keeps calls no longer in dev than in prod, and at most a week anywhere', () => {
    const hours = Object.values(ENVIRONMENT_CONFIG).map((c) => c.table.callRetentionHours);
    expect(Math.max(...hours)).toBeLessThanOrEqual(7 * 24);
    expect(ENVIRONMENT_CONFIG.dev.table.callRetentionHours).toBeLessThanOrEqual(ENVIRONMENT_CONFIG.prod.table.callRetentionHours);
  });

  it('is retained and protected from deletion in prod, not in dev', () => {
    const [, prodTable] = resources(prod, 'AWS::DynamoDB::Table')[0]!;
    expect(prodTable.DeletionPolicy).toBe('Retain');
    expect(prodTable.UpdateReplacePolicy).toBe('Retain');
    expect(prodTable.Properties.DeletionProtectionEnabled).toBe(true);
    const [, devTable] = resources(dev, 'AWS::DynamoDB::Table')[0]!;
    expect(devTable.DeletionPolicy).toBe('Delete');
    expect(devTable.Properties.DeletionProtectionEnabled).toBe(false);
  });
});

describe('app secret', () => {
  it('is one generated secret per environment: the token generated at deploy, vendor keys set afterwards', () => {
    for (const [t, env] of [
      [dev, 'dev'],
      [prod, 'prod'],
    ] as const) {
      const secrets = resources(t, 'AWS::SecretsManager::Secret');
      expect(secrets).toHaveLength(1);
      const [, secret] = secrets[0]!;
      expect(secret.Properties.Name).toBe(`voice-agent/${env}`);
      expect(secret.Properties.SecretString).toBeUndefined();
      expect(secret.Properties.GenerateSecretString).toMatchObject({ GenerateStringKey: 'voiceAgentToken', ExcludePunctuation: true });
      expect(JSON.parse(secret.Properties.GenerateSecretString.SecretStringTemplate)).toEqual({ deepgramApiKey: '', elevenLabsApiKey: '', twilioAuthToken: '' });
      expect(secret.DeletionPolicy).toBe(env === 'prod' ? 'Retain' : 'Delete');
    }
  });
});

describe('provisioned concurrency (lib/config.ts)', () => {
  const hot = ROUTES.filter((r) => r.hotPath);

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

  it('raises the floor for business hours where the config has them (prod), and drops it back after', () => {
    const hours = ENVIRONMENT_CONFIG.prod.hotPath.businessHours!;
    const targets = resources(prod, 'AWS::ApplicationAutoScaling::ScalableTarget');
    expect(targets).toHaveLength(hot.length);
    for (const [, target] of targets) {
      expect(target.Properties.ScheduledActions).toEqual([
        {
          ScheduledActionName: 'BusinessHoursStart',
          Schedule: `cron(0 ${hours.startHour} ? * ${hours.weekDays} *)`,
          ScalableTargetAction: { MinCapacity: hours.provisioned },
          Timezone: hours.timeZone,
        },
        {
          ScheduledActionName: 'BusinessHoursEnd',
          Schedule: `cron(0 ${hours.endHour} ? * ${hours.weekDays} *)`,
          ScalableTargetAction: { MinCapacity: ENVIRONMENT_CONFIG.prod.hotPath.provisioned },
          Timezone: hours.timeZone,
        },
      ]);
      expect(hours.provisioned).toBeLessThanOrEqual(target.Properties.MaxCapacity);
    }
    expect(ENVIRONMENT_CONFIG.dev.hotPath.businessHours).toBeUndefined();
    for (const [, target] of resources(dev, 'AWS::ApplicationAutoScaling::ScalableTarget')) expect(target.Properties.ScheduledActions).toBeUndefined();
  });

  it('tells exactly the functions that post to connections their @connections endpoint', () => {
    for (const spec of ALL_FUNCTIONS) {
      const endpoint = functionOf(dev, spec.name).Properties.Environment?.Variables?.CONNECTIONS_ENDPOINT;
      if (spec.permissions.manageConnections) expect(JSON.stringify(endpoint)).toMatch(/execute-api/);
      else expect(endpoint).toBeUndefined();
    }
  });
});
