/**
 * Local identities: each function of the route table runs with its own access key (`local-<name>`), and its policy
 * is what functions/contracts/routes.ts declares for it — the same declaration the CDK stack turns into the function's IAM
 * role (lib/constructs/route-functions.ts). The local services (dynalite, the @connections API, Secrets Manager)
 * (and the Bedrock stand-in) check requests against it, so a function that reaches beyond its declaration is denied
 * here as on AWS.
 * Signatures are not verified: the access key id is read from the SigV4 header and trusted.
 */
import { DEFAULT_MODEL_ID, INVOKE_MODEL_STREAM_ACTION, modelResourceArns } from '../../functions/contracts/model';
import { ALL_FUNCTIONS, type FunctionSpec } from '../../functions/contracts/routes';
import { CALLS_BY_DAY } from '../../functions/contracts/table-schema';
import { ACCOUNT_ID, FUNCTION_KEY_PREFIX, REGION, isAllowedBy, type IsAllowed, type PolicyTable, type Statement } from './policy.cjs';

export { ACCOUNT_ID, REGION, accessKeyIdOf, isAllowedBy, principalArn } from './policy.cjs';
export type { IsAllowed, PolicyTable, Statement } from './policy.cjs';

/** The secret half of every local key (unchecked). */
export const SECRET_ACCESS_KEY = 'local';

export const functionAccessKeyId = (functionName: string): string => `${FUNCTION_KEY_PREFIX}${functionName}`;

/** The environment a function runs with: its own credentials, as Lambda provides its role's. */
export function functionCredentials(functionName: string): Record<'AWS_ACCESS_KEY_ID' | 'AWS_SECRET_ACCESS_KEY', string> {
  return { AWS_ACCESS_KEY_ID: functionAccessKeyId(functionName), AWS_SECRET_ACCESS_KEY: SECRET_ACCESS_KEY };
}

export const tableArn = (tableName: string): string => `arn:aws:dynamodb:${REGION}:${ACCOUNT_ID}:table/${tableName}`;

export interface PolicyOptions {
  /** The call table: the only table the functions' table actions apply to. */
  readonly tableName: string;
  /** The app secret's ARN (pattern); default any secret of the account. */
  readonly appSecretArn?: string;
  /** The stage ARN ManageConnections is granted on (pattern); default any local API and stage. */
  readonly connectionsStageArn?: string;
  /** Default: every function of the route table. */
  readonly functions?: readonly FunctionSpec[];
  /** The model the functions that answer may call (RESPONDER=bedrock); default DEFAULT_MODEL_ID. */
  readonly modelId?: string;
}

/** Each function's statements, as the CDK stack grants them. */
export function policyTable(options: PolicyOptions): PolicyTable {
  const stage = options.connectionsStageArn ?? `arn:aws:execute-api:${REGION}:${ACCOUNT_ID}:*/*`;
  const secret = options.appSecretArn ?? `arn:aws:secretsmanager:${REGION}:${ACCOUNT_ID}:secret:*`;
  const table: Record<string, Statement[]> = {};
  for (const fn of options.functions ?? ALL_FUNCTIONS) {
    const p = fn.permissions;
    const statements: Statement[] = [];
    if (p.table.length > 0) statements.push({ actions: [...p.table], resources: [tableArn(options.tableName)] });
    if (p.callIndex) statements.push({ actions: ['dynamodb:Query'], resources: [`${tableArn(options.tableName)}/index/${CALLS_BY_DAY.indexName}`] });
    // POST and DELETE only, like the CDK grant: GetConnection is not part of the declaration.
    if (p.manageConnections) {
      statements.push({
        actions: ['execute-api:ManageConnections'],
        resources: [`${stage}/POST/@connections/*`, `${stage}/DELETE/@connections/*`],
      });
    }
    if (p.appSecret) statements.push({ actions: ['secretsmanager:GetSecretValue'], resources: [secret] });
    if (p.model) statements.push({ actions: [INVOKE_MODEL_STREAM_ACTION], resources: modelResourceArns(options.modelId ?? DEFAULT_MODEL_ID, REGION, ACCOUNT_ID) });
    table[functionAccessKeyId(fn.name)] = statements;
  }
  return table;
}

/** The policy of the local stack's functions, ready to check requests. */
export function localIam(options: PolicyOptions): { readonly table: PolicyTable; readonly isAllowed: IsAllowed } {
  const table = policyTable(options);
  return { table, isAllowed: isAllowedBy(table) };
}
