/**
 * Security by construction: each function's role holds exactly what functions/contracts/routes.ts declares for it, and
 * cdk-nag's AwsSolutions pack finds nothing unacknowledged — with a tampered stack proving the check is live.
 */
import { PolicyStatement } from 'aws-cdk-lib/aws-iam';
import { ALL_FUNCTIONS, type FunctionSpec } from '../../../functions/contracts/routes';
import { CALLS_BY_DAY } from '../../../functions/contracts/table-schema';
import { functionOf, nagViolations, referencedIds, resources, synth, type Resource } from './synth';

const dev = synth('dev');
type Statement = { Action: string | string[]; Resource: unknown; Effect: string };

function roleIdOf(name: string): string {
  return (functionOf(dev, name).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
}

/** Every statement of every policy attached to the role of function `name`. */
function statementsOf(name: string): Statement[] {
  const roleId = roleIdOf(name);
  return resources(dev, 'AWS::IAM::Policy')
    .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
    .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
}
const actionsOf = (s: Statement) => [s.Action].flat();
const allActions = (name: string) => statementsOf(name).flatMap(actionsOf).sort();

const tableId = resources(dev, 'AWS::DynamoDB::Table')[0]![0];
const secretId = resources(dev, 'AWS::SecretsManager::Secret')[0]![0];
const apiId = resources(dev, 'AWS::ApiGatewayV2::Api')[0]![0];

function expectedActions(spec: FunctionSpec): string[] {
  const p = spec.permissions;
  return [
    'logs:CreateLogStream',
    'logs:PutLogEvents',
    'xray:PutTelemetryRecords',
    'xray:PutTraceSegments',
    ...p.table,
    ...(p.callIndex ? ['dynamodb:Query'] : []),
    ...(p.manageConnections ? ['execute-api:ManageConnections'] : []),
    ...(p.appSecret ? ['secretsmanager:GetSecretValue'] : []),
  ].sort();
}

describe('least privilege per function (functions/contracts/routes.ts permissions)', () => {
  it('gives every function a role of its own, with no managed policy', () => {
    const roles = new Set(ALL_FUNCTIONS.map((f) => roleIdOf(f.name)));
    expect(roles.size).toBe(ALL_FUNCTIONS.length);
    for (const id of roles) expect((dev.toJSON().Resources[id] as Resource).Properties.ManagedPolicyArns).toBeUndefined();
  });

  it.each(ALL_FUNCTIONS.map((f) => [f.name, f] as const))('%s may do exactly what the route table declares', (name, spec) => {
    expect(allActions(name)).toEqual(expectedActions(spec));
    for (const s of statementsOf(name)) {
      expect(s.Effect).toBe('Allow');
      const actions = actionsOf(s);
      const resource = JSON.stringify(s.Resource);
      if (actions.some((a) => a.startsWith('dynamodb:'))) {
        // The table itself, not `table/*` (every index) and not `*`; the history's list: Query on the one index of calls by day.
        const onIndex = { 'Fn::Join': ['', [{ 'Fn::GetAtt': [tableId, 'Arn'] }, `/index/${CALLS_BY_DAY.indexName}`]] };
        if (JSON.stringify(s.Resource) === JSON.stringify(onIndex)) {
          expect(spec.permissions.callIndex).toBe(true);
          expect(actions).toEqual(['dynamodb:Query']);
        } else expect(s.Resource).toEqual({ 'Fn::GetAtt': [tableId, 'Arn'] });
      }
      if (actions.includes('secretsmanager:GetSecretValue')) expect(s.Resource).toEqual({ Ref: secretId });
      if (actions.includes('execute-api:ManageConnections')) {
        // This API and this stage, post and close only.
        expect(referencedIds(s.Resource).filter((id) => !id.startsWith('AWS::'))).toEqual([apiId, apiId]);
        expect(resource).toContain('/dev/POST/@connections/*');
        expect(resource).toContain('/dev/DELETE/@connections/*');
        expect(resource).not.toMatch(/GET\/@connections/);
      }
      if (actions.some((a) => a.startsWith('logs:'))) expect(referencedIds(s.Resource)).toHaveLength(1);
      if (resource === '"*"') expect(actions.every((a) => a.startsWith('xray:'))).toBe(true);
    }
  });

  it('keeps the declarations minimal where they are obvious', () => {
    const by = (n: string) => ALL_FUNCTIONS.find((f) => f.name === n)!.permissions;
    expect(by('fallback')).toEqual({ table: [], manageConnections: false, appSecret: false, speech: false, model: false, callIndex: false });
    expect(by('authorizer')).toEqual({ table: [], manageConnections: false, appSecret: true, speech: false, model: false, callIndex: false });
    // Only the history lists calls, and it writes nothing.
    expect(ALL_FUNCTIONS.filter((f) => f.permissions.callIndex).map((f) => f.name)).toEqual(['call-history']);
    expect(by('call-history').table).toEqual(['dynamodb:GetItem', 'dynamodb:Query']);
    for (const f of ALL_FUNCTIONS) {
      // Priming reads one item: any table access needs GetItem, and nothing may Scan or delete.
      if (f.permissions.table.length > 0) expect(f.permissions.table).toContain('dynamodb:GetItem');
      expect(f.permissions.table.filter((a) => /Scan|Delete|Batch|Transact/.test(a))).toEqual([]);
    }
  });
});

describe('cdk-nag AwsSolutions', () => {
  it.each(['dev', 'staging', 'prod'] as const)('%s: no unacknowledged finding', (env) => {
    expect(nagViolations(env)).toEqual([]);
  });

  it('reports a wildcard grant added without a justification (the check is live)', () => {
    const found = nagViolations('dev', (stack) => {
      stack.functions.byName.get('fallback')!.addToRolePolicy(new PolicyStatement({ actions: ['dynamodb:*'], resources: ['*'] }));
    });
    expect(found.map((v) => v.rule)).toEqual(expect.arrayContaining(['AwsSolutions-IAM5[Action::dynamodb:*]']));
    expect(found.flatMap((v) => v.paths).some((p) => p.includes('fallback-role'))).toBe(true);
  });
});

describe('the language model (responder bedrock)', () => {
  const MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
  const bedrock = synth('dev', { responder: { kind: 'bedrock', modelId: MODEL, maxTokens: 250, temperature: 0.2 } });
  const statementsIn = (t: typeof bedrock, name: string) => {
    const roleId = (functionOf(t, name).Properties.Role as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0];
    return resources(t, 'AWS::IAM::Policy')
      .filter(([, p]) => (p.Properties.Roles as { Ref: string }[]).some((r) => r.Ref === roleId))
      .flatMap(([, p]) => p.Properties.PolicyDocument.Statement as Statement[]);
  };

  it.each(ALL_FUNCTIONS.map((f) => [f.name, f.permissions.model] as const))('%s: may call the model only if it runs turns (%s), on exactly the profile and its model', (name, model) => {
    const granted = statementsIn(bedrock, name).filter((s) => actionsOf(s).some((a) => a.startsWith('bedrock:')));
    if (!model) return expect(granted).toEqual([]);
    expect(granted).toHaveLength(1);
    expect(actionsOf(granted[0]!)).toEqual(['bedrock:InvokeModelWithResponseStream']);
    const arns = JSON.stringify(granted[0]!.Resource);
    expect(arns).toContain(`:inference-profile/${MODEL}`);
    expect(arns).toContain('arn:aws:bedrock:*::foundation-model/anthropic.claude-3-5-haiku-20241022-v1:0');
    expect(arns).not.toMatch(/foundation-model\/\*|inference-profile\/\*/);
  });

  it('tells the functions that run turns which model, and no other function', () => {
    for (const f of ALL_FUNCTIONS) {
      const env = functionOf(bedrock, f.name).Properties.Environment?.Variables ?? {};
      if (f.permissions.model) expect(env).toMatchObject({ RESPONDER: 'bedrock', BEDROCK_MODEL_ID: MODEL, BEDROCK_MAX_TOKENS: '250', BEDROCK_TEMPERATURE: '0.2' });
      else expect(env.RESPONDER).toBeUndefined();
    }
  });

  it('the rules (the default) grant no model access at all', () => {
    for (const f of ALL_FUNCTIONS) expect(allActions(f.name).filter((a) => a.startsWith('bedrock:'))).toEqual([]);
  });

  it('cdk-nag finds nothing unacknowledged', () => {
    expect(nagViolations('dev', undefined, { responder: { kind: 'bedrock', modelId: MODEL, maxTokens: 250, temperature: 0.2 } })).toEqual([]);
  });
});
