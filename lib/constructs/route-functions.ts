/**
 * One NodejsFunction per entry of the route table (ROUTES + AUTHORIZER), bundled with the local esbuild exactly
 * like scripts/build-functions.ts does for the local stack: the same entries (handler + init-time priming), ES
 * modules so top-level await runs during init, minified, source maps, AWS SDK v3 bundled in.
 */
import path from 'node:path';
import { Duration, RemovalPolicy } from 'aws-cdk-lib';
import { Architecture, Runtime, Tracing, type IFunction } from 'aws-cdk-lib/aws-lambda';
import { NodejsFunction, OutputFormat } from 'aws-cdk-lib/aws-lambda-nodejs';
import { LogGroup, RetentionDays } from 'aws-cdk-lib/aws-logs';
import { Construct } from 'constructs';
import { AUTHORIZER, ROUTES, type FunctionSpec } from '../../functions/routes';
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
}

export class RouteFunctions extends Construct {
  /** Route key → the function serving it (every entry of ROUTES). */
  readonly byRouteKey: ReadonlyMap<string, NodejsFunction>;
  readonly authorizer: NodejsFunction;

  constructor(scope: Construct, id: string, props: RouteFunctionsProps) {
    super(scope, id);
    const byRouteKey = new Map<string, NodejsFunction>();
    for (const route of ROUTES) byRouteKey.set(route.routeKey, this.createFunction(route, props, {}));
    this.byRouteKey = byRouteKey;
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

  route(routeKey: string): IFunction {
    const fn = this.byRouteKey.get(routeKey);
    if (!fn) throw new Error(`no function for route '${routeKey}'`);
    return fn;
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
