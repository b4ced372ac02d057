/** Handlers invoked in-process with the sample events of `events/` (captured from the local gateway). */
import type { Context } from 'aws-lambda';
import authorizerEvent from '../../events/authorizer.json';
import browserTokenEvent from '../../events/browser-token.json';
import fallbackEvent from '../../events/fallback.json';
import outboundCallEvent from '../../events/outbound-call.json';
import { issueCallerToken, verifyCallerToken } from '../../functions/access/caller-tokens';
import { SecretsManagerServer } from '../../local/secrets/secrets-manager-server';
import { TwilioRestServer } from '../../local/vendors/twilio-rest-server';

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

  it('allows a browser token issued under the secret\'s token until it expires, and says why it refuses one', async () => {
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'EXAMPLE-TOKEN' }));
    const authorize = async (token: string) => (await load())({ ...authorizerEvent, queryStringParameters: { token } } as never, context);
    const fresh = issueCallerToken('EXAMPLE-TOKEN').token;
    const allowed = await authorize(fresh);
    expect(allowed.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: authorizerEvent.methodArn });
    expect(allowed.context).toEqual({ authenticatedBy: 'browser-token' });
    // The long-lived token still works, and is told apart.
    expect((await authorize('EXAMPLE-TOKEN')).context).toEqual({ authenticatedBy: 'token' });

    const [v, exp, nonce, mac] = fresh.split('.');
    for (const [token, reason] of [
      [issueCallerToken('EXAMPLE-TOKEN', { nowMs: Date.now() - 301_000 }).token, 'browser token expired'],
      [[v, String(Number(exp) + 600), nonce, mac].join('.'), 'browser token bad signature'],
      [issueCallerToken('another-environments-token').token, 'browser token bad signature'],
      ['not-a-token', 'bad token'],
    ] as const) {
      capture();
      const denied = await authorize(token);
      expect(denied.policyDocument.Statement[0]?.Effect).toBe('Deny');
      expect(denied.context).toEqual({ authenticatedBy: 'none' });
      expect(lines().find((l) => l.message === 'connect refused')).toMatchObject({ reason });
      expect(out.join('\n')).not.toContain(token);
    }
    expect(out.join('\n')).not.toContain('EXAMPLE-TOKEN');
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

/**
 * A Lambda environment whose app secret `secretId` lives in a local Secrets Manager (returned, to put the secret in),
 * with `extra` settings; restored after the describe block.
 */
function appSecretEnvironment(secretId: string, accessKeyId: string, extra: () => Record<string, string> | Promise<Record<string, string>>) {
  const secrets = new SecretsManagerServer();
  const saved = { ...process.env };
  beforeAll(async () => {
    // The app secret reader is a per-environment singleton: this environment's is built from the settings below.
    jest.resetModules();
    Object.assign(process.env, {
      APP_SECRET_ID: secretId,
      SECRETS_MANAGER_ENDPOINT: await secrets.start(),
      SECRETS_MAX_AGE_SECONDS: '0',
      AWS_REGION: 'us-east-1',
      AWS_ACCESS_KEY_ID: accessKeyId,
      AWS_SECRET_ACCESS_KEY: 'local',
      ...(await extra()),
    });
  });
  afterAll(async () => {
    process.env = saved;
    await secrets.stop();
  });
  return secrets;
}

/** The browser page's token endpoint (POST /browser/token), with the app secret from the local Secrets Manager. */
describe('browser-token', () => {
  const SECRET = 'voice-agent/browser-test';
  const STREAM = 'wss://abcdef1234.execute-api.us-east-1.amazonaws.com/dev';
  const secrets = appSecretEnvironment(SECRET, 'AKIDBROWSERTOKEN', () => ({ VOICE_STREAM_URL: STREAM }));
  const invoke = async () => {
    const { handler } = await import('../../functions/handlers/browser-token');
    return handler(browserTokenEvent as never, context);
  };
  const lines = () => out.map((l) => JSON.parse(l) as Record<string, unknown>);
  beforeEach(capture);

  it('answers a 5-minute token under the secret\'s token, the stage URL, CORS and no-store; never the long-lived token', async () => {
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'EXAMPLE-TOKEN' }));
    const res = await invoke();
    expect(res).toMatchObject({
      statusCode: 200,
      headers: { 'content-type': 'application/json', 'cache-control': 'no-store', 'access-control-allow-origin': '*' },
    });
    expect(res.body).not.toContain('EXAMPLE-TOKEN');
    const body = JSON.parse(res.body!) as { token: string; expiresAt: number; url: string };
    expect(Object.keys(body).sort()).toEqual(['expiresAt', 'token', 'url']);
    expect(body.url).toBe(STREAM);
    expect(verifyCallerToken(body.token, 'EXAMPLE-TOKEN')).toEqual({ valid: true, expiresAt: body.expiresAt });
    expect(body.expiresAt - Date.now() / 1000).toBeGreaterThan(295);
    expect(lines().find((l) => l.message === 'browser token issued')).toMatchObject({ origin: 'http://localhost:8080', expiresAt: body.expiresAt });
    expect(lines().find((l) => l._aws)).toMatchObject({ BrowserTokensIssued: 1 });
    expect(out.join('\n')).not.toContain(body.token);
    expect(out.join('\n')).not.toContain('EXAMPLE-TOKEN');
  });

  it('answers 503 (readable cross-origin) when the secret cannot be read, and 500 without VOICE_STREAM_URL', async () => {
    secrets.deleteSecret(SECRET);
    expect(await invoke()).toMatchObject({ statusCode: 503, headers: { 'access-control-allow-origin': '*' } });
    expect(lines().find((l) => l._aws)).toMatchObject({ AppSecretErrors: 1 });
    secrets.putSecret(SECRET, JSON.stringify({ voiceAgentToken: 'EXAMPLE-TOKEN' }));
    delete process.env.VOICE_STREAM_URL;
    try {
      expect(await invoke()).toMatchObject({ statusCode: 500, body: JSON.stringify({ message: 'not configured' }) });
    } finally {
      process.env.VOICE_STREAM_URL = STREAM;
    }
  });
});

