/**
 * What a stack needs from the AWS account it deploys into, beyond its own resources, and the check that stops a
 * synth (or tells `npm run preflight`) before CloudFormation would roll back halfway through a first deploy.
 *
 * Lambda concurrency. Provisioned concurrency comes out of the account's concurrency quota ("Concurrent executions",
 * 1,000 by default, as low as 10 on new accounts), and Lambda always keeps 100 of it unreserved for functions without
 * reservations: an alias may be given provisioned concurrency only while the account's unreserved concurrency stays
 * at 100 or more (https://docs.aws.amazon.com/lambda/latest/dg/configuration-concurrency.html). So every hot-path
 * function's floor must fit at deploy time (else the alias fails and the stack rolls back), and the peak that
 * utilization scaling and the business-hours schedule reach must fit later (else scaling fails quietly and calls
 * meet cold starts).
 *
 * API Gateway's CloudWatch Logs role is one per account and region; WebSocket stage logging needs it. The stack sets
 * it (`manageApiGatewayLogRole`) unless told the account already has one.
 */
import type { EnvironmentConfig } from './config';

/** Lambda keeps this much of the account's concurrency unreserved (AWS documentation, above). */
export const UNRESERVED_MINIMUM = 100;
/** The "Concurrent executions" quota (Service Quotas code), for the request when it is too low. */
export const CONCURRENCY_QUOTA_CODE = 'L-B99A9384';

export interface AccountNeeds {
  /** Functions given provisioned concurrency (the route table's hot path). */
  readonly provisionedFunctions: number;
  /** Provisioned concurrency the first deploy configures, all functions together. */
  readonly provisionedAtDeploy: number;
  /** The most that scaling and the business-hours schedule may configure, all functions together. */
  readonly provisionedPeak: number;
  /** Account concurrency quota that lets the deploy succeed, and that lets scaling reach its peak. */
  readonly concurrencyForDeploy: number;
  readonly concurrencyForPeak: number;
}

export function accountNeeds(config: EnvironmentConfig, hotPathFunctions: number): AccountNeeds {
  const hot = config.hotPath;
  const perFunctionPeak = Math.max(hot.provisioned, hot.maxProvisioned, hot.businessHours?.provisioned ?? 0);
  const provisionedAtDeploy = hotPathFunctions * hot.provisioned;
  const provisionedPeak = hot.provisioned === 0 ? 0 : hotPathFunctions * perFunctionPeak;
  return {
    provisionedFunctions: hot.provisioned === 0 ? 0 : hotPathFunctions,
    provisionedAtDeploy,
    provisionedPeak,
    concurrencyForDeploy: provisionedAtDeploy === 0 ? 0 : provisionedAtDeploy + UNRESERVED_MINIMUM,
    concurrencyForPeak: provisionedPeak === 0 ? 0 : provisionedPeak + UNRESERVED_MINIMUM,
  };
}

/** What the account offers: its unreserved concurrency (Lambda GetAccountSettings) if known, else its quota. */
export interface AccountConcurrency {
  /** Concurrency not yet reserved or provisioned by anything else in the account and region. */
  readonly unreserved: number;
}

export interface AccountVerdict {
  /** The deploy would fail: with the reason and what to do. */
  readonly blocking?: string;
  /** The deploy would succeed, but scaling could not reach its peak. */
  readonly warning?: string;
}

export function checkAccount(needs: AccountNeeds, account: AccountConcurrency, envName: string): AccountVerdict {
  const fix = (quota: number) =>
    `Request a "Concurrent executions" quota of at least ${quota}, plus what other functions in the account reserve, in Service Quotas (AWS Lambda, code ${CONCURRENCY_QUOTA_CODE}; ` +
    'new accounts start at 10 and an increase usually takes a day), or deploy without provisioned concurrency: ' +
    `npx cdk deploy -c env=${envName} -c provisioned=off (hot-path cold starts, and the spillover alarm will fire).`;
  const usable = account.unreserved - UNRESERVED_MINIMUM;
  // Nothing provisioned needs nothing reserved, however small the account (usable can be negative: 10 − 100).
  if (needs.provisionedAtDeploy > 0 && needs.provisionedAtDeploy > usable) {
    return {
      blocking:
        `The ${envName} stack provisions ${needs.provisionedAtDeploy} concurrent executions at deploy (${needs.provisionedFunctions} hot-path functions), ` +
        `but the account has ${account.unreserved} unreserved, of which Lambda keeps ${UNRESERVED_MINIMUM}: CloudFormation would fail on the first ` +
        `provisioned alias and roll the stack back. ${fix(needs.concurrencyForPeak)}`,
    };
  }
  if (needs.provisionedPeak > 0 && needs.provisionedPeak > usable) {
    return {
      warning:
        `Scaling may raise provisioned concurrency to ${needs.provisionedPeak}, more than the ${usable} the account can give (${account.unreserved} unreserved, ` +
        `${UNRESERVED_MINIMUM} kept back): beyond that, scaling fails and calls meet cold starts. ${fix(needs.concurrencyForPeak)}`,
    };
  }
  return {};
}
