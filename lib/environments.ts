/** The deployment environments the app knows. Per-environment sizing (provisioned concurrency, alarms) comes later. */
export const ENVIRONMENTS = ['dev', 'staging', 'prod'] as const;
export type EnvName = (typeof ENVIRONMENTS)[number];

export function parseEnvName(value: unknown): EnvName {
  const name = value ?? 'dev';
  if (typeof name === 'string' && (ENVIRONMENTS as readonly string[]).includes(name)) return name as EnvName;
  throw new Error(`unknown environment '${String(name)}': expected one of ${ENVIRONMENTS.join(', ')} (cdk ... -c env=<name>)`);
}

export const stackName = (env: EnvName) => `VoiceAgent-${env}`;
