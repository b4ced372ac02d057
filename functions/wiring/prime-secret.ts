/**
 * Init-time read of the app secret for the functions the route table lets read it (`permissions.appSecret`), when
 * APP_SECRET_ID is set: the first invocation then finds it cached (functions/settings/secrets.ts). A module of its own,
 * light on purpose: the authorizer primes with it alone and must not bundle the call services prime.ts builds.
 */
import { functionSpec } from '../contracts/routes';
import { logger } from '../lambda/observability';
import { appSecrets } from '../settings/secrets';

/** Priming never holds init (10 s on Lambda) longer than this on a slow dependency. */
export const PRIME_BUDGET_MS = 3000;

export async function withinPrimeBudget(work: Promise<unknown>): Promise<void> {
  let timer: NodeJS.Timeout | undefined;
  await Promise.race([work, new Promise((resolve) => (timer = setTimeout(resolve, PRIME_BUDGET_MS)))]).finally(() => clearTimeout(timer));
}

/** Never rejects: a secret that cannot be read now is read (and its failure reported) by the first invocation. */
export async function primeAppSecret(functionName: string): Promise<void> {
  if (!functionSpec(functionName)?.permissions.appSecret || !process.env.APP_SECRET_ID) return;
  try {
    await withinPrimeBudget(appSecrets());
  } catch (err) {
    logger.warn('app secret not read during init', { functionName, error: (err as Error).message });
  }
}
