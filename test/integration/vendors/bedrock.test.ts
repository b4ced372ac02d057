/**
 * The unchanged `@aws-sdk/client-bedrock-runtime` (ConverseStream) against the local Bedrock Runtime stand-in
 * (local/vendors/bedrock/): every event the stream carries, every refusal and every fault, as the SDK decodes them.
 * If the stand-in's event-stream framing, headers or error shapes were wrong, the SDK would fail to parse them here.
 */
import {
  BedrockRuntimeClient,
  ConverseStreamCommand,
  type ConverseStreamCommandInput,
  type ConverseStreamOutput,
} from '@aws-sdk/client-bedrock-runtime';
import { FaultPlan } from '../../../local/vendors/behaviour';
import { BedrockRuntimeServer, MODEL_FAULTS, ZERO_MODEL_LATENCY, type ModelFault } from '../../../local/vendors/bedrock/server';
import type { ModelPolicy } from '../../../local/vendors/bedrock/policy';

const MODEL = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';
let server: BedrockRuntimeServer;
let policy: ModelPolicy;

beforeAll(async () => {
  server = new BedrockRuntimeServer({
    latency: ZERO_MODEL_LATENCY,
    policy: (input) => policy(input),
    faults: new FaultPlan<ModelFault>({}, Math.random, MODEL_FAULTS),
    models: [MODEL, 'anthropic.claude-3-haiku-20240307-v1:0'],
    isAllowed: (key, action, arn) => key !== 'local-denied' && action === 'bedrock:InvokeModelWithResponseStream' && arn.includes('claude'),
  });
  await server.start();
});
afterAll(() => server.close());
beforeEach(() => {
  server.faults.clear();
  server.latency = ZERO_MODEL_LATENCY;
  policy = ({ userText }) => ({ text: `You said ${userText}. Anything else?` });
});

const client = (accessKeyId = 'local-test') =>
  new BedrockRuntimeClient({ endpoint: server.url, region: 'us-east-1', credentials: { accessKeyId, secretAccessKey: 'x' }, maxAttempts: 1 });

const TOOLS: ConverseStreamCommandInput['toolConfig'] = {
  tools: [
    {
      toolSpec: {
        name: 'book_appointment',
        description: 'Books an appointment.',
        inputSchema: { json: { type: 'object', properties: { day: { type: 'string' }, time: { type: 'string' } }, required: ['day', 'time'] } },
      },
    },
  ],
};

function request(text: string, extra: Partial<ConverseStreamCommandInput> = {}): ConverseStreamCommandInput {
  return { modelId: MODEL, messages: [{ role: 'user', content: [{ text }] }], system: [{ text: 'You are a front desk.' }], ...extra };
}

async function events(input: ConverseStreamCommandInput, accessKeyId?: string, abortSignal?: AbortSignal): Promise<ConverseStreamOutput[]> {
  const out = await client(accessKeyId).send(new ConverseStreamCommand(input), { abortSignal });
  const seen: ConverseStreamOutput[] = [];
  for await (const event of out.stream!) seen.push(event);
  return seen;
}

/** Events collected until the stream throws; the error and what came before it. */
async function eventsUntilError(input: ConverseStreamCommandInput): Promise<{ seen: ConverseStreamOutput[]; error: unknown }> {
  const seen: ConverseStreamOutput[] = [];
  try {
    const out = await client().send(new ConverseStreamCommand(input));
    for await (const event of out.stream!) seen.push(event);
  } catch (error) {
    return { seen, error };
  }
  return { seen, error: undefined };
}

const kinds = (seen: ConverseStreamOutput[]) => seen.map((e) => Object.keys(e).find((k) => k !== '$unknown' && (e as unknown as Record<string, unknown>)[k] !== undefined));
const textOf = (seen: ConverseStreamOutput[]) => seen.map((e) => e.contentBlockDelta?.delta?.text ?? '').join('');

