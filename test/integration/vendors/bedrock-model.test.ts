/**
 * The product's Bedrock adapter (functions/providers/bedrock/converse-stream.ts, the official client unchanged)
 * against the local Bedrock Runtime stand-in: ModelEvents out of every kind of stream, and its failure policy —
 * retried only before anything was yielded, its own clock for a model that goes quiet, every failure a ModelError.
 */
import { ModelError, type ModelEvent, type ModelRequest } from '../../../functions/domain/language-model';
import { BedrockLanguageModel } from '../../../functions/providers/bedrock/converse-stream';
import { BedrockRuntimeServer, ZERO_MODEL_LATENCY } from '../../../local/vendors/bedrock/server';
import type { ModelPolicy } from '../../../local/vendors/bedrock/policy';

const MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
let server: BedrockRuntimeServer;
let policy: ModelPolicy;

beforeAll(async () => {
  process.env.AWS_ACCESS_KEY_ID ??= 'local-test';
  process.env.AWS_SECRET_ACCESS_KEY ??= 'x';
  server = new BedrockRuntimeServer({ latency: ZERO_MODEL_LATENCY, policy: (input) => policy(input), models: [MODEL] });
  await server.start();
});
afterAll(() => server.close());
beforeEach(() => {
  server.faults.clear();
  server.latency = ZERO_MODEL_LATENCY;
  policy = ({ userText }) => ({ text: `You said ${userText}.` });
});

const model = (options: Partial<ConstructorParameters<typeof BedrockLanguageModel>[0]> = {}) =>
  new BedrockLanguageModel({ modelId: MODEL, region: 'us-east-1', endpoint: server.url, firstEventMs: 400, idleMs: 300, ...options });

const TOOL = { name: 'book_appointment', description: 'Books.', inputSchema: { type: 'object', properties: { day: { type: 'string' } } } };
const request = (text: string, tools = [TOOL]): ModelRequest => ({
  system: 'You are a front desk.',
  messages: [{ role: 'user', content: [{ text }] }],
  tools,
  maxTokens: 200,
  temperature: 0.2,
});

async function collect(m: BedrockLanguageModel, req: ModelRequest, signal?: AbortSignal): Promise<{ events: ModelEvent[]; error?: ModelError }> {
  const events: ModelEvent[] = [];
  try {
    for await (const e of m.stream(req, { signal })) events.push(e);
  } catch (error) {
    return { events, error: error as ModelError };
  }
  return { events };
}

const requestsSince = (before: number) => server.requests.length - before;

it('text as it arrives, then the stop reason and the usage', async () => {
  const { events, error } = await collect(model(), request('hello there'));
  expect(error).toBeUndefined();
  const text = events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text);
  expect(text.length).toBeGreaterThan(1);
  expect(text.join('')).toBe('You said hello there.');
  expect(events.at(-2)).toEqual({ type: 'stop', reason: 'end_turn' });
  expect(events.at(-1)).toMatchObject({ type: 'usage', inputTokens: expect.any(Number), outputTokens: expect.any(Number) });
  const sent = server.requests.at(-1)!.body!;
  expect(sent.system).toEqual([{ text: 'You are a front desk.' }]);
  expect(sent.inferenceConfig).toEqual({ maxTokens: 200, temperature: 0.2 });
  expect(sent.toolConfig!.tools[0]!.toolSpec.name).toBe('book_appointment');
});

