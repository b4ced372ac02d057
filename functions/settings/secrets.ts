/**
 * The app secret: one JSON secret per environment in Secrets Manager holding the callers' token and the vendor API
 * keys, read with Powertools Parameters. The value is cached in the warm environment for `maxAge` seconds, so it is
 * fetched once per environment (and again after a rotation has had time to land), not once per invocation.
 *
 * The values never reach a log line, an error message or an environment variable: errors name the secret and what
 * went wrong, never what it holds.
 */
import { ParameterNotFoundError } from '@aws-lambda-powertools/parameters/errors';
import { SecretsProvider } from '@aws-lambda-powertools/parameters/secrets';
import { SecretsManagerClient, type SecretsManagerClientConfig } from '@aws-sdk/client-secrets-manager';
import { z } from 'zod';

/** Vendor keys start empty (lib/constructs/app-secret.ts) until someone sets them: empty means not configured. */
const optionalKey = z
  .string()
  .optional()
  .transform((v) => v || undefined);

const AppSecretsSchema = z.object({
  voiceAgentToken: z.string().min(1),
  deepgramApiKey: optionalKey,
  elevenLabsApiKey: optionalKey,
  /** The Twilio account's auth token: signs the voice webhook and the Media Streams upgrade. Unset: no phone line. */
  twilioAuthToken: optionalKey,
  /** The Twilio account (AC…): with the auth token, what the REST API (transfer, outbound calls) authenticates as. */
  twilioAccountSid: optionalKey.pipe(z.string().regex(/^AC[0-9a-f]{32}$/i, 'not a Twilio account SID (AC + 32 hex digits)').optional()),
  /** Where a caller asking for a person is transferred (E.164). Unset: the agent says it cannot transfer. */
  transferNumber: optionalKey.pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'not an E.164 number (+ and 7 to 15 digits)').optional()),
  /** The Twilio number outbound calls come from (E.164, one of the account's numbers). Unset: no outbound calls. */
  twilioPhoneNumber: optionalKey.pipe(z.string().regex(/^\+[1-9]\d{6,14}$/, 'not an E.164 number (+ and 7 to 15 digits)').optional()),
});

export type AppSecrets = z.output<typeof AppSecretsSchema>;

export const DEFAULT_SECRETS_MAX_AGE_SECONDS = 300;

const SecretsEnv = z.object({
  /** Name or ARN of the app secret: set only for functions the route table lets read it. */
  APP_SECRET_ID: z.string({ error: 'not set' }).min(1, 'not set'),
  /** Local stack only: its Secrets Manager. Unset on AWS. */
  SECRETS_MANAGER_ENDPOINT: z.url().optional(),
  SECRETS_MAX_AGE_SECONDS: z.coerce.number().int().nonnegative().default(DEFAULT_SECRETS_MAX_AGE_SECONDS),
});

/** The secret could not be read or is not what the functions expect. Its message never contains the value. */
export class AppSecretError extends Error {
  override readonly name = 'AppSecretError';
}

export interface AppSecretsReaderOptions {
  /** Name or ARN of the secret. */
  readonly secretId: string;
  /** Secrets Manager endpoint (local stack); the SDK's default on AWS. */
  readonly endpoint?: string;
  /** How long a read is reused; 0 reads on every call. */
  readonly maxAgeSeconds?: number;
  /** Extra client settings (region, credentials, retries) — tests and the local stack. */
  readonly clientConfig?: SecretsManagerClientConfig;
}

export class AppSecretsReader {
  private readonly provider: SecretsProvider;
  private readonly maxAgeSeconds: number;
  /** The last validated value and the text it came from: a cached read is not parsed again. */
  private parsed?: { readonly raw: string; readonly value: AppSecrets };

  constructor(private readonly options: AppSecretsReaderOptions) {
    this.maxAgeSeconds = options.maxAgeSeconds ?? DEFAULT_SECRETS_MAX_AGE_SECONDS;
    const client = new SecretsManagerClient({ ...options.clientConfig, ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
    this.provider = new SecretsProvider({ awsSdkV3Client: client });
  }

  /** From the function's environment: APP_SECRET_ID, SECRETS_MANAGER_ENDPOINT, SECRETS_MAX_AGE_SECONDS. */
  static fromEnv(env: NodeJS.ProcessEnv = process.env): AppSecretsReader {
    const parsed = SecretsEnv.safeParse(env);
    if (!parsed.success) {
      const issue = parsed.error.issues[0];
      throw new AppSecretError(`app secret not configured: ${issue?.path.join('.')}: ${issue?.message}`);
    }
    const e = parsed.data;
    return new AppSecretsReader({ secretId: e.APP_SECRET_ID, endpoint: e.SECRETS_MANAGER_ENDPOINT, maxAgeSeconds: e.SECRETS_MAX_AGE_SECONDS });
  }

  async get(): Promise<AppSecrets> {
    const id = this.options.secretId;
    let raw: string | Uint8Array;
    try {
      // No `transform: 'json'`: JSON.parse's error quotes the text it failed on, i.e. the secret.
      raw = await this.provider.get(id, { maxAge: this.maxAgeSeconds, throwOnMissing: true });
    } catch (err) {
      if (err instanceof ParameterNotFoundError) throw new AppSecretError(`app secret '${id}' not found`);
      // The service's message (access denied, throttled, …) names the caller and the secret, not the value.
      throw new AppSecretError(`app secret '${id}' could not be read: ${(err as Error).message}`);
    }
    if (typeof raw !== 'string') throw new AppSecretError(`app secret '${id}' is binary: expected a JSON SecretString`);
    if (this.parsed?.raw === raw) return this.parsed.value;
    try {
      const value = parseAppSecrets(id, raw);
      this.parsed = { raw, value };
      return value;
    } catch (err) {
      // Powertools cached the text: drop it, so a corrected secret is read at the next call, not after maxAge.
      this.provider.clearCache();
      throw err;
    }
  }
}

function parseAppSecrets(id: string, raw: string): AppSecrets {
  let json: unknown;
  try {
    json = JSON.parse(raw);
  } catch {
    // Not the SyntaxError's message: it quotes the text around the fault.
    throw new AppSecretError(`app secret '${id}' is not valid JSON`);
  }
  const result = AppSecretsSchema.safeParse(json);
  if (!result.success) {
    // Paths and zod's messages (expected/received types) only; no `input`.
    const problems = result.error.issues.map((i) => `${i.path.join('.') || '(root)'}: ${i.message}`).join('; ');
    throw new AppSecretError(`app secret '${id}' is not the expected JSON: ${problems}`);
  }
  return result.data;
}

let reader: AppSecretsReader | undefined;

/** This function's app secret (env APP_SECRET_ID), cached per warm environment. Rejects with an AppSecretError. */
export async function appSecrets(): Promise<AppSecrets> {
  reader ??= AppSecretsReader.fromEnv();
  return reader.get();
}
