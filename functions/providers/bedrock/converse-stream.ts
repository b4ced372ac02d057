/**
 * The language model on Amazon Bedrock, through the official client's ConverseStream: a ModelRequest becomes a
 * Converse request (system prompt, conversation, tools, inference configuration), the response stream becomes
 * ModelEvents (text deltas as they arrive, each tool call once its input is complete, the stop reason, usage).
 *
 * Failures: a throttle, a service error or a silent model before anything was yielded is tried again (`retries`,
 * with backoff); once text has been yielded nothing is retried, since the caller may already be hearing it. The
 * SDK's own retries are off (maxAttempts 1) so that this policy, and the turn's deadline, are the only ones. The SDK
 * does not time out a stream that went quiet (an abort ends its iteration without an error), so the clock is kept
 * here: `firstEventMs` to the first event, `idleMs` between events. Every failure is a ModelError.
 */
import {
  BedrockRuntimeClient,
  ConverseStreamCommand,
  type ContentBlock,
  type ConverseStreamCommandInput,
  type Message,
  type ToolResultContentBlock,
} from '@aws-sdk/client-bedrock-runtime';
import { ModelError, type LanguageModel, type ModelContent, type ModelEvent, type ModelRequest } from '../../domain/language-model';
import { backoffMs, pause } from '../retry';

export interface BedrockModelOptions {
  /** A model id, inference profile id or ARN. */
  readonly modelId: string;
  /** Default: the SDK's (the function's region). */
  readonly region?: string;
  /** A local stand-in's URL; default Bedrock Runtime's endpoint for the region. */
  readonly endpoint?: string;
  /** Attempts after the first, before anything was yielded. Default 1. */
  readonly retries?: number;
  /** Longest wait for the first event of an attempt. Default 3000 ms. */
  readonly firstEventMs?: number;
  /** Longest silence between two events once the stream has started. Default 2000 ms. */
  readonly idleMs?: number;
  /** The client (tests, or one shared by several models); default one built from region and endpoint. */
  readonly client?: BedrockRuntimeClient;
}

const NOT_RETRYABLE = new Set(['ValidationException', 'AccessDeniedException', 'ResourceNotFoundException', 'UnrecognizedClientException']);

export class BedrockLanguageModel implements LanguageModel {
  readonly name: string;
  private readonly client: BedrockRuntimeClient;

  constructor(private readonly options: BedrockModelOptions) {
    this.name = `bedrock:${options.modelId}`;
    this.client =
      options.client ??
      new BedrockRuntimeClient({ maxAttempts: 1, ...(options.region ? { region: options.region } : {}), ...(options.endpoint ? { endpoint: options.endpoint } : {}) });
  }

  async *stream(request: ModelRequest, options: { readonly signal?: AbortSignal } = {}): AsyncIterable<ModelEvent> {
    const retries = this.options.retries ?? 1;
    for (let attempt = 0; ; attempt++) {
      let yielded = false;
      try {
        for await (const event of this.attempt(request, options.signal)) {
          yielded = true;
          yield event;
        }
        return;
      } catch (err) {
        const error = this.toModelError(err);
        if (yielded || !error.retryable || attempt >= retries || options.signal?.aborted) throw error;
        await pause(backoffMs(attempt, 100, { capMs: 1000, jitter: [0.5, 1] }), options.signal);
      }
    }
  }

  /**
   * Readies the client at init (credentials, signing, the TLS and HTTP/2 connection) with a request the service refuses
   * before any model runs (a conversation with no message: ValidationException), so no token is spent. Never throws.
   */
  async warm(): Promise<void> {
    try {
      await this.client.send(new ConverseStreamCommand({ modelId: this.options.modelId, messages: [] }), { abortSignal: AbortSignal.timeout(3000) });
    } catch {
      // expected: the refusal is the point
    }
  }