/** `POST /calls`: the agent calls someone, through Twilio's REST API (the local stand-in). */
describe('outbound-call', () => {
  const SECRET = 'voice-agent/outbound-test';
  const STREAM = 'wss://voice.example.com/agent';
  const FROM = '+12015550100';
  const accountSid = 'AC' + 'a1'.repeat(16);
  const authToken = 'b2'.repeat(16);
  const twilio = new TwilioRestServer({ accountSid, authToken, numbers: [FROM] });
  const secrets = appSecretEnvironment(SECRET, 'AKIDOUTBOUND', async () => ({ VOICE_STREAM_URL: STREAM, TWILIO_API_URL: await twilio.start() }));
  const configured = { voiceAgentToken: 'EXAMPLE-TOKEN', twilioAccountSid: accountSid, twilioAuthToken: authToken, twilioPhoneNumber: FROM };
  const invoke = async (change: { to?: unknown; authorization?: string | null; body?: string } = {}) => {
    const { handler } = await import('../../functions/handlers/outbound-call');
    const event = structuredClone(outboundCallEvent) as { headers: Record<string, string>; body: string };
    if (change.authorization === null) delete event.headers.authorization;
    else if (change.authorization !== undefined) event.headers.authorization = change.authorization;
    if (change.to !== undefined) event.body = JSON.stringify({ to: change.to });
    if (change.body !== undefined) event.body = change.body;
    return handler(event as never, context);
  };
  const lines = () => out.map((l) => JSON.parse(l) as Record<string, unknown>);

  afterAll(async () => twilio.stop());
  beforeEach(() => {
    capture();
    secrets.putSecret(SECRET, JSON.stringify(configured));
  });

  it('places the call from the line\'s number with TwiML that streams to the agent, and logs no number', async () => {
    const before = twilio.requests.length;
    const res = await invoke();
    expect(res.statusCode).toBe(201);
    const body = JSON.parse(res.body!) as { callSid: string; status: string };
    expect(body).toEqual({ callSid: expect.stringMatching(/^CA[0-9a-f]{32}$/), status: 'queued' });
    const created = twilio.requests.slice(before);
    expect(created).toHaveLength(1);
    expect(created[0]).toMatchObject({ method: 'POST', path: `/2010-04-01/Accounts/${accountSid}/Calls.json`, status: 201, params: { To: '+12015550123', From: FROM } });
    expect(created[0]!.params.Twiml).toContain(`<Connect><Stream url="${STREAM}">`);
    expect(lines().find((l) => l.message === 'outbound call placed')).toMatchObject({ callSid: body.callSid });
    expect(lines().find((l) => l._aws)).toMatchObject({ OutboundCallsPlaced: 1 });
    const logged = out.join('\n');
    for (const secret of ['+12015550123', FROM, authToken, 'EXAMPLE-TOKEN']) expect(logged).not.toContain(secret);
  });

  it.each([
    ['no Authorization header', { authorization: null }, 401, /Bearer <voiceAgentToken> required/],
    ['the wrong token', { authorization: 'Bearer NOT-THE-TOKEN' }, 401, /Bearer <voiceAgentToken> required/],
    ['a short-lived browser token scheme', { authorization: 'Basic RVhBTVBMRS1UT0tFTg==' }, 401, /Bearer/],
    ['a body that is not JSON', { body: 'to=+12015550123' }, 400, /body: \{"to"/],
    ['extra fields', { body: JSON.stringify({ to: '+12015550123', from: '+12015550199' }) }, 400, /body: \{"to"/],
    ['a number without its country code', { to: '2015550123' }, 400, /an E.164 number is expected/],
    ['a number that cannot exist', { to: '+12011230123' }, 400, /not a valid number/],
    ['a premium-rate number', { to: '+19002345678' }, 400, /premium-rate number: not dialled/],
  ])('refuses %s (%#) and dials nothing', async (_what, change, status, message) => {
    const before = twilio.requests.length;
    const res = await invoke(change as never);
    expect(res.statusCode).toBe(status);
    expect((JSON.parse(res.body!) as { message: string }).message).toMatch(message);
    expect(twilio.requests.length).toBe(before);
    expect(lines().find((l) => l._aws)).toMatchObject({ OutboundCallsRefused: 1 });
  });

  it('answers 503 without a Twilio account or a number to call from, and 502 with Twilio\'s code when Twilio refuses', async () => {
    for (const missing of ['twilioAccountSid', 'twilioPhoneNumber'] as const) {
      const { [missing]: _dropped, ...rest } = configured;
      secrets.putSecret(SECRET, JSON.stringify(rest));
      const res = await invoke();
      expect(res.statusCode).toBe(503);
      expect(res.body).toContain('outbound calls not configured');
    }
    // A number Twilio does not let this account call from.
    secrets.putSecret(SECRET, JSON.stringify({ ...configured, twilioPhoneNumber: '+12015550177' }));
    const refused = await invoke();
    expect(refused.statusCode).toBe(502);
    expect(JSON.parse(refused.body!)).toEqual({ message: 'Twilio did not place the call', twilioCode: 21210, twilioStatus: 400 });
    expect(out.join('\n')).not.toContain(authToken);
  });
});
