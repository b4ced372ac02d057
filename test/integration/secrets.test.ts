/**
 * The app secret through the real SecretsManagerClient and Powertools Parameters, against the local Secrets Manager
 * (local/secrets/secrets-manager-server.ts): reading, validation, caching per environment, and failures whose
 * messages never contain the value.
 */
import { GetSecretValueCommand, SecretsManagerClient } from '@aws-sdk/client-secrets-manager';
import { createHmac } from 'node:crypto';
import authorizerEvent from '../../events/authorizer.json';
import { AUTHORIZER } from '../../functions/contracts/routes';
import { issueCallerToken } from '../../functions/access/caller-tokens';
import { AppSecretError, AppSecretsReader, appSecrets } from '../../functions/settings/secrets';
import { LambdaRuntime } from '../../local/runtime/runtime';
import { SecretsManagerServer } from '../../local/secrets/secrets-manager-server';
import { bundlePath } from '../../scripts/build-functions';

const TOKEN = 'tok-3f9a1c7e55d2b804'; // what must never appear in an error

process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true'; // Node 20 here; Lambda runs 22
const clientConfig = { region: 'us-east-1', credentials: { accessKeyId: 'AKIDLOCAL', secretAccessKey: 'local' }, maxAttempts: 1 };

let server: SecretsManagerServer;
let endpoint: string;
/** Access key id → denied (the local IAM callback's shape). */
const denied = new Set<string>();

beforeAll(async () => {
  server = new SecretsManagerServer({ isAllowed: (akid) => !denied.has(akid) });
  endpoint = await server.start();
});
afterAll(async () => server.stop());
beforeEach(() => {
  server.resetCounts();
  denied.clear();
});

const reader = (secretId: string, maxAgeSeconds = 300) => new AppSecretsReader({ secretId, endpoint, maxAgeSeconds, clientConfig });
const requests = () => server.counts().GetSecretValue ?? 0;

/** Rejects with an AppSecretError whose message matches and does not contain the secret's text. */
async function expectSecretError(read: Promise<unknown>, message: RegExp, secretText = TOKEN) {
  const err = await read.then(
    () => undefined,
    (e: unknown) => e,
  );
  expect(err).toBeInstanceOf(AppSecretError);
  expect((err as Error).message).toMatch(message);
  expect((err as Error).message).not.toContain(secretText);
  expect(JSON.stringify(err)).not.toContain(secretText);
  expect(String((err as Error).stack)).not.toContain(secretText);
}

describe('the local Secrets Manager', () => {
  it('answers GetSecretValue as the service does, by name and by ARN', async () => {
    const arn = server.putSecret('wire/shape', JSON.stringify({ voiceAgentToken: TOKEN }));
    expect(arn).toMatch(/^arn:aws:secretsmanager:us-east-1:000000000000:secret:wire\/shape-[A-Za-z0-9]{6}$/);
    const client = new SecretsManagerClient({ ...clientConfig, endpoint });
    for (const id of ['wire/shape', arn]) {
      const out = await client.send(new GetSecretValueCommand({ SecretId: id }));
      expect(out).toMatchObject({ ARN: arn, Name: 'wire/shape', SecretString: JSON.stringify({ voiceAgentToken: TOKEN }), VersionStages: ['AWSCURRENT'] });
      expect(out.VersionId).toMatch(/^[0-9a-f-]{36}$/);
      expect(out.CreatedDate).toBeInstanceOf(Date);
      expect(Math.abs(out.CreatedDate!.getTime() - Date.now())).toBeLessThan(60_000);
    }
  });

  it('refuses an unknown secret and an unknown operation with the service errors', async () => {
    const client = new SecretsManagerClient({ ...clientConfig, endpoint });
    await expect(client.send(new GetSecretValueCommand({ SecretId: 'nope' }))).rejects.toMatchObject({
      name: 'ResourceNotFoundException',
      message: "Secrets Manager can't find the specified secret.",
      $metadata: { httpStatusCode: 400 },
    });
    const res = await fetch(endpoint, {
      method: 'POST',
      headers: { 'X-Amz-Target': 'secretsmanager.CreateSecret', 'Content-Type': 'application/x-amz-json-1.1' },
      body: '{}',
    });
    expect(res.status).toBe(400);
    expect(await res.json()).toMatchObject({ __type: 'UnknownOperationException' });
  });
});

