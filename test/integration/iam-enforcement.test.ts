/**
 * The local services deny what a function's IAM role would not allow on AWS: the real SDK clients, signed with a
 * function's local credentials, against dynalite (the child process the stack runs, and the in-process one the
 * tests use) and the gateway's @connections API.
 */
import {
  ApiGatewayManagementApiClient,
  DeleteConnectionCommand,
  GetConnectionCommand,
  PostToConnectionCommand,
} from '@aws-sdk/client-apigatewaymanagementapi';
import { CreateTableCommand, DynamoDBClient, GetItemCommand, PutItemCommand, QueryCommand, UpdateItemCommand } from '@aws-sdk/client-dynamodb';
import path from 'node:path';
import { createTableInput } from '../../functions/contracts/table-schema';
import { startChild, type ChildService } from '../../local/child';
import { ACCOUNT_ID, functionCredentials, localIam } from '../../local/iam';
import { startTestTable, type TestTable } from '../support/dynamo';
import { connect, nextMessage, startGateway, stopAll, type TestGateway } from './gateway/helpers';

const TABLE = 'iam-test-calls';

function credentialsOf(fn: string) {
  const c = functionCredentials(fn);
  return { accessKeyId: c.AWS_ACCESS_KEY_ID, secretAccessKey: c.AWS_SECRET_ACCESS_KEY };
}

const dynamo = (endpoint: string, fn?: string) =>
  new DynamoDBClient({
    endpoint,
    region: 'us-east-1',
    maxAttempts: 1,
    credentials: fn ? credentialsOf(fn) : { accessKeyId: 'local', secretAccessKey: 'local' },
  });

/** The error the SDK surfaced, or 'ok'. */
async function outcome(p: Promise<unknown>): Promise<'ok' | { name: string; status?: number; message: string }> {
  try {
    await p;
    return 'ok';
  } catch (err) {
    const e = err as Error & { $metadata?: { httpStatusCode?: number } };
    return { name: e.name, status: e.$metadata?.httpStatusCode, message: e.message };
  }
}

const key = { pk: { S: 'CALL#iam' }, sk: { S: 'META' } };
const get = (table = TABLE) => new GetItemCommand({ TableName: table, Key: key, ConsistentRead: true });
const put = (table = TABLE) => new PutItemCommand({ TableName: table, Item: { ...key, status: { S: 'connected' } } });

describe('dynalite child process with the functions’ policies (as the local stack runs it)', () => {
  let child: ChildService<{ port: number }>;
  let endpoint: string;

  beforeAll(async () => {
    const { table } = localIam({ tableName: TABLE });
    child = await startChild<{ port: number }>('dynamodb', process.execPath, [path.resolve(__dirname, '../../local/dynamo/dynalite-server.cjs')], {
      LOCAL_IAM_POLICY: JSON.stringify(table),
    });
    endpoint = `http://127.0.0.1:${child.ready.port}`;
    await dynamo(endpoint).send(new CreateTableCommand(createTableInput(TABLE)));
    await dynamo(endpoint).send(new CreateTableCommand(createTableInput('other-table')));
  });
  afterAll(() => child?.stop());

  it('lets a function do what it declares', async () => {
    expect(await outcome(dynamo(endpoint, 'connect').send(put()))).toBe('ok');
    expect(await outcome(dynamo(endpoint, 'start').send(get()))).toBe('ok');
    const update = new UpdateItemCommand({
      TableName: TABLE,
      Key: key,
      UpdateExpression: 'SET #s = :s',
      ExpressionAttributeNames: { '#s': 'status' },
      ExpressionAttributeValues: { ':s': { S: 'streaming' } },
    });
    expect(await outcome(dynamo(endpoint, 'start').send(update))).toBe('ok');
    const query = new QueryCommand({ TableName: TABLE, KeyConditionExpression: 'pk = :pk', ExpressionAttributeValues: { ':pk': key.pk } });
    expect(await outcome(dynamo(endpoint, 'media').send(query))).toBe('ok');
  });

  it('denies an undeclared action with DynamoDB’s AccessDeniedException', async () => {
    expect(await outcome(dynamo(endpoint, 'fallback').send(get()))).toEqual({
      name: 'AccessDeniedException',
      status: 400,
      message:
        'User: arn:aws:sts::000000000000:assumed-role/fallback-role/fallback is not authorized to perform: dynamodb:GetItem ' +
        `on resource: arn:aws:dynamodb:us-east-1:000000000000:table/${TABLE} because no identity-based policy allows the dynamodb:GetItem action`,
    });
    expect(await outcome(dynamo(endpoint, 'stop').send(put()))).toMatchObject({ name: 'AccessDeniedException', status: 400 });
  });

  it('denies a declared action on another table', async () => {
    const denied = await outcome(dynamo(endpoint, 'media').send(get('other-table')));
    expect(denied).toMatchObject({ name: 'AccessDeniedException', message: expect.stringContaining(':table/other-table because') });
  });

  it('a denied write changes nothing; the operator key may do anything', async () => {
    await dynamo(endpoint, 'stop').send(put()).catch(() => undefined);
    const item = await dynamo(endpoint).send(get());
    expect(item.Item?.status).toEqual({ S: 'streaming' });
    expect(await outcome(dynamo(endpoint).send(put('other-table')))).toBe('ok');
  });
});

