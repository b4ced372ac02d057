/** Handlers invoked in-process with the sample events of `events/` (captured from the local gateway). */
import type { Context } from 'aws-lambda';
import authorizerEvent from '../../events/authorizer.json';
import fallbackEvent from '../../events/fallback.json';
import { SecretsManagerServer } from '../../local/secrets/secrets-manager-server';

// Set before the handlers (and their Powertools instances) load: output then goes through the global console.
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'false'; // dev mode would disable metrics otherwise

const context = { functionName: 'test', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 } as unknown as Context;

// POWERTOOLS_DEV routes Logger and Metrics output through the global console, where the tests can read it.
let out: string[] = [];
const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => jest.spyOn(console, m));
function capture() {
  out = [];
  for (const spy of spies) spy.mockImplementation(((line: string) => void out.push(String(line))) as never);
}
afterAll(() => {
  for (const spy of spies) spy.mockRestore();
});

/** The caller token lives in the app secret, served here by the local Secrets Manager the stack runs. */
describe('authorizer', () => {
  const load = async () => (await import('../../functions/handlers/authorizer')).handler;
  const SECRET = 'voice-agent/test';
  const denied = new Set<string>();
  const secrets = new SecretsManagerServer({ isAllowed: (akid) => !denied.has(akid) });
  const saved = { ...process.env };
  const effect = async () => (await (await load())(authorizerEvent as never, context)).policyDocument.Statement[0]?.Effect;
  const lines = () => out.map((l) => JSON.parse(l) as Record<string, unknown>);

  beforeAll(async () => {
    Object.assign(process.env, {
      APP_SECRET_ID: SECRET, // by name: the 'missing' case deletes and recreates it, which gives it a new ARN
      SECRETS_MANAGER_ENDPOINT: await secrets.start(),
      SECRETS_MAX_AGE_SECONDS: '0', // read on every invocation, so each test's secret counts
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: 'AKIDAUTHORIZER',
      AWS_SECRET_ACCESS_KEY: 'local',
    });
  });
  afterAll(async () => {
    process.env = saved;
    await secrets.stop();
  });
  beforeEach(() => {
    capture();
    denied.clear();
  });

  it("allows the secret's token and denies any other", async () => {
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'EXAMPLE-TOKEN' }));
    const allowed = await (await load())(authorizerEvent as never, context);
    expect(allowed.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: authorizerEvent.methodArn });
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'another-token' }));
    expect(await effect()).toBe('Deny');
    expect(lines().find((l) => l._aws)).toMatchObject({ ConnectsRefused: 1 });
    expect(out.join('\n')).not.toContain('another-token');
  });

  it.each([
    ['missing', () => secrets.deleteSecret(SECRET), /not found/],
    ['malformed', () => secrets.putSecret(SECRET, 'EXAMPLE-TOKEN'), /not valid JSON/],
    ['without voiceAgentToken', () => secrets.putSecret(SECRET, JSON.stringify({ deepgramApiKey: 'EXAMPLE-TOKEN' })), /voiceAgentToken/],
    ['denied to the function', () => denied.add('AKIDAUTHORIZER'), /AKIDAUTHORIZER is not authorized to perform: secretsmanager:GetSecretValue/],
  ])('denies every caller when the secret is %s, logging why without the value', async (_case, breakIt, reason) => {
    breakIt();
    expect(await effect()).toBe('Deny');
    expect(lines().find((l) => l.level === 'ERROR')).toMatchObject({ message: 'app secret unavailable: refusing the caller', error: expect.stringMatching(reason) });
    expect(lines().find((l) => l._aws)).toMatchObject({ AppSecretErrors: 1 });
    expect(out.join('\n')).not.toContain('EXAMPLE-TOKEN');
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'EXAMPLE-TOKEN' }));
  });
});

describe('$default', () => {
  const invoke = async (body: string | undefined, isBase64Encoded = false) => {
    const { handler } = await import('../../functions/handlers/fallback');
    return handler({ ...fallbackEvent, body, isBase64Encoded } as never, context);
  };
  beforeEach(capture);

  it("accepts Twilio's connected message", async () => {
    expect(JSON.parse(fallbackEvent.body).event).toBe('connected');
    expect(await invoke(fallbackEvent.body)).toEqual({ statusCode: 200 });
  });

  it.each([
    ['an unknown event', '{"event":"hello"}', "unknown event 'hello'"],
    ['malformed JSON', '{"event":', 'malformed JSON'],
    ['a binary frame', Buffer.from([0, 1, 2]).toString('base64'), 'binary frame'],
    ['no event', '{"foo":1}', 'message has no event'],
  ])('refuses %s with a logged reason and an InvalidMessages metric', async (_name, body, reason) => {
    const result = await invoke(body, reason === 'binary frame');
    expect(result).toMatchObject({ statusCode: 400 });
    const lines = out.map((l) => JSON.parse(l));
    expect(lines.find((l) => l.message === 'invalid message')).toMatchObject({ reason: expect.stringContaining(reason), level: 'WARN' });
    expect(lines.find((l) => l._aws)).toMatchObject({ InvalidMessages: 1 });
  });
});