it('a tool call once its input is complete, parsed; a malformed one keeps the raw input and no parsed value', async () => {
  policy = () => ({ text: 'One moment.', toolUses: [{ name: 'book_appointment', input: { day: 'tuesday', time: '15:00' } }] });
  const { events } = await collect(model(), request('book tuesday'));
  const use = events.find((e) => e.type === 'toolUse');
  expect(use).toEqual({ type: 'toolUse', toolUseId: expect.stringMatching(/^tooluse_/), name: 'book_appointment', input: { day: 'tuesday', time: '15:00' }, raw: '{"day":"tuesday","time":"15:00"}' });
  expect(events.find((e) => e.type === 'stop')).toEqual({ type: 'stop', reason: 'tool_use' });

  server.faults.next('malformed');
  const bad = (await collect(model(), request('book tuesday'))).events.find((e) => e.type === 'toolUse') as Extract<ModelEvent, { type: 'toolUse' }>;
  expect(bad.input).toBeUndefined();
  expect(bad.raw).toMatch(/^\{"day":"tuesday"/);
});

it('a tool result goes back as the service expects it (JSON content, status)', async () => {
  policy = ({ toolResults }) => ({ text: `Result ${JSON.stringify(toolResults[0]?.content)} ${toolResults[0]?.status}` });
  const req: ModelRequest = {
    ...request(''),
    messages: [
      { role: 'user', content: [{ text: 'book tuesday' }] },
      { role: 'assistant', content: [{ toolUse: { toolUseId: 'tooluse_a', name: 'book_appointment', input: { day: 'tuesday' } } }] },
      { role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_a', content: { booked: false, reason: 'closed' }, status: 'error' } }] },
    ],
  };
  const { events, error } = await collect(model(), req);
  expect(error).toBeUndefined();
  expect(events.filter((e) => e.type === 'text').map((e) => (e as { text: string }).text).join('')).toBe('Result {"booked":false,"reason":"closed"} error');
});

describe('failures', () => {
  it('a throttle before anything was yielded is tried again once, and the answer comes', async () => {
    const before = server.requests.length;
    server.faults.next('http-429');
    const { events, error } = await collect(model(), request('hi'));
    expect(error).toBeUndefined();
    expect(events.some((e) => e.type === 'text')).toBe(true);
    expect(requestsSince(before)).toBe(2);
  });

  it('throttled twice with one retry: ModelError throttled', async () => {
    server.faults.next('http-429', 2);
    const { error } = await collect(model(), request('hi'));
    expect(error).toBeInstanceOf(ModelError);
    expect(error).toMatchObject({ kind: 'throttled', retryable: true });
  });

  it('a refusal (unknown model) is not tried again: ModelError rejected', async () => {
    const before = server.requests.length;
    const { error } = await collect(model({ modelId: 'anthropic.unknown-v1' }), request('hi'));
    expect(error).toMatchObject({ kind: 'rejected', retryable: false });
    expect(error!.message).toMatch(/ValidationException: The provided model identifier is invalid/);
    expect(requestsSince(before)).toBe(1);
  });

  it('an error mid-stream after text was yielded is not tried again: ModelError unavailable', async () => {
    const before = server.requests.length;
    server.faults.next('stream-error');
    const { events, error } = await collect(model(), request('hi there'));
    expect(events.filter((e) => e.type === 'text')).toHaveLength(1);
    expect(error).toMatchObject({ kind: 'unavailable' });
    expect(error!.message).toMatch(/ModelStreamErrorException/);
    expect(requestsSince(before)).toBe(1);
  });

  it('no answer within firstEventMs: the attempt is abandoned and tried again', async () => {
    const before = server.requests.length;
    server.faults.next('timeout');
    const { events, error } = await collect(model(), request('hi'));
    expect(error).toBeUndefined();
    expect(events.some((e) => e.type === 'stop')).toBe(true);
    expect(requestsSince(before)).toBe(2);
  });

  it('a stream that goes quiet after its first text: ModelError timeout after idleMs, not tried again', async () => {
    const before = server.requests.length;
    server.faults.next('stall');
    const started = performance.now();
    const { events, error } = await collect(model(), request('hi there'));
    expect(events.filter((e) => e.type === 'text')).toHaveLength(1);
    expect(error).toMatchObject({ kind: 'timeout' });
    expect(error!.message).toMatch(/went quiet/);
    expect(performance.now() - started).toBeGreaterThanOrEqual(290);
    expect(requestsSince(before)).toBe(1);
  });

  it('a caller who aborts gets a ModelError at once, not an answer and not a retry', async () => {
    server.latency = { firstToken: { kind: 'fixed', ms: 200 }, tokensPerSecond: 1000 };
    const before = server.requests.length;
    const abort = new AbortController();
    setTimeout(() => abort.abort(), 50);
    const { error } = await collect(model(), request('hi'), abort.signal);
    expect(error).toBeInstanceOf(ModelError);
    expect(requestsSince(before)).toBeLessThanOrEqual(1);
  });
});