describe('in-process dynalite (tests) enforces the same policies', () => {
  let t: TestTable;
  beforeAll(async () => {
    t = await startTestTable();
  });
  afterAll(() => t?.close());

  it('allows the declared, denies the rest', async () => {
    expect(await outcome(dynamo(t.endpoint, 'connect').send(put(t.tableName)))).toBe('ok');
    expect(await outcome(dynamo(t.endpoint, 'stop').send(get(t.tableName)))).toBe('ok');
    expect(await outcome(dynamo(t.endpoint, 'stop').send(put(t.tableName)))).toMatchObject({ name: 'AccessDeniedException', status: 400 });
  });
});

describe('@connections with the functions’ policies', () => {
  let t: TestGateway;
  const { isAllowed } = localIam({ tableName: TABLE });
  const api = (fn: string) =>
    new ApiGatewayManagementApiClient({
      endpoint: `http://127.0.0.1:${t.port}/local`,
      region: 'us-east-1',
      credentials: credentialsOf(fn),
      maxAttempts: 1,
    });

  beforeEach(async () => {
    t = await startGateway(
      { connect: () => ({ statusCode: 200 }), disconnect: () => undefined, fallback: () => undefined },
      { accountId: ACCOUNT_ID, apiId: 'abcde12345', isAllowed },
    );
  });
  afterEach(stopAll);

  async function open() {
    const ws = await connect(t.url);
    const id = t.invoker.callsTo('connect').at(-1)!.event.requestContext.connectionId as string;
    return { ws, id };
  }

  it('lets a function that declares manageConnections post and close', async () => {
    const { ws, id } = await open();
    const message = nextMessage(ws);
    expect(await outcome(api('media').send(new PostToConnectionCommand({ ConnectionId: id, Data: 'hi' })))).toBe('ok');
    expect((await message).data).toBe('hi');
    expect(await outcome(api('mark').send(new DeleteConnectionCommand({ ConnectionId: id })))).toBe('ok');
  });

  it('denies a function that does not, with API Gateway’s AccessDeniedException, and delivers nothing', async () => {
    const { ws, id } = await open();
    const received: unknown[] = [];
    ws.on('message', (m) => received.push(m));
    expect(await outcome(api('stop').send(new PostToConnectionCommand({ ConnectionId: id, Data: 'hi' })))).toEqual({
      name: 'AccessDeniedException',
      status: 403,
      message:
        'User: arn:aws:sts::000000000000:assumed-role/stop-role/stop is not authorized to perform: execute-api:ManageConnections ' +
        'on resource: arn:aws:execute-api:us-east-1:********0000:abcde12345/local/POST/@connections/{connectionId}',
    });
    expect(await outcome(api('fallback').send(new DeleteConnectionCommand({ ConnectionId: id })))).toMatchObject({
      name: 'AccessDeniedException',
      status: 403,
    });
    await new Promise((r) => setTimeout(r, 100));
    expect(received).toEqual([]);
    expect(ws.readyState).toBe(ws.OPEN);
  });

  it('GetConnection is outside the declaration (the CDK grants POST and DELETE); the operator may', async () => {
    const { id } = await open();
    expect(await outcome(api('media').send(new GetConnectionCommand({ ConnectionId: id })))).toMatchObject({ name: 'AccessDeniedException' });
    const operator = new ApiGatewayManagementApiClient({
      endpoint: `http://127.0.0.1:${t.port}/local`,
      region: 'us-east-1',
      credentials: { accessKeyId: 'local', secretAccessKey: 'local' },
      maxAttempts: 1,
    });
    expect(await outcome(operator.send(new GetConnectionCommand({ ConnectionId: id })))).toBe('ok');
  });
});