describe('AppSecretsReader', () => {
  it('reads and validates the secret; empty vendor keys read as absent', async () => {
    server.putSecret('app/full', JSON.stringify({ voiceAgentToken: TOKEN, deepgramApiKey: 'dg-key', elevenLabsApiKey: '' }));
    expect(await reader('app/full').get()).toEqual({ voiceAgentToken: TOKEN, deepgramApiKey: 'dg-key', elevenLabsApiKey: undefined });
    server.putSecret('app/token-only', JSON.stringify({ voiceAgentToken: TOKEN }));
    expect(await reader('app/token-only').get()).toEqual({ voiceAgentToken: TOKEN });
  });

  it('fetches once within maxAge and again after it', async () => {
    server.putSecret('app/cached', JSON.stringify({ voiceAgentToken: TOKEN }));
    const secrets = reader('app/cached', 1);
    await secrets.get();
    await secrets.get();
    await secrets.get();
    expect(requests()).toBe(1);

    // A rotation is seen once the cached value has expired, not before.
    server.putSecret('app/cached', JSON.stringify({ voiceAgentToken: 'rotated-token' }));
    expect((await secrets.get()).voiceAgentToken).toBe(TOKEN);
    await new Promise((r) => setTimeout(r, 1100));
    expect((await secrets.get()).voiceAgentToken).toBe('rotated-token');
    expect(requests()).toBe(2);
  });

  it('with maxAge 0 reads on every call', async () => {
    server.putSecret('app/uncached', JSON.stringify({ voiceAgentToken: TOKEN }));
    const secrets = reader('app/uncached', 0);
    await secrets.get();
    await secrets.get();
    expect(requests()).toBe(2);
  });

  it('reports a missing secret by id', async () => {
    await expectSecretError(reader('app/missing').get(), /^app secret 'app\/missing' not found$/);
  });

  it.each([
    ['the bare token', TOKEN], // JSON.parse's own message quotes it whole
    ['a truncated object', `{"voiceAgentToken": "${TOKEN}",`],
  ])('reports malformed JSON (%s) without quoting it', async (_case, text) => {
    server.putSecret('app/malformed', text);
    await expectSecretError(reader('app/malformed').get(), /^app secret 'app\/malformed' is not valid JSON$/);
  });

  it('reports a secret without voiceAgentToken, or of the wrong shape, without its values', async () => {
    server.putSecret('app/no-token', JSON.stringify({ deepgramApiKey: TOKEN }));
    await expectSecretError(reader('app/no-token').get(), /app secret 'app\/no-token' is not the expected JSON: voiceAgentToken: /);
    server.putSecret('app/wrong-type', JSON.stringify({ voiceAgentToken: 42, elevenLabsApiKey: [TOKEN] }));
    await expectSecretError(reader('app/wrong-type').get(), /voiceAgentToken: .*; elevenLabsApiKey: /);
    server.putSecret('app/not-object', JSON.stringify(TOKEN));
    await expectSecretError(reader('app/not-object').get(), /is not the expected JSON: \(root\): /);
  });

  it('surfaces an access denial as an error naming the caller and the secret', async () => {
    const arn = server.putSecret('app/denied', JSON.stringify({ voiceAgentToken: TOKEN }));
    denied.add('AKIDLOCAL');
    await expectSecretError(
      reader('app/denied').get(),
      new RegExp(`could not be read: User: AKIDLOCAL is not authorized to perform: secretsmanager:GetSecretValue on resource: ${arn}`),
    );
    expect(requests()).toBe(1);
  });

  it('does not cache a failure: the next read succeeds once the cause is fixed', async () => {
    const secrets = reader('app/later');
    await expectSecretError(secrets.get(), /not found/);
    server.putSecret('app/later', TOKEN);
    await expectSecretError(secrets.get(), /not valid JSON/);
    server.putSecret('app/later', JSON.stringify({ voiceAgentToken: TOKEN }));
    expect((await secrets.get()).voiceAgentToken).toBe(TOKEN);
    expect(requests()).toBe(3);
  });
});

describe('appSecrets()', () => {
  const saved = { ...process.env };
  afterEach(() => {
    process.env = { ...saved };
  });

  it('reads the secret named by the environment, once per environment', async () => {
    const arn = server.putSecret('app/from-env', JSON.stringify({ voiceAgentToken: TOKEN }));
    await jest.isolateModulesAsync(async () => {
      Object.assign(process.env, { APP_SECRET_ID: arn, SECRETS_MANAGER_ENDPOINT: endpoint, AWS_REGION: 'us-east-1', AWS_ACCESS_KEY_ID: 'AKIDLOCAL', AWS_SECRET_ACCESS_KEY: 'local' });
      const { appSecrets: fresh } = await import('../../functions/settings/secrets');
      expect((await fresh()).voiceAgentToken).toBe(TOKEN);
      expect((await fresh()).voiceAgentToken).toBe(TOKEN);
    });
    expect(requests()).toBe(1);
  });

  it('rejects clearly when APP_SECRET_ID is not set', async () => {
    delete process.env.APP_SECRET_ID;
    await expect(appSecrets()).rejects.toThrow(/^app secret not configured: APP_SECRET_ID: not set$/);
  });
});

