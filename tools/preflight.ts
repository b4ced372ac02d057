/**
 * `npm run preflight -- [--env dev|staging|prod]`: before the first `cdk deploy` into an account, reads what the stack
 * needs from it (lib/account-needs.ts) against what it has, with your usual AWS credentials and region (the SDK's
 * default chain: AWS_PROFILE, AWS_REGION, …): Lambda's unreserved concurrency (GetAccountSettings) and whether API
 * Gateway already has a CloudWatch Logs role (GetAccount). Prints the verdict and the deploy command that fits the
 * account; exits 1 when the deploy as configured would fail. Reads only; changes nothing.
 */
import { APIGatewayClient, GetAccountCommand } from '@aws-sdk/client-api-gateway';
import { GetAccountSettingsCommand, LambdaClient } from '@aws-sdk/client-lambda';
import { Command } from 'commander';
import { ALL_FUNCTIONS } from '../functions/contracts/routes';
import { accountNeeds, checkAccount } from '../lib/account-needs';
import { ENVIRONMENT_CONFIG } from '../lib/config';
import { parseEnvName } from '../lib/environments';

async function main() {
  const opts = new Command().option('--env <name>', 'environment to deploy (dev, staging, prod)', 'dev').parse().opts<{ env: string }>();
  const envName = parseEnvName(opts.env);
  const config = ENVIRONMENT_CONFIG[envName];
  const needs = accountNeeds(config, ALL_FUNCTIONS.filter((f) => f.hotPath).length);
  const lambda = new LambdaClient({});
  const apigateway = new APIGatewayClient({});
  const region = await lambda.config.region();
  let settings;
  let account;
  try {
    [settings, account] = await Promise.all([lambda.send(new GetAccountSettingsCommand({})), apigateway.send(new GetAccountCommand({}))]);
  } catch (err) {
    console.error(`preflight: could not read the account (${(err as Error).name}: ${(err as Error).message}). It needs network access to AWS and credentials allowed lambda:GetAccountSettings and apigateway:GET on /account.`);
    process.exit(2);
  }
  const quota = settings.AccountLimit?.ConcurrentExecutions ?? 0;
  const unreserved = settings.AccountLimit?.UnreservedConcurrentExecutions ?? quota;
  console.log(`account in ${region}: Lambda concurrent executions ${quota}, unreserved ${unreserved}; API Gateway CloudWatch Logs role: ${account.cloudwatchRoleArn ?? 'none'}`);
  console.log(
    `${envName} needs: ${needs.provisionedAtDeploy} provisioned concurrent executions at deploy, up to ${needs.provisionedPeak} with scaling ` +
      `(${needs.provisionedFunctions} hot-path functions), plus the 100 Lambda keeps unreserved`,
  );
  const verdict = checkAccount(needs, { unreserved }, envName);
  const flags = [`-c env=${envName}`, `-c accountConcurrency=${unreserved}`];
  if (account.cloudwatchRoleArn && config.manageApiGatewayLogRole) {
    console.log('The account already has API Gateway\'s CloudWatch Logs role: -c manageApiGatewayLogRole=false leaves it as it is (otherwise the stack replaces it with its own, kept on delete).');
    flags.push('-c manageApiGatewayLogRole=false');
  }
  if (verdict.blocking) {
    console.log(`\nWould fail: ${verdict.blocking}`);
    process.exitCode = 1;
    return;
  }
  if (verdict.warning) console.log(`\nWarning: ${verdict.warning}`);
  console.log(`\nReady: npx cdk deploy ${flags.join(' ')}`);
}

main().catch((err: Error) => {
  console.error(err);
  process.exit(2);
});