describe('a text reply', () => {
  it('streams messageStart, text deltas, contentBlockStop, messageStop end_turn and metadata with usage', async () => {
    const seen = await events(request('what are your hours'));
    const k = kinds(seen);
    expect(k[0]).toBe('messageStart');
    expect(seen[0]!.messageStart).toEqual({ role: 'assistant' });
    expect(k.filter((x) => x === 'contentBlockDelta').length).toBeGreaterThan(3);
    expect(k.slice(-3)).toEqual(['contentBlockStop', 'messageStop', 'metadata']);
    expect(k).not.toContain('contentBlockStart'); // the service starts text blocks with their first delta
    expect(textOf(seen)).toBe('You said what are your hours. Anything else?');
    expect(seen.at(-2)!.messageStop).toEqual({ stopReason: 'end_turn' });
    const usage = seen.at(-1)!.metadata!.usage!;
    expect(usage.inputTokens).toBeGreaterThan(0);
    // 4 characters a token, counted per word as streamed: You·(1) said·(2) what·(2) are·(1) your·(2) hours.·(2) Anything·(3) else?(2)
    expect(usage.outputTokens).toBe(15);
    expect(usage.totalTokens).toBe(usage.inputTokens! + usage.outputTokens!);
    expect(seen.at(-1)!.metadata!.metrics!.latencyMs).toBeGreaterThanOrEqual(0);
  });

  it('cuts the text at maxTokens and says max_tokens', async () => {
    policy = () => ({ text: 'one two three four five six seven eight nine ten eleven twelve' });
    const seen = await events(request('count', { inferenceConfig: { maxTokens: 4 } }));
    expect(seen.find((e) => e.messageStop)!.messageStop!.stopReason).toBe('max_tokens');
    expect(textOf(seen)).toBe('one two three '); // 1 + 1 + 2 tokens; 'four ' would make 6
    expect(seen.at(-1)!.metadata!.usage!.outputTokens).toBeLessThanOrEqual(4);
  });

  it('waits the first-token delay of its latency model before the first delta', async () => {
    server.latency = { firstToken: { kind: 'fixed', ms: 250 }, tokensPerSecond: 1000 };
    const started = performance.now();
    const out = await client().send(new ConverseStreamCommand(request('hello')));
    let firstDelta = 0;
    for await (const event of out.stream!) if (event.contentBlockDelta && !firstDelta) firstDelta = performance.now() - started;
    expect(firstDelta).toBeGreaterThanOrEqual(240);
  });
});

describe('tool use', () => {
  it('streams a toolUse block (start with id and name, input JSON in pieces, stop) and stops with tool_use; the tool result goes back', async () => {
    policy = ({ toolResults }) =>
      toolResults.length > 0
        ? { text: `Booked: ${JSON.stringify(toolResults[0]!.content)} (${toolResults[0]!.name})` }
        : { text: 'Let me book that.', toolUses: [{ name: 'book_appointment', input: { day: 'tuesday', time: '15:00', note: 'a longer note so the input arrives in pieces' } }] };
    const first = await events(request('book tuesday at three', { toolConfig: TOOLS }));
    expect(kinds(first)).toEqual([
      'messageStart',
      ...Array(4).fill('contentBlockDelta'),
      'contentBlockStop',
      'contentBlockStart',
      ...Array(kinds(first).filter((k) => k === 'contentBlockDelta').length - 4).fill('contentBlockDelta'),
      'contentBlockStop',
      'messageStop',
      'metadata',
    ]);
    const start = first.find((e) => e.contentBlockStart)!.contentBlockStart!;
    expect(start.contentBlockIndex).toBe(1);
    expect(start.start!.toolUse).toEqual({ toolUseId: expect.stringMatching(/^tooluse_[A-Za-z0-9_-]{22}$/), name: 'book_appointment' });
    const pieces = first.filter((e) => e.contentBlockDelta?.contentBlockIndex === 1).map((e) => e.contentBlockDelta!.delta!.toolUse!.input!);
    expect(pieces.length).toBeGreaterThan(1);
    const input = JSON.parse(pieces.join('')) as unknown;
    expect(input).toEqual({ day: 'tuesday', time: '15:00', note: 'a longer note so the input arrives in pieces' });
    expect(first.find((e) => e.messageStop)!.messageStop!.stopReason).toBe('tool_use');

    const toolUseId = start.start!.toolUse!.toolUseId!;
    const second = await events({
      ...request('', { toolConfig: TOOLS }),
      messages: [
        { role: 'user', content: [{ text: 'book tuesday at three' }] },
        { role: 'assistant', content: [{ text: 'Let me book that.' }, { toolUse: { toolUseId, name: 'book_appointment', input: input as never } }] },
        { role: 'user', content: [{ toolResult: { toolUseId, content: [{ json: { booked: true } }], status: 'success' } }] },
      ],
    });
    expect(textOf(second)).toBe('Booked: {"booked":true} (book_appointment)');
    expect(server.requests.at(-1)!.body!.messages).toHaveLength(3);
  });
});

