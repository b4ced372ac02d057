/**
 * The history's reader for this warm environment (functions/handlers/call-history.ts), built on first use: the call
 * table and the environment whose calls it may list, from the function's configuration.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { DynamoCallHistory } from '../adapters/dynamo-call-history';
import { loadConfig } from '../settings/config';

let history: DynamoCallHistory | undefined;

export function callHistory(): DynamoCallHistory {
  if (history) return history;
  const config = loadConfig();
  const client = new DynamoDBClient(config.dynamoEndpoint ? { endpoint: config.dynamoEndpoint } : {});
  history = new DynamoCallHistory(config.tableName, client, { environment: config.environment, callRetentionSeconds: config.callRetentionSeconds });
  return history;
}
