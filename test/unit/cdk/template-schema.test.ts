/**
 * The synthesized templates of every environment against CloudFormation's resource schemas (cfn-schema.ts), and the
 * check itself against templates broken on purpose: each kind of mistake must be caught, or a clean result means
 * nothing.
 */
import { ENVIRONMENTS } from '../../../lib/environments';
import { validateTemplate, type CfnTemplate } from './cfn-schema';
import { synth } from './synth';

describe('synthesized templates against CloudFormation\'s resource schemas', () => {
  it.each(ENVIRONMENTS.map((env) => [env]))('%s: no problem', (env) => {
    const template = synth(env).toJSON() as CfnTemplate;
    expect(validateTemplate(template)).toEqual([]);
  });

  it('dev with a custom domain and without provisioned concurrency: no problem', () => {
    const customDomain = { domainName: 'voice.example.com', certificateArn: 'arn:aws:acm:us-east-1:123456789012:certificate/0f1e2d3c', basePath: 'agent' };
    const hotPath = { provisioned: 0, maxProvisioned: 0, utilizationTarget: 0.7 };
    expect(validateTemplate(synth('dev', { customDomain, hotPath }).toJSON() as CfnTemplate)).toEqual([]);
  });

  it('dev, broken on purpose in three places the CDK would not break: each caught, nothing else', () => {
    const template = synth('dev').toJSON() as Record<string, any>;
    const [fnId, fn] = Object.entries<any>(template.Resources).find(([, r]) => r.Type === 'AWS::Lambda::Function' && r.Properties.LoggingConfig)!;
    fn.Properties.LoggingConfig.LogFormat = 'XML';
    const [stageId, stage] = Object.entries<any>(template.Resources).find(([, r]) => r.Type === 'AWS::ApiGatewayV2::Stage')!;
    stage.DependsOn = [...(stage.DependsOn ?? []), 'NoSuchRoute'];
    const [tableId, table] = Object.entries<any>(template.Resources).find(([, r]) => r.Type === 'AWS::DynamoDB::Table')!;
    table.Properties.TimeToLiveSpecification.AttributeNames = table.Properties.TimeToLiveSpecification.AttributeName;
    expect(validateTemplate(template as CfnTemplate)).toEqual([
      { path: `Resources.${fnId}.Properties.LoggingConfig.LogFormat`, problem: expect.stringMatching(/"XML" is not one of Text, JSON/) },
      { path: `Resources.${stageId}.DependsOn`, problem: expect.stringMatching(/"NoSuchRoute" is not a resource/) },
      { path: `Resources.${tableId}.Properties.TimeToLiveSpecification.AttributeNames`, problem: expect.stringMatching(/unknown property/) },
    ].sort((a, b) => Object.keys(template.Resources).indexOf(a.path.split('.')[1]!) - Object.keys(template.Resources).indexOf(b.path.split('.')[1]!)));
  });
});

describe('the schema check catches', () => {
  const base = (): Record<string, any> => ({
    Parameters: { Stage: { Type: 'String' } },
    Resources: {
      Table: {
        Type: 'AWS::DynamoDB::Table',
        Properties: {
          BillingMode: 'PAY_PER_REQUEST',
          KeySchema: [{ AttributeName: 'pk', KeyType: 'HASH' }],
          AttributeDefinitions: [{ AttributeName: 'pk', AttributeType: 'S' }],
          TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        },
        DeletionPolicy: 'Retain',
      },
      Logs: { Type: 'AWS::Logs::LogGroup', Properties: { RetentionInDays: 14, LogGroupName: { 'Fn::Sub': '/voice/${Stage}-${AWS::Region}-${Table.Arn}' } } },
      Topic: { Type: 'AWS::SNS::Topic', DependsOn: ['Table'], Properties: { DisplayName: { 'Fn::GetAtt': ['Table', 'Arn'] } } },
    },
    Outputs: { TableName: { Value: { Ref: 'Table' } } },
  });
  const problemsOf = (mutate: (t: Record<string, any>) => void) => {
    const t = base();
    mutate(t);
    return validateTemplate(t as CfnTemplate);
  };

  it('nothing in a correct template', () => {
    expect(validateTemplate(base() as CfnTemplate)).toEqual([]);
  });

  it.each<[string, (t: Record<string, any>) => void, string, RegExp]>([
    ['a misspelt property', (t) => (t.Resources.Table.Properties.BilingMode = 'PAY_PER_REQUEST'), 'Resources.Table.Properties.BilingMode', /unknown property/],
    ['a misspelt nested property', (t) => (t.Resources.Table.Properties.TimeToLiveSpecification.Enable = true), 'Resources.Table.Properties.TimeToLiveSpecification.Enable', /unknown property/],
    ['a required property missing', (t) => delete t.Resources.Table.Properties.KeySchema, 'Resources.Table.Properties.KeySchema', /required property missing/],
    ['a required nested property missing', (t) => delete t.Resources.Table.Properties.KeySchema[0].KeyType, 'Resources.Table.Properties.KeySchema[0].KeyType', /required property missing/],
    ['a wrong type', (t) => (t.Resources.Logs.Properties.RetentionInDays = 'two weeks'), 'Resources.Logs.Properties.RetentionInDays', /expected an integer/],
    ['a list where an object belongs', (t) => (t.Resources.Table.Properties.TimeToLiveSpecification = []), 'Resources.Table.Properties.TimeToLiveSpecification', /expected an object/],
    ['a value outside the allowed ones', (t) => (t.Resources.Logs.Properties.LogGroupClass = 'COLD'), 'Resources.Logs.Properties.LogGroupClass', /"COLD" is not one of STANDARD, INFREQUENT_ACCESS/],
    ['an integer outside the allowed ones', (t) => (t.Resources.Logs.Properties.RetentionInDays = 15), 'Resources.Logs.Properties.RetentionInDays', /15 is not one of/],
    ['DependsOn on a resource that does not exist', (t) => (t.Resources.Topic.DependsOn = ['Tabel']), 'Resources.Topic.DependsOn', /"Tabel" is not a resource/],
    ['a Ref to nothing', (t) => (t.Outputs.TableName.Value = { Ref: 'Tabel' }), 'Outputs.TableName.Value', /Ref to Tabel/],
    ['a GetAtt of an attribute the type does not have', (t) => (t.Resources.Topic.Properties.DisplayName = { 'Fn::GetAtt': ['Table', 'Url'] }), 'Resources.Topic.Properties.DisplayName', /has no attribute Url/],
    ['a Sub variable that names nothing', (t) => (t.Resources.Logs.Properties.LogGroupName = { 'Fn::Sub': '/voice/${Stag}' }), 'Resources.Logs.Properties.LogGroupName', /\$\{Stag\}/],
    ['an unknown resource type', (t) => (t.Resources.Topic.Type = 'AWS::SNS::Topics'), 'Resources.Topic.Type', /not a CloudFormation resource type/],
    ['an unknown deletion policy', (t) => (t.Resources.Table.DeletionPolicy = 'Keep'), 'Resources.Table.DeletionPolicy', /not one of Delete, Retain/],
    ['an unknown resource attribute', (t) => (t.Resources.Table.DependOn = ['Topic']), 'Resources.Table.DependOn', /not a resource attribute/],
  ])('%s', (_what, mutate, path, problem) => {
    const problems = problemsOf(mutate);
    expect(problems).toEqual([{ path, problem: expect.stringMatching(problem) }]);
  });
});