describe('refusals, in the service\'s shapes', () => {
  const refusal = (input: ConverseStreamCommandInput, key?: string) => events(input, key).then(() => undefined, (e: unknown) => e as Error & { $metadata: { httpStatusCode: number } });

  it('a conversation that starts with the assistant: ValidationException 400', async () => {
    const e = await refusal({ modelId: MODEL, messages: [{ role: 'assistant', content: [{ text: 'hi' }] }] });
    expect(e).toMatchObject({ name: 'ValidationException', $metadata: { httpStatusCode: 400 } });
    expect(e!.message).toMatch(/must start with a user message/);
  });

  it('roles that do not alternate, a tool result with no toolConfig, a tool result for no tool use: ValidationException', async () => {
    const two = await refusal({ modelId: MODEL, messages: [{ role: 'user', content: [{ text: 'a' }] }, { role: 'user', content: [{ text: 'b' }] }] });
    expect(two!.message).toMatch(/alternate between user and assistant/);
    const noConfig = await refusal({
      modelId: MODEL,
      messages: [{ role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_x', content: [{ text: 'x' }] } }] }],
    });
    expect(noConfig!.message).toMatch(/toolConfig field must be defined/);
    const orphan = await refusal({ ...request('', { toolConfig: TOOLS }), messages: [{ role: 'user', content: [{ toolResult: { toolUseId: 'tooluse_x', content: [{ text: 'x' }] } }] }] });
    expect(orphan).toMatchObject({ name: 'ValidationException' });
    expect(orphan!.message).toMatch(/exceeds the number of toolUse blocks/);
  });

  it('an unknown model: ValidationException; a temperature above 1: ValidationException naming the field', async () => {
    expect(await refusal({ ...request('hi'), modelId: 'anthropic.claude-unknown-v9' })).toMatchObject({ name: 'ValidationException', message: 'The provided model identifier is invalid.' });
    const hot = await refusal(request('hi', { inferenceConfig: { temperature: 1.5 } }));
    expect(hot).toMatchObject({ name: 'ValidationException' });
    expect(hot!.message).toMatch(/inferenceConfig\.temperature/);
  });

  it('a key IAM does not allow on the model: AccessDeniedException 403 naming the action and the inference profile ARN', async () => {
    const e = await refusal(request('hi'), 'local-denied');
    expect(e).toMatchObject({ name: 'AccessDeniedException', $metadata: { httpStatusCode: 403 } });
    expect(e!.message).toContain('bedrock:InvokeModelWithResponseStream on resource: arn:aws:bedrock:us-east-1:000000000000:inference-profile/' + MODEL);
    expect(server.modelArn('anthropic.claude-3-haiku-20240307-v1:0')).toBe('arn:aws:bedrock:us-east-1::foundation-model/anthropic.claude-3-haiku-20240307-v1:0');
  });
});

describe('faults', () => {
  it.each([
    ['http-429', 'ThrottlingException', 429],
    ['http-500', 'InternalServerException', 500],
    ['http-503', 'ServiceUnavailableException', 503],
  ] as const)('%s: the SDK throws %s (HTTP %i) before any event', async (fault, name, status) => {
    server.faults.next(fault);
    const { seen, error } = await eventsUntilError(request('hi'));
    expect(seen).toEqual([]);
    expect(error).toMatchObject({ name, $metadata: { httpStatusCode: status } });
  });

  it.each([
    ['stream-error', 'ModelStreamErrorException'],
    ['stream-throttle', 'ThrottlingException'],
  ] as const)('%s: a first delta, then the SDK throws %s from the stream', async (fault, name) => {
    server.faults.next(fault);
    const { seen, error } = await eventsUntilError(request('hi there'));
    expect(kinds(seen)).toEqual(['messageStart', 'contentBlockDelta']);
    expect(error).toMatchObject({ name });
  });

  it('drop: the stream is reset after its first delta (what was in flight may be lost), and the SDK throws', async () => {
    server.faults.next('drop');
    const { seen, error } = await eventsUntilError(request('hi there'));
    expect(kinds(seen)[0]).toBe('messageStart');
    expect(kinds(seen).slice(1).every((k) => k === 'contentBlockDelta')).toBe(true);
    expect(seen.length).toBeLessThanOrEqual(2);
    expect((error as Error).message).toMatch(/NGHTTP2_INTERNAL_ERROR/); // an error of node's http2 (another realm than jest's Error)
  });

  // The SDK ends the iteration on abort without an error: a caller tells a stall from an answer by the missing
  // messageStop, and must keep its own clock (nothing in the SDK times out a stream that went quiet).
  it('stall: a first delta, then nothing until the caller gives up; no messageStop', async () => {
    server.faults.next('stall');
    const abort = new AbortController();
    const seen: ConverseStreamOutput[] = [];
    const out = await client().send(new ConverseStreamCommand(request('hi there')), { abortSignal: abort.signal });
    const timer = setTimeout(() => abort.abort(), 300);
    const error = await (async () => {
      for await (const event of out.stream!) seen.push(event);
    })().then(() => undefined, (e: unknown) => e);
    clearTimeout(timer);
    expect(abort.signal.aborted).toBe(true);
    expect(kinds(seen)).toEqual(['messageStart', 'contentBlockDelta']);
    expect(error === undefined || error instanceof Error).toBe(true);
  });

  it('timeout: no answer at all until the caller gives up', async () => {
    server.faults.next('timeout');
    const abort = new AbortController();
    const timer = setTimeout(() => abort.abort(), 300);
    const error = await events(request('hi'), undefined, abort.signal).then(() => undefined, (e: unknown) => e);
    clearTimeout(timer);
    expect(error).toMatchObject({ name: 'AbortError' });
  });

  it('malformed: a tool call whose input is not JSON, or one naming a tool that was not offered', async () => {
    policy = () => ({ text: '', toolUses: [{ name: 'book_appointment', input: { day: 'monday', time: '09:00' } }] });
    server.faults.next('malformed');
    const cut = await events(request('book monday at nine', { toolConfig: TOOLS }));
    const input = cut.filter((e) => e.contentBlockDelta?.delta?.toolUse).map((e) => e.contentBlockDelta!.delta!.toolUse!.input).join('');
    expect(() => JSON.parse(input)).toThrow();

    policy = () => ({ text: 'Sure.' });
    server.faults.next('malformed');
    const foreign = await events(request('hello', { toolConfig: TOOLS }));
    expect(foreign.find((e) => e.contentBlockStart)!.contentBlockStart!.start!.toolUse!.name).toBe('no_such_tool');
  });

  it('counts every fault it injected, by kind', () => {
    expect(Object.keys(server.stats.faults).sort()).toEqual([...MODEL_FAULTS].sort());
  });
});
