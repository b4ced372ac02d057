/**
 * One NodejsFunction per entry of the route table (ROUTES + AUTHORIZER), bundled with the local esbuild exactly
 * like scripts/build-functions.ts does for the local stack: the same entries (handler + init-time priming), ES
 * modules so top-level await runs during init, minified, source maps, AWS SDK v3 bundled in.
 *
 * Each function has its own role holding exactly the permissions the route table declares for it
 * (functions/contracts/routes.ts) — the same declaration the local stack enforces.
 */
import path from 'node:path';
import { Duration, RemovalPolicy, Stack, TimeZone, Validations } from 'aws-cdk-lib';
import { Schedule } from 'aws-cdk-lib/aws-applicationautoscaling';
import type { ITable } from 'aws-cdk-lib/aws-dynamodb';
import { PolicyStatement, Role, ServicePrincipal } from 'aws-cdk-lib/aws-iam';
import { Alias, Architecture, Runtime, Tracing, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, type RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { ISecret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';
import { ENVIRONMENT_VARIABLE } from '../../functions/contracts/metrics';
import { CALLS_BY_DAY } from '../../functions/contracts/table-schema';
import { ALL_FUNCTIONS, AUTHORIZER, ROUTES, type FunctionSpec } from '../../functions/contracts/routes';
import type { HotPathConcurrency, ResponderSettings } from '../config';
import { INVOKE_MODEL_STREAM_ACTION, modelResourceArns } from '../../functions/contracts/model';
import { ESM_REQUIRE_BANNER } from '../../scripts/build-functions';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const handlerEntry = (name: string) => path.join(REPO_ROOT, 'functions', 'entries', `${name}.ts`);

export interface RouteFunctionsProps {
  /** Environment name: the functions' metric dimension. */
  readonly envName: string;
  readonly table: ITable;
  /** How long calls and turns are kept (hours): the functions' CALL_RETENTION_HOURS, which sets the items' TTL. */
  readonly callRetentionHours: number;
  /** The app secret (caller token, vendor keys); its ARN is passed as APP_SECRET_ID to functions that may read it. */
  readonly appSecret: ISecret;
  /** Memory per function name where it differs from the route table's default. */
  readonly memoryMb: Readonly<Partial<Record<string, number>>>;
  readonly logRetention: RetentionDays;
  readonly retainLogs: boolean;
  /** Provisioned concurrency (with utilization scaling) for the functions the route table marks `hotPath`. */
  readonly hotPath: HotPathConcurrency;
  /** Who answers: with `bedrock`, the functions that run turns may call exactly this model. */
  readonly responder: ResponderSettings;
}

/** The @connections endpoint of a stage and the execute-api ARN prefix its ManageConnections grants cover. */
export interface ConnectionsTarget {
  /** https://{api}.execute-api.{region}.amazonaws.com/{stage} */
  readonly endpoint: string;
  /** arn:…:execute-api:{region}:{account}:{api}/{stage} */
  readonly stageArn: string;
  /** The same ARN as cdk-nag renders it, to acknowledge its wildcard finding. */
  readonly stageArnForNag: string;
}

export class RouteFunctions extends Construct {
  /** Function name (functions/contracts/routes.ts) → the function. */
  readonly byName: ReadonlyMap<string, NodejsFunction>;
  /** Function name → the `live` alias with provisioned concurrency, for hot-path functions: what API Gateway invokes. */
  readonly liveAliases: ReadonlyMap<string, Alias>;

  constructor(scope: Construct, id: string, props: RouteFunctionsProps) {
    super(scope, id);
    const byName = new Map<string, NodejsFunction>();
    const liveAliases = new Map<string, Alias>();
    for (const spec of ALL_FUNCTIONS) {
      const fn = this.createFunction(spec, props);
      byName.set(spec.name, fn);
      if (spec.hotPath) liveAliases.set(spec.name, this.provision(spec, fn, props.hotPath));
    }
    this.byName = byName;
    this.liveAliases = liveAliases;
  }

  get authorizer(): NodejsFunction {
    return this.byName.get(AUTHORIZER.name)!;
  }

  /** The functions of the route table: every route, then the authorizer. */
  get all(): readonly NodejsFunction[] {
    return [...this.byName.values()];
  }

  /** What API Gateway should invoke for a route: the provisioned alias on the hot path, else the function. */
  route(routeKey: string): IFunction {
    const spec = ROUTES.find((r) => r.routeKey === routeKey);
    const fn = spec && (this.liveAliases.get(spec.name) ?? this.byName.get(spec.name));
    if (!fn) throw new Error(`no function for route '${routeKey}'`);
    return fn;
  }

  /**
   * Lets the functions that declare `manageConnections` post to and close callers' connections on this stage only,
   * and tells them its endpoint (init-time priming opens the client before the first invocation).
   */
  allowConnections(target: ConnectionsTarget): void {
    for (const spec of ALL_FUNCTIONS) {
      if (!spec.permissions.manageConnections) continue;
      const fn = this.byName.get(spec.name)!;
      fn.addEnvironment('CONNECTIONS_ENDPOINT', target.endpoint);
      fn.addToRolePolicy(
        new PolicyStatement({
          actions: ['execute-api:ManageConnections'],
          resources: [`${target.stageArn}/POST/@connections/*`, `${target.stageArn}/DELETE/@connections/*`],
        }),
      );
      const reason = 'One connection per call, created at run time: its id cannot be known at deploy time.';
      Validations.of(fn.role!).acknowledge(
        { id: `AwsSolutions-IAM5[Resource::${target.stageArnForNag}/POST/@connections/*]`, reason },
        { id: `AwsSolutions-IAM5[Resource::${target.stageArnForNag}/DELETE/@connections/*]`, reason },
      );
    }
  }

  /**
   * Provisioned concurrency lives on an alias (never on $LATEST), and the integration must invoke that alias or
   * the provisioned environments are never used. Utilization scaling raises it under load; the business-hours
   * schedule raises the floor before the morning's calls instead of after their cold starts.
   */
  private provision(spec: FunctionSpec, fn: NodejsFunction, hot: HotPathConcurrency): Alias {
    // Without provisioned concurrency (`provisioned: 0`, an account whose quota has none to give) the alias stays, so
    // switching it on later changes no integration.
    const alias = new Alias(this, `${spec.name}-live`, {
      aliasName: 'live',
      version: fn.currentVersion,
      ...(hot.provisioned > 0 ? { provisionedConcurrentExecutions: hot.provisioned } : {}),
    });
    if (hot.provisioned === 0) return alias;
    const scaling = alias.addAutoScaling({ minCapacity: hot.provisioned, maxCapacity: hot.maxProvisioned });
    scaling.scaleOnUtilization({ utilizationTarget: hot.utilizationTarget });
    const hours = hot.businessHours;
    if (hours) {
      const timeZone = TimeZone.of(hours.timeZone);
      scaling.scaleOnSchedule('BusinessHoursStart', {
        schedule: Schedule.cron({ minute: '0', hour: String(hours.startHour), weekDay: hours.weekDays }),
        minCapacity: hours.provisioned,
        timeZone,
      });
      scaling.scaleOnSchedule('BusinessHoursEnd', {
        schedule: Schedule.cron({ minute: '0', hour: String(hours.endHour), weekDay: hours.weekDays }),
        minCapacity: hot.provisioned,
        timeZone,
      });
    }
    return alias;
  }

  private createFunction(spec: FunctionSpec, props: RouteFunctionsProps): NodejsFunction {
    const logGroup = new LogGroup(this, `${spec.name}-logs`, {
      retention: props.logRetention,
      removalPolicy: props.retainLogs ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    // Its own role, no managed policy: only its log group, plus what the route table declares.
    const role = new Role(this, `${spec.name}-role`, {
      assumedBy: new ServicePrincipal('lambda.amazonaws.com'),
      description: `voice agent ${spec.name}: ${describePermissions(spec, spec.permissions.model && props.responder.kind === 'bedrock')}`,
    });
    role.addToPrincipalPolicy(
      new PolicyStatement({ actions: ['logs:CreateLogStream', 'logs:PutLogEvents'], resources: [logGroup.logGroupArn] }),
    );
    const { table, manageConnections: _later, appSecret } = spec.permissions;
    if (table.length > 0) {
      // The table itself: no Scan, no Delete, no batch operations, and no index unless declared below.
      role.addToPrincipalPolicy(new PolicyStatement({ actions: [...table], resources: [props.table.tableArn] }));
    }
    if (spec.permissions.callIndex) {
      // The history's listing: Query on the one index of calls by day, nothing else of it.
      role.addToPrincipalPolicy(
        new PolicyStatement({ actions: ['dynamodb:Query'], resources: [`${props.table.tableArn}/index/${CALLS_BY_DAY.indexName}`] }),
      );
    }
    if (appSecret) {
      role.addToPrincipalPolicy(new PolicyStatement({ actions: ['secretsmanager:GetSecretValue'], resources: [props.appSecret.secretArn] }));
    }
    const callsModel = spec.permissions.model && props.responder.kind === 'bedrock';
    if (callsModel) {
      const { region, account } = Stack.of(this);
      const resources = modelResourceArns(props.responder.modelId, region, account);
      role.addToPrincipalPolicy(new PolicyStatement({ actions: [INVOKE_MODEL_STREAM_ACTION], resources }));
      for (const arn of resources.filter((r) => r.includes('*'))) {
        Validations.of(role).acknowledge({
          id: `AwsSolutions-IAM5[Resource::${arn}]`,
          reason: 'An inference profile serves a request from any of its Regions; IAM checks the one foundation model there, so its ARN names every Region (and only that model).',
        });
      }
    }

    const fn = new NodejsFunction(this, spec.name, {
      entry: handlerEntry(spec.name),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: props.memoryMb[spec.name] ?? spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      role,
      logGroup,
      environment: {
        ...(table.length > 0 ? { CALLS_TABLE: props.table.tableName, CALL_RETENTION_HOURS: String(props.callRetentionHours) } : {}),
        ...(appSecret ? { APP_SECRET_ID: props.appSecret.secretArn } : {}),
        // Functions that speak hear through Deepgram and speak through ElevenLabs (keys from the app secret).
        ...(spec.permissions.speech ? { SPEECH_PROVIDERS: 'vendors' } : {}),
        // Who answers (functions/settings/config.ts): the rules, or the configured model.
        ...(callsModel
          ? {
              RESPONDER: 'bedrock',
              BEDROCK_MODEL_ID: props.responder.modelId,
              BEDROCK_MAX_TOKENS: String(props.responder.maxTokens),
              BEDROCK_TEMPERATURE: String(props.responder.temperature),
            }
          : {}),
        [ENVIRONMENT_VARIABLE]: props.envName,
        POWERTOOLS_SERVICE_NAME: 'voice-agent',
        // sourceMap: true does not set this by itself.
        NODE_OPTIONS: '--enable-source-maps',
      },
      bundling: {
        minify: true,
        sourceMap: true,
        format: OutputFormat.ESM,
        banner: ESM_REQUIRE_BANNER,
        // Bundle the AWS SDK v3 in (as the local build does): pinned versions, no dependency on the runtime's copy.
        externalModules: [],
      },
    });
    Validations.of(role).acknowledge({
      id: 'AwsSolutions-IAM5[Resource::*]',
      reason: 'X-Ray PutTraceSegments/PutTelemetryRecords support no resource-level permissions (added by tracing: ACTIVE).',
    });
    Validations.of(fn).acknowledge({
      id: 'AwsSolutions-L1',
      reason: 'nodejs22.x is the runtime the local stack and the bundles (target node22) are built and tested for.',
    });
    return fn;
  }
}

function describePermissions(spec: FunctionSpec, callsModel: boolean): string {
  const { table, manageConnections, appSecret } = spec.permissions;
  const parts = [
    table.length > 0 ? `table ${table.map((a) => a.replace('dynamodb:', '')).join('/')}` : undefined,
    manageConnections ? 'post to connections' : undefined,
    appSecret ? 'read app secret' : undefined,
    callsModel ? 'call the language model' : undefined,
    spec.permissions.callIndex ? 'list calls by day' : undefined,
  ].filter(Boolean);
  return parts.length > 0 ? parts.join(', ') : 'no AWS access';
}
