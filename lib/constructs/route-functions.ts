/**
 * One NodejsFunction per entry of the route table (ROUTES + AUTHORIZER), bundled with the local esbuild exactly
 * like scripts/build-functions.ts does for the local stack: the same entries (handler + init-time priming), ES
 * modules so top-level await runs during init, minified, source maps, AWS SDK v3 bundled in.
 */
import path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Alias, Architecture, Runtime, Tracing, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AUTHORIZER, ROUTES, type FunctionSpec } from '../../functions/routes';
import type { HotPathConcurrency } from '../config';
import { ESM_REQUIRE_BANNER } from '../../scripts/build-functions';

const REPO_ROOT = path.resolve(__dirname, '..', '..');
export const handlerEntry = (name: string) => path.join(REPO_ROOT, 'functions', 'entries', `${name}.ts`);

export interface RouteFunctionsProps {
  /** Name of the call table, passed as CALLS_TABLE. */
  readonly tableName: string;
  /** Value for the authorizer's VOICE_AGENT_TOKEN; unset → the authorizer refuses every caller. */
  readonly voiceAgentToken?: string;
  readonly logRetention: RetentionDays;
  /** Removal policy of the functions' log groups. */
  readonly logRemovalPolicy: RemovalPolicy;
  /** Provisioned concurrency (with utilization scaling) for the functions the route table marks `hotPath`. */
  readonly hotPath: HotPathConcurrency;
}

export class RouteFunctions extends Construct {
  /** Route key → the function serving it (every entry of ROUTES). */
  readonly byRouteKey: ReadonlyMap<string, NodejsFunction>;
  /** Route key → the `live` alias with provisioned concurrency, for hot-path routes: what API Gateway invokes. */
  readonly liveAliases: ReadonlyMap<string, Alias>;
  readonly authorizer: NodejsFunction;

  constructor(scope: Construct, id: string, props: RouteFunctionsProps) {
    super(scope, id);
    const byRouteKey = new Map<string, NodejsFunction>();
    const liveAliases = new Map<string, Alias>();
    for (const route of ROUTES) {
      const fn = this.createFunction(route, props, {});
      byRouteKey.set(route.routeKey, fn);
      if (route.hotPath) liveAliases.set(route.routeKey, this.provision(route, fn, props.hotPath));
    }
    this.byRouteKey = byRouteKey;
    this.liveAliases = liveAliases;
    this.authorizer = this.createFunction(
      AUTHORIZER,
      props,
      // TODO(secrets): VOICE_AGENT_TOKEN is a plain environment variable for now (from -c voiceAgentToken=… or the
      // VOICE_AGENT_TOKEN shell variable at synth time); a later issue moves it to Secrets Manager and drops this.
      props.voiceAgentToken ? { VOICE_AGENT_TOKEN: props.voiceAgentToken } : {},
    );
  }

  /** The functions of the route table: every route, then the authorizer. */
  get all(): readonly NodejsFunction[] {
    return [...this.byRouteKey.values(), this.authorizer];
  }

  /** What API Gateway should invoke for a route: the provisioned alias on the hot path, else the function. */
  route(routeKey: string): IFunction {
    const fn = this.liveAliases.get(routeKey) ?? this.byRouteKey.get(routeKey);
    if (!fn) throw new Error(`no function for route '${routeKey}'`);
    return fn;
  }

  /**
   * Provisioned concurrency lives on an alias (never on $LATEST), and the integration must invoke that alias or
   * the provisioned environments are never used. Utilization scaling raises it under load.
   */
  private provision(spec: FunctionSpec, fn: NodejsFunction, hot: HotPathConcurrency): Alias {
    const alias = new Alias(this, `${spec.name}-live`, {
      aliasName: 'live',
      version: fn.currentVersion,
      provisionedConcurrentExecutions: hot.provisioned,
    });
    alias
      .addAutoScaling({ minCapacity: hot.provisioned, maxCapacity: hot.maxProvisioned })
      .scaleOnUtilization({ utilizationTarget: hot.utilizationTarget });
    return alias;
  }

  private createFunction(spec: FunctionSpec, props: RouteFunctionsProps, extraEnv: Record<string, string>): NodejsFunction {
    const logGroup = new LogGroup(this, `${spec.name}-logs`, {
      retention: props.logRetention,
      removalPolicy: props.logRemovalPolicy,
    });
    return new NodejsFunction(this, spec.name, {
      entry: handlerEntry(spec.name),
      handler: 'handler',
      runtime: Runtime.NODEJS_22_X,
      architecture: Architecture.ARM_64,
      memorySize: spec.memoryMb,
      timeout: Duration.seconds(spec.timeoutSeconds),
      tracing: Tracing.ACTIVE,
      logGroup,
      environment: {
        CALLS_TABLE: props.tableName,
        POWERTOOLS_SERVICE_NAME: 'voice-agent',
        POWERTOOLS_METRICS_NAMESPACE: 'VoiceAgent',
        // sourceMap: true does not set this by itself.
        NODE_OPTIONS: '--enable-source-maps',
        ...extraEnv,
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
  }
}