/** The deployable bundle (`npm run build` first) on the local Lambda runtime: what init and invocations cost. */
describe('the authorizer bundle', () => {
  let rt: LambdaRuntime | undefined;
  afterEach(async () => rt?.stop());
  const logs: string[] = [];
  /**
   * Expects the environment's log lines to match, waiting for them: a worker's output reaches the runtime on its own
   * stream, which may deliver after the invocation's result (as CloudWatch Logs does after a Lambda returns).
   */
  const expectLogs = async (pattern: RegExp, timeoutMs = 5_000): Promise<void> => {
    const deadline = Date.now() + timeoutMs;
    while (!pattern.test(logs.join('\n')) && Date.now() < deadline) await new Promise((r) => setTimeout(r, 20));
    expect(logs.join('\n')).toMatch(pattern);
  };

  const start = async (secretId: string, provisionedConcurrency: number) => {
    logs.length = 0;
    rt = new LambdaRuntime({
      functions: [
        {
          name: AUTHORIZER.name,
          bundlePath: bundlePath(AUTHORIZER.name),
          timeoutSeconds: AUTHORIZER.timeoutSeconds,
          memoryMb: AUTHORIZER.memoryMb,
          provisionedConcurrency,
          environment: { APP_SECRET_ID: secretId, SECRETS_MANAGER_ENDPOINT: endpoint, AWS_ACCESS_KEY_ID: 'AKIDAUTHORIZER', AWS_SECRET_ACCESS_KEY: 'local', POWERTOOLS_TRACE_ENABLED: 'false' },
        },
      ],
      onLog: (_fn, _env, line) => void logs.push(line),
    });
    await rt.start();
    return rt;
  };
  const authorize = async (token: string) => {
    const r = await rt!.invoke(AUTHORIZER.name, { ...authorizerEvent, queryStringParameters: { token } });
    if (!r.ok) throw new Error(`${r.errorType}: ${r.errorMessage}`);
    return { effect: (r.payload as { policyDocument: { Statement: { Effect: string }[] } }).policyDocument.Statement[0]!.Effect, initDurationMs: r.initDurationMs };
  };

  it('reads the secret once, during init, then admits and refuses callers from its cache', async () => {
    const arn = server.putSecret('bundle/ok', JSON.stringify({ voiceAgentToken: TOKEN }));
    await start(arn, 1);
    expect(requests()).toBe(1); // the provisioned environment primed itself
    expect(await authorize(TOKEN)).toEqual({ effect: 'Allow', initDurationMs: undefined });
    expect(await authorize('wrong')).toMatchObject({ effect: 'Deny' });
    expect(requests()).toBe(1);
    await expectLogs(/connect refused/);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('admits a Twilio Media Stream whose X-Twilio-Signature signs the URL it connected to, and nothing forged', async () => {
    const twilioAuthToken = '9f3c5e1a7b2d4c6e8f0a1b3c5d7e9f1a';
    const arn = server.putSecret('bundle/twilio', JSON.stringify({ voiceAgentToken: TOKEN, twilioAuthToken }));
    await start(arn, 1);
    // Twilio's documented scheme, computed here independently of the product's helper: base64 HMAC-SHA1 of the URL.
    const sign = (key: string, url: string) => createHmac('sha1', key).update(url).digest('base64');
    const host = 'abcdef123.execute-api.us-east-1.amazonaws.com';
    const url = `wss://${host}/prod`;
    const connect = async (headers: Record<string, string>, query: Record<string, string> = {}) => {
      const event = {
        ...authorizerEvent,
        headers: { ...authorizerEvent.headers, Host: host, 'X-Forwarded-Proto': 'https', ...headers },
        queryStringParameters: query,
        requestContext: { ...authorizerEvent.requestContext, domainName: host, stage: 'prod' },
      };
      const r = await rt!.invoke(AUTHORIZER.name, event);
      if (!r.ok) throw new Error(`${r.errorType}: ${r.errorMessage}`);
      const p = r.payload as { policyDocument: { Statement: { Effect: string }[] }; context: { authenticatedBy: string } };
      return [p.policyDocument.Statement[0]!.Effect, p.context.authenticatedBy];
    };
    expect(await connect({ 'X-Twilio-Signature': sign(twilioAuthToken, url) })).toEqual(['Allow', 'twilio-signature']);
    // The signature covers the query string too.
    expect(await connect({ 'X-Twilio-Signature': sign(twilioAuthToken, `${url}?line=sales`) }, { line: 'sales' })).toEqual(['Allow', 'twilio-signature']);
    expect(await connect({ 'X-Twilio-Signature': sign(twilioAuthToken, url) }, { line: 'sales' })).toEqual(['Deny', 'none']);
    expect(await connect({ 'X-Twilio-Signature': sign('another-accounts-token', url) })).toEqual(['Deny', 'none']);
    expect(await connect({ 'X-Twilio-Signature': sign(twilioAuthToken, `wss://${host}/dev`) })).toEqual(['Deny', 'none']);
    expect(await connect({ 'X-Twilio-Signature': 'not-base64-at-all' })).toEqual(['Deny', 'none']);
    expect(await connect({})).toEqual(['Deny', 'none']);
    expect(await connect({}, { token: TOKEN })).toEqual(['Allow', 'token']);
    await expectLogs(/bad Twilio signature/);
    expect(logs.join('\n')).not.toContain(twilioAuthToken);
  });

  it('admits a browser token issued under the secret\'s token until it expires; tampered, expired or foreign ones are refused', async () => {
    const arn = server.putSecret('bundle/browser', JSON.stringify({ voiceAgentToken: TOKEN }));
    await start(arn, 1);
    const connect = async (token: string) => {
      const r = await rt!.invoke(AUTHORIZER.name, { ...authorizerEvent, queryStringParameters: { token } });
      if (!r.ok) throw new Error(`${r.errorType}: ${r.errorMessage}`);
      const p = r.payload as { policyDocument: { Statement: { Effect: string }[] }; context: { authenticatedBy: string } };
      return [p.policyDocument.Statement[0]!.Effect, p.context.authenticatedBy];
    };
    const fresh = issueCallerToken(TOKEN).token;
    expect(await connect(fresh)).toEqual(['Allow', 'browser-token']);
    const [v, exp, nonce, mac] = fresh.split('.');
    expect(await connect([v, String(Number(exp) + 3600), nonce, mac].join('.'))).toEqual(['Deny', 'none']);
    expect(await connect(issueCallerToken(TOKEN, { nowMs: Date.now() - 5 * 60_000 - 1000 }).token)).toEqual(['Deny', 'none']);
    // Issued under another environment's token, or under this one's before it was rotated.
    expect(await connect(issueCallerToken('tok-of-another-environment').token)).toEqual(['Deny', 'none']);
    await expectLogs(/browser token bad signature[\s\S]*browser token expired[\s\S]*browser token bad signature/);
    expect(logs.join('\n')).not.toContain(fresh);
    expect(logs.join('\n')).not.toContain(TOKEN);
  });

  it('refuses Twilio signatures when no Twilio auth token is configured', async () => {
    const arn = server.putSecret('bundle/no-twilio', JSON.stringify({ voiceAgentToken: TOKEN, twilioAuthToken: '' }));
    await start(arn, 1);
    const host = 'abcdef123.execute-api.us-east-1.amazonaws.com';
    const r = await rt!.invoke(AUTHORIZER.name, {
      ...authorizerEvent,
      headers: { Host: host, 'X-Forwarded-Proto': 'https', 'X-Twilio-Signature': createHmac('sha1', '').update(`wss://${host}/prod`).digest('base64') },
      queryStringParameters: {},
      requestContext: { ...authorizerEvent.requestContext, domainName: host, stage: 'prod' },
    });
    expect(r.ok && (r.payload as { policyDocument: { Statement: { Effect: string }[] } }).policyDocument.Statement[0]!.Effect).toBe('Deny');
    await expectLogs(/no Twilio auth token configured/);
  });

  it('still initializes when the secret cannot be read, and refuses callers with the reason logged', async () => {
    await start('bundle/missing', 1); // rejects if init failed
    expect(requests()).toBe(1);
    expect(await authorize(TOKEN)).toMatchObject({ effect: 'Deny' });
    await expectLogs(/app secret not read during init[\s\S]*app secret unavailable: refusing the caller/);
    await expectLogs(/"AppSecretErrors"/);
    // A secret created afterwards is picked up without a new environment: failures are not cached.
    server.putSecret('bundle/missing', JSON.stringify({ voiceAgentToken: TOKEN }));
    expect(await authorize(TOKEN)).toMatchObject({ effect: 'Allow' });
  });
});
