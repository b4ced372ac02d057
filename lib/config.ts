/**
 * Everything that differs between environments, in one typed place. Constructs take these values as props and
 * never look at the environment name themselves.
 */
import { RetentionDays } from 'aws-cdk-lib/aws-logs';
import type { EnvName } from './environments';

export interface HotPathConcurrency {
  /** Provisioned environments per latency-critical function at all times. */
  readonly provisioned: number;
  /** Upper bound of provisioned concurrency when utilization scaling raises it. */
  readonly maxProvisioned: number;
  /** Provisioned-concurrency utilization that scaling holds (0–1). */
  readonly utilizationTarget: number;
}

export interface EnvironmentConfig {
  readonly hotPath: HotPathConcurrency;
  /** Keep data (table, logs) when the stack is deleted, and point-in-time recovery. */
  readonly retainData: boolean;
  readonly logRetention: RetentionDays;
}

export const ENVIRONMENT_CONFIG: Readonly<Record<EnvName, EnvironmentConfig>> = {
  // media runs turns inline: about one environment per turn in flight plus one or two for frames (docs/ARCHITECTURE.md).
  dev: { hotPath: { provisioned: 1, maxProvisioned: 4, utilizationTarget: 0.7 }, retainData: false, logRetention: RetentionDays.ONE_WEEK },
  staging: { hotPath: { provisioned: 2, maxProvisioned: 20, utilizationTarget: 0.7 }, retainData: false, logRetention: RetentionDays.TWO_WEEKS },
  prod: { hotPath: { provisioned: 10, maxProvisioned: 120, utilizationTarget: 0.6 }, retainData: true, logRetention: RetentionDays.ONE_MONTH },
};
