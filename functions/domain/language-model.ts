/**
 * The language model the model responder depends on, as the domain sees it: a conversation in, a stream of events
 * out (text as it is generated, tool calls, why it stopped, what it cost). Adapters (Bedrock's ConverseStream)
 * implement it; the domain never imports a vendor SDK.
 */

/** Plain JSON, so a conversation can be stored between turns. */
export type ModelContent =
  | { readonly text: string }
  | { readonly toolUse: { readonly toolUseId: string; readonly name: string; readonly input: unknown } }
  | { readonly toolResult: { readonly toolUseId: string; readonly content: unknown; readonly status: 'success' | 'error' } };

export interface ModelMessage {
  readonly role: 'user' | 'assistant';
  readonly content: readonly ModelContent[];
}

export interface ModelToolSpec {
  readonly name: string;
  readonly description: string;
  /** JSON Schema of the input. */
  readonly inputSchema: Record<string, unknown>;
}

export interface ModelRequest {
  readonly system: string;
  readonly messages: readonly ModelMessage[];
  readonly tools: readonly ModelToolSpec[];
  readonly maxTokens: number;
  readonly temperature: number;
}

export type ModelEvent =
  | { readonly type: 'text'; readonly text: string }
  /** `input` is the parsed JSON, or `undefined` with `raw` when the model's input was not JSON. */
  | { readonly type: 'toolUse'; readonly toolUseId: string; readonly name: string; readonly input: unknown; readonly raw: string }
  | { readonly type: 'stop'; readonly reason: string }
  | { readonly type: 'usage'; readonly inputTokens: number; readonly outputTokens: number };

export interface LanguageModel {
  /** Provider and model, for logs and metrics (e.g. `bedrock:us.anthropic.claude-haiku-4-5-20251001-v1:0`). */
  readonly name: string;
  /** Streams one assistant turn. Rejects or throws mid-iteration with ModelError; `signal` aborts it. */
  stream(request: ModelRequest, options?: { readonly signal?: AbortSignal }): AsyncIterable<ModelEvent>;
}

/** A model call failed: throttled, timed out, the service failed, or it answered something unusable. */
export class ModelError extends Error {
  constructor(
    readonly model: string,
    readonly kind: 'throttled' | 'timeout' | 'unavailable' | 'rejected' | 'malformed',
    message: string,
    options?: { cause?: unknown; readonly retryable?: boolean },
  ) {
    super(message, options);
    this.name = 'ModelError';
    this.retryable = options?.retryable ?? (kind === 'throttled' || kind === 'unavailable' || kind === 'timeout');
  }

  readonly retryable: boolean;
}
