/** A real DynamoDB API (dynalite) in the test process, with the call table created from the shared schema. */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import type { AddressInfo } from 'node:net';
import { createTableInput } from '../../functions/adapters/table-schema';
import { localClientConfig } from '../../local/stack';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (opts: object) => import('node:http').Server;

export interface TestTable {
  client: DynamoDBClient;
  tableName: string;
  requests: () => number;
  close(): Promise<void>;
}

export async function startTestTable(): Promise<TestTable> {
  const server = dynalite({ createTableMs: 0 });
  let requests = 0;
  server.on('request', () => requests++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  const client = new DynamoDBClient(localClientConfig(`http://127.0.0.1:${port}`));
  const tableName = `calls-${randomUUID()}`;
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  requests = 0;
  return {
    client,
    tableName,
    requests: () => requests,
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
