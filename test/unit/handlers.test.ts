/** Handlers invoked in-process with the sample events of `events/` (captured from the local gateway). */
import type { Context } from 'aws-lambda';
import authorizerEvent from '../../events/authorizer.json';
import fallbackEvent from '../../events/fallback.json';

// Set before the handlers (and their Powertools instances) load: output then goes through the global console.
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'false'; // dev mode would disable metrics otherwise

const context = { functionName: 'test', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 } as unknown as Context;

describe('authorizer', () => {
  const load = async () => (await import('../../functions/handlers/authorizer')).handler;
  afterEach(() => delete process.env.VOICE_AGENT_TOKEN);

  it('allows the configured token and denies any other', async () => {
    const handler = await load();
    process.env.VOICE_AGENT_TOKEN = 'EXAMPLE-TOKEN';
    const allowed = await handler(authorizerEvent as never, context);
    expect(allowed.policyDocument.Statement[0]).toMatchObject({ Effect: 'Allow', Resource: authorizerEvent.methodArn });
    process.env.VOICE_AGENT_TOKEN = 'another-token';
    expect((await handler(authorizerEvent as never, context)).policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
  });

  it('denies everyone when no token is configured', async () => {
    const handler = await load();
    expect((await handler(authorizerEvent as never, context)).policyDocument.Statement[0]).toMatchObject({ Effect: 'Deny' });
  });
});

describe('$default', () => {
  const invoke = async (body: string | undefined, isBase64Encoded = false) => {
    const { handler } = await import('../../functions/handlers/fallback');
    return handler({ ...fallbackEvent, body, isBase64Encoded } as never, context);
  };
  // POWERTOOLS_DEV routes Logger and Metrics output through the global console, where the test can read it.
  let out: string[] = [];
  const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => jest.spyOn(console, m));
  beforeEach(() => {
    out = [];
    for (const spy of spies) spy.mockImplementation(((line: string) => void out.push(String(line))) as never);
  });
  afterAll(() => {
    for (const spy of spies) spy.mockRestore();
  });

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