  private async *attempt(request: ModelRequest, signal: AbortSignal | undefined): AsyncIterable<ModelEvent> {
    const abort = new AbortController();
    const onAbort = () => abort.abort(signal?.reason);
    signal?.addEventListener('abort', onAbort, { once: true });
    let silent: 'first' | 'idle' | undefined;
    let timer: NodeJS.Timeout | undefined;
    const arm = (which: 'first' | 'idle') => {
      clearTimeout(timer);
      const ms = which === 'first' ? (this.options.firstEventMs ?? 3000) : (this.options.idleMs ?? 2000);
      timer = setTimeout(() => {
        silent = which;
        abort.abort();
      }, ms);
    };
    const tools = new Map<number, { toolUseId: string; name: string; input: string }>();
    let stopped = false;
    try {
      arm('first');
      const output = await this.client.send(new ConverseStreamCommand(toConverse(this.options.modelId, request)), { abortSignal: abort.signal });
      for await (const event of output.stream ?? []) {
        arm('idle');
        if (event.contentBlockStart?.start?.toolUse) {
          const { toolUseId = '', name = '' } = event.contentBlockStart.start.toolUse;
          tools.set(event.contentBlockStart.contentBlockIndex ?? 0, { toolUseId, name, input: '' });
        } else if (event.contentBlockDelta?.delta) {
          const { delta, contentBlockIndex = 0 } = event.contentBlockDelta;
          if (delta.text !== undefined) yield { type: 'text', text: delta.text };
          else if (delta.toolUse?.input !== undefined) {
            const tool = tools.get(contentBlockIndex);
            if (tool) tool.input += delta.toolUse.input;
          }
        } else if (event.contentBlockStop) {
          const tool = tools.get(event.contentBlockStop.contentBlockIndex ?? 0);
          if (tool) yield { type: 'toolUse', toolUseId: tool.toolUseId, name: tool.name, input: parseInput(tool.input), raw: tool.input };
        } else if (event.messageStop) {
          stopped = true;
          yield { type: 'stop', reason: event.messageStop.stopReason ?? 'end_turn' };
        } else if (event.metadata?.usage) {
          yield { type: 'usage', inputTokens: event.metadata.usage.inputTokens ?? 0, outputTokens: event.metadata.usage.outputTokens ?? 0 };
        }
      }
      if (silent) throw new ModelError(this.name, 'timeout', silent === 'first' ? 'no answer from the model in time' : 'the model stream went quiet');
      if (signal?.aborted) throw new ModelError(this.name, 'timeout', 'aborted by the caller', { retryable: false });
      if (!stopped) throw new ModelError(this.name, 'malformed', 'the stream ended without messageStop');
    } catch (err) {
      if (err instanceof ModelError) throw err;
      if (silent) throw new ModelError(this.name, 'timeout', silent === 'first' ? 'no answer from the model in time' : 'the model stream went quiet', { cause: err });
      throw err;
    } finally {
      clearTimeout(timer);
      signal?.removeEventListener('abort', onAbort);
      abort.abort(); // an abandoned iteration (the caller stopped reading) closes its HTTP/2 stream
    }
  }

  private toModelError(err: unknown): ModelError {
    if (err instanceof ModelError) return err;
    const name = (err as Error)?.name ?? 'Error';
    const message = `${name}: ${(err as Error)?.message ?? String(err)}`;
    if (name === 'ThrottlingException') return new ModelError(this.name, 'throttled', message, { cause: err });
    if (name === 'ModelTimeoutException') return new ModelError(this.name, 'timeout', message, { cause: err });
    if (NOT_RETRYABLE.has(name)) return new ModelError(this.name, 'rejected', message, { cause: err });
    return new ModelError(this.name, 'unavailable', message, { cause: err });
  }
}

function parseInput(raw: string): unknown {
  try {
    return JSON.parse(raw === '' ? '{}' : raw) as unknown;
  } catch {
    return undefined;
  }
}

function toContent(block: ModelContent): ContentBlock {
  if ('text' in block) return { text: block.text };
  if ('toolUse' in block) return { toolUse: { toolUseId: block.toolUse.toolUseId, name: block.toolUse.name, input: block.toolUse.input as never } };
  const content: ToolResultContentBlock[] = [typeof block.toolResult.content === 'string' ? { text: block.toolResult.content } : { json: block.toolResult.content as never }];
  return { toolResult: { toolUseId: block.toolResult.toolUseId, content, status: block.toolResult.status } };
}

export function toConverse(modelId: string, request: ModelRequest): ConverseStreamCommandInput {
  return {
    modelId,
    system: request.system ? [{ text: request.system }] : undefined,
    messages: request.messages.map((m): Message => ({ role: m.role, content: m.content.map(toContent) })),
    inferenceConfig: { maxTokens: request.maxTokens, temperature: request.temperature },
    toolConfig: request.tools.length > 0 ? { tools: request.tools.map((t) => ({ toolSpec: { name: t.name, description: t.description, inputSchema: { json: t.inputSchema as never } } })) } : undefined,
  };
}
