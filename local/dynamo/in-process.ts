/**
 * dynalite in this process, with the call table from the shared schema, counting requests and bytes by operation.
 * The route table's policies are enforced as in the local stack: a client with a function's credentials
 * (`functionCredentials` in local/iam) may do only what that function declares; other keys may do anything.
 */
import { CreateTableCommand, DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { randomUUID } from 'node:crypto';
import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { createTableInput } from '../../functions/contracts/table-schema';
import { policyTable } from '../iam';
import { enforcePolicy } from './enforce.cjs';

// eslint-disable-next-line @typescript-eslint/no-require-imports
const dynalite = require('dynalite') as (opts: object) => Server;

export interface OperationCount {
  requests: number;
  requestBytes: number;
  responseBytes: number;
}

export interface InProcessTable {
  readonly client: DynamoDBClient;
  readonly tableName: string;
  readonly endpoint: string;
  /** Per DynamoDB operation (PutItem, Query, …), since start or the last reset. */
  counts(): Record<string, OperationCount>;
  requests(): number;
  reset(): void;
  close(): Promise<void>;
}

export async function startInProcessTable(): Promise<InProcessTable> {
  const server = dynalite({ createTableMs: 0 });
  const tableName = `calls-${randomUUID()}`;
  enforcePolicy(server, policyTable({ tableName }));
  let counts: Record<string, OperationCount> = {};
  server.on('request', (req, res) => {
    const op = String(req.headers['x-amz-target'] ?? '').split('.')[1] ?? 'unknown';
    const c = (counts[op] ??= { requests: 0, requestBytes: 0, responseBytes: 0 });
    c.requests++;
    c.requestBytes += Number(req.headers['content-length'] ?? 0);
    const write = res.write.bind(res);
    const end = res.end.bind(res);
    res.write = ((chunk: unknown, ...rest: unknown[]) => {
      if (chunk) c.responseBytes += Buffer.byteLength(chunk as string);
      return (write as (...a: unknown[]) => boolean)(chunk, ...rest);
    }) as typeof res.write;
    res.end = ((chunk?: unknown, ...rest: unknown[]) => {
      if (chunk && typeof chunk !== 'function') c.responseBytes += Buffer.byteLength(chunk as string);
      return (end as (...a: unknown[]) => typeof res)(chunk, ...rest);
    }) as typeof res.end;
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const endpoint = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
  const client = new DynamoDBClient({ endpoint, region: 'us-east-1', credentials: { accessKeyId: 'local', secretAccessKey: 'local' } });
  await client.send(new CreateTableCommand(createTableInput(tableName)));
  counts = {};
  return {
    client,
    tableName,
    endpoint,
    counts: () => counts,
    requests: () => Object.values(counts).reduce((n, c) => n + c.requests, 0),
    reset: () => {
      counts = {};
    },
    close: async () => {
      client.destroy();
      await new Promise<void>((resolve) => server.close(() => resolve()));
    },
  };
}
