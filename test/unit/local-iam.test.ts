import { ALL_FUNCTIONS, functionSpec, type TableAction } from '../../functions/contracts/routes';
import { accessKeyIdOf, functionAccessKeyId, functionCredentials, localIam, principalArn, tableArn } from '../../local/iam';

const TABLE = 'voice-agent-calls';
const STAGE_ARN = 'arn:aws:execute-api:us-east-1:000000000000:abc123defg/local';
const SECRET = 'arn:aws:secretsmanager:us-east-1:000000000000:secret:voice-agent/local-AbC123';
const { table, isAllowed } = localIam({
  tableName: TABLE,
  appSecretArn: 'arn:aws:secretsmanager:us-east-1:000000000000:secret:voice-agent/local-??????',
});
const key = functionAccessKeyId;
const connections = (method: string) => `${STAGE_ARN}/${method}/@connections/{connectionId}`;
const ALL_TABLE_ACTIONS: TableAction[] = ['dynamodb:GetItem', 'dynamodb:PutItem', 'dynamodb:UpdateItem', 'dynamodb:Query'];

describe('local identities', () => {
  it('gives each function its own access key and the shared dummy secret', () => {
    expect(functionCredentials('media')).toEqual({ AWS_ACCESS_KEY_ID: 'local-media', AWS_SECRET_ACCESS_KEY: 'local' });
  });

  it('reads the access key id from a SigV4 Authorization header', () => {
    const header =
      'AWS4-HMAC-SHA256 Credential=local-start/20261124/us-east-1/dynamodb/aws4_request, ' +
      'SignedHeaders=content-type;host;x-amz-date;x-amz-target, Signature=0f3a';
    expect(accessKeyIdOf(header)).toBe('local-start');
    expect(accessKeyIdOf(undefined)).toBeUndefined();
    expect(accessKeyIdOf('Bearer abc')).toBeUndefined();
  });

  it('names a function as the assumed role AWS would', () => {
    expect(principalArn('local-fallback')).toBe('arn:aws:sts::000000000000:assumed-role/fallback-role/fallback');
  });

  it('has a policy for every function of the route table', () => {
    expect(Object.keys(table).sort()).toEqual(ALL_FUNCTIONS.map((f) => key(f.name)).sort());
  });
});

describe('isAllowed follows the route table', () => {
  it.each(ALL_FUNCTIONS.map((f) => [f.name]))('%s: exactly its declared table actions, on the call table only', (name) => {
    const declared = functionSpec(name)!.permissions.table;
    for (const action of [...ALL_TABLE_ACTIONS, 'dynamodb:Scan', 'dynamodb:DeleteItem', 'dynamodb:BatchWriteItem']) {
      expect([action, isAllowed(key(name), action, tableArn(TABLE))]).toEqual([action, declared.includes(action as TableAction)]);
      expect(isAllowed(key(name), action, tableArn('another-table'))).toBe(false);
      expect(isAllowed(key(name), action, `${tableArn(TABLE)}/index/byStatus`)).toBe(false);
    }
  });

  it.each(ALL_FUNCTIONS.map((f) => [f.name]))('%s: posts to and closes connections only when declared; never GetConnection', (name) => {
    const declared = functionSpec(name)!.permissions.manageConnections;
    expect(isAllowed(key(name), 'execute-api:ManageConnections', connections('POST'))).toBe(declared);
    expect(isAllowed(key(name), 'execute-api:ManageConnections', connections('DELETE'))).toBe(declared);
    // Like the CDK grant (POST and DELETE): the declaration does not cover describing a connection.
    expect(isAllowed(key(name), 'execute-api:ManageConnections', connections('GET'))).toBe(false);
  });

  it.each(ALL_FUNCTIONS.map((f) => [f.name]))('%s: reads the app secret only when declared, and no other secret', (name) => {
    const declared = functionSpec(name)!.permissions.appSecret;
    expect(isAllowed(key(name), 'secretsmanager:GetSecretValue', SECRET)).toBe(declared);
    expect(isAllowed(key(name), 'secretsmanager:GetSecretValue', SECRET.replace('voice-agent/local', 'other'))).toBe(false);
    expect(isAllowed(key(name), 'secretsmanager:PutSecretValue', SECRET)).toBe(false);
  });

  it('spot checks: fallback touches nothing, stop may not write items or speak, mark may close connections', () => {
    expect(isAllowed('local-fallback', 'dynamodb:GetItem', tableArn(TABLE))).toBe(false);
    expect(isAllowed('local-stop', 'dynamodb:UpdateItem', tableArn(TABLE))).toBe(true);
    expect(isAllowed('local-stop', 'dynamodb:PutItem', tableArn(TABLE))).toBe(false);
    expect(isAllowed('local-stop', 'execute-api:ManageConnections', connections('POST'))).toBe(false);
    expect(isAllowed('local-mark', 'execute-api:ManageConnections', connections('DELETE'))).toBe(true);
  });

  it('lets keys that are no function’s (the operator: tools, tests, stack setup) do anything', () => {
    for (const operator of ['local', 'AKIAEXAMPLE', undefined]) {
      expect(isAllowed(operator, 'dynamodb:CreateTable', tableArn(TABLE))).toBe(true);
      expect(isAllowed(operator, 'execute-api:ManageConnections', connections('GET'))).toBe(true);
    }
  });
});
