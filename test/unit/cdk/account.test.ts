/**
 * What a stack needs from the account (lib/account-needs.ts), the deploy-time overrides (lib/config.ts), and the synth
 * refusing a stack the account cannot hold, before CloudFormation would roll it back.
 */
import { Annotations, Match } from 'aws-cdk-lib/assertions';
import { ALL_FUNCTIONS } from '../../../functions/contracts/routes';
import { accountNeeds, checkAccount, CONCURRENCY_QUOTA_CODE } from '../../../lib/account-needs';
import { ENVIRONMENT_CONFIG, withDeployOverrides } from '../../../lib/config';
import { validateTemplate, type CfnTemplate } from './cfn-schema';
import { resources, stackOf, synth } from './synth';

const hotPath = ALL_FUNCTIONS.filter((f) => f.hotPath).length;

describe('account needs', () => {
  it('counts every hot-path function\'s floor at deploy and its highest setting at the peak, plus the 100 Lambda keeps', () => {
    const dev = ENVIRONMENT_CONFIG.dev.hotPath;
    expect(accountNeeds(ENVIRONMENT_CONFIG.dev, hotPath)).toEqual({
      provisionedFunctions: hotPath,
      provisionedAtDeploy: hotPath * dev.provisioned,
      provisionedPeak: hotPath * dev.maxProvisioned,
      concurrencyForDeploy: hotPath * dev.provisioned + 100,
      concurrencyForPeak: hotPath * dev.maxProvisioned + 100,
    });
    const prod = ENVIRONMENT_CONFIG.prod.hotPath;
    expect(accountNeeds(ENVIRONMENT_CONFIG.prod, hotPath).provisionedPeak).toBe(hotPath * Math.max(prod.maxProvisioned, prod.businessHours!.provisioned));
  });

  it('refuses a new account (10 unreserved) with the quota to request and the way to deploy without provisioned concurrency', () => {
    const verdict = checkAccount(accountNeeds(ENVIRONMENT_CONFIG.dev, hotPath), { unreserved: 10 }, 'dev');
    expect(verdict.blocking).toMatch(/provisions 4 concurrent executions at deploy/);
    expect(verdict.blocking).toMatch(/10 unreserved/);
    expect(verdict.blocking).toContain(CONCURRENCY_QUOTA_CODE);
    expect(verdict.blocking).toContain('npx cdk deploy -c env=dev -c provisioned=off');
  });

  it('warns when the deploy fits but scaling could not reach its peak, and is silent when everything fits', () => {
    const prod = accountNeeds(ENVIRONMENT_CONFIG.prod, hotPath);
    const tight = checkAccount(prod, { unreserved: prod.provisionedAtDeploy + 100 }, 'prod');
    expect(tight.blocking).toBeUndefined();
    expect(tight.warning).toMatch(/scaling fails and calls meet cold starts/);
    expect(checkAccount(prod, { unreserved: prod.concurrencyForPeak }, 'prod')).toEqual({});
    // Exactly at the line: the floor plus the 100 kept back.
    expect(checkAccount(prod, { unreserved: prod.concurrencyForDeploy - 1 }, 'prod').blocking).toBeDefined();
  });
});

describe('deploy overrides (-c key=value)', () => {
  const context = (values: Record<string, unknown>) => (key: string) => values[key];

  it('switches provisioned concurrency off, leaves the log role alone, and reads the account concurrency', () => {
    const { config, accountConcurrency } = withDeployOverrides(ENVIRONMENT_CONFIG.prod, context({ provisioned: 'off', manageApiGatewayLogRole: 'false', accountConcurrency: '10', alarmEmail: 'oncall@example.com' }));
    expect(config.hotPath).toEqual({ provisioned: 0, maxProvisioned: 0, utilizationTarget: ENVIRONMENT_CONFIG.prod.hotPath.utilizationTarget });
    expect(config.manageApiGatewayLogRole).toBe(false);
    expect(config.alarmEmail).toBe('oncall@example.com');
    expect(accountConcurrency).toBe(10);
    expect(withDeployOverrides(ENVIRONMENT_CONFIG.dev, context({}))).toEqual({ config: ENVIRONMENT_CONFIG.dev });
  });

  it('chooses the language model: responder=bedrock, and the model (an id, a profile or an ARN)', () => {
    expect(ENVIRONMENT_CONFIG.prod.responder.kind).toBe('rules'); // a first deploy needs no model access
    const { config } = withDeployOverrides(ENVIRONMENT_CONFIG.prod, context({ responder: 'bedrock', modelId: 'amazon.nova-micro-v1:0' }));
    expect(config.responder).toEqual({ ...ENVIRONMENT_CONFIG.prod.responder, kind: 'bedrock', modelId: 'amazon.nova-micro-v1:0' });
    const arn = 'arn:aws:bedrock:us-east-1:123456789012:inference-profile/us.amazon.nova-lite-v1:0';
    expect(withDeployOverrides(ENVIRONMENT_CONFIG.dev, context({ modelId: arn })).config.responder.modelId).toBe(arn);
  });

  it.each([
    [{ provisioned: 'on' }, /-c provisioned=on: only "off"/],
    [{ manageApiGatewayLogRole: 'maybe' }, /-c manageApiGatewayLogRole=maybe: true or false/],
    [{ accountConcurrency: '-1' }, /-c accountConcurrency=-1: a whole number/],
    [{ accountConcurrency: 'lots' }, /-c accountConcurrency=lots: a whole number/],
    [{ responder: 'gpt' }, /-c responder=gpt: rules or bedrock/],
    [{ modelId: 'anthropic claude; drop' }, /-c modelId=anthropic claude; drop: a Bedrock model id/],
  ])('refuses %j', (values, message) => {
    expect(() => withDeployOverrides(ENVIRONMENT_CONFIG.dev, context(values))).toThrow(message);
  });
});

describe('the synth against the account', () => {
  it('fails for an account that cannot hold the provisioned concurrency, saying why', () => {
    expect(() => synth('dev', {}, 10)).toThrow(/CloudFormation would fail on the first provisioned alias/);
  });

  it('without provisioned concurrency deploys into a new account: aliases without it, no scaling, a valid template', () => {
    const { config } = withDeployOverrides(ENVIRONMENT_CONFIG.dev, (key) => ({ provisioned: 'off' })[key as 'provisioned']);
    const t = synth('dev', config, 10);
    const aliases = resources(t, 'AWS::Lambda::Alias');
    expect(aliases).toHaveLength(hotPath);
    for (const [, alias] of aliases) expect(alias.Properties.ProvisionedConcurrencyConfig).toBeUndefined();
    expect(resources(t, 'AWS::ApplicationAutoScaling::ScalableTarget')).toHaveLength(0);
    expect(validateTemplate(t.toJSON() as CfnTemplate)).toEqual([]);
  });

  it('warns when scaling could not reach its peak, and says how to check the account when not told', () => {
    const prod = accountNeeds(ENVIRONMENT_CONFIG.prod, hotPath);
    const tight = synth('prod', {}, prod.provisionedAtDeploy + 100);
    Annotations.fromStack(stackOf(tight)).hasWarning('*', Match.stringLikeRegexp('scaling fails and calls meet cold starts'));
    Annotations.fromStack(stackOf(synth('dev'))).hasInfo('*', Match.stringLikeRegexp('npm run preflight -- --env dev'));
  });
});
