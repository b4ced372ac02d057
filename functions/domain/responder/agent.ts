/**
 * What an agent answered by a language model declares: how it greets, its system prompt, and its tools — each a
 * JSON-schema'd action the model may call and the code that runs it, with the business rules checked in our code.
 * A tool never trusts the model: its input is parsed, and a refusal is an answer the model phrases, not a crash.
 */
import { z } from 'zod';
import type { ModelToolSpec } from '../language-model';

/** What a tool knows of the call. `facts` are the call's stored facts (e.g. the booked appointment). */
export interface ToolContext {
  readonly facts: Readonly<Record<string, string>>;
  /** Whether this call can be handed to a person (unknown counts as yes, as for the rule responder). */
  readonly canTransfer?: boolean;
  readonly now: Date;
}

export interface ToolOutcome {
  readonly status: 'success' | 'error';
  /** What the model is told (plain JSON). */
  readonly result: Record<string, unknown>;
  /** Facts to store with the call (null removes one). */
  readonly facts?: Readonly<Record<string, string | null>>;
  /** What the call does once the reply has been spoken. */
  readonly action?: 'hangup' | 'transfer';
}

export interface AgentTool {
  readonly spec: ModelToolSpec;
  run(input: unknown, context: ToolContext): ToolOutcome;
}

export interface ModelAgent {
  readonly name: string;
  /** Said when a call starts; no model call (it would only add latency). */
  readonly greeting: string;
  /** The system prompt for this call as it stands. */
  system(context: ToolContext): string;
  readonly tools: readonly AgentTool[];
}

/**
 * A tool from a zod schema for its input (which also gives the model its JSON schema) and the code that runs it on a
 * parsed input. Input that does not parse is refused with the reason, for the model to correct or to explain.
 */
export function defineTool<S extends z.ZodType>(
  name: string,
  description: string,
  input: S,
  run: (input: z.output<S>, context: ToolContext) => ToolOutcome,
): AgentTool {
  const { $schema: _ignored, ...inputSchema } = z.toJSONSchema(input) as Record<string, unknown>;
  return {
    spec: { name, description, inputSchema },
    run(raw, context) {
      const parsed = input.safeParse(raw);
      if (!parsed.success) {
        const issue = parsed.error.issues[0]!;
        return refuse(`invalid input${issue.path.length > 0 ? ` at ${issue.path.join('.')}` : ''}: ${issue.message}`);
      }
      return run(parsed.data, context);
    },
  };
}

export const refuse = (reason: string, result: Record<string, unknown> = {}): ToolOutcome => ({ status: 'error', result: { ok: false, reason, ...result } });
export const succeed = (result: Record<string, unknown>, extra: Omit<ToolOutcome, 'status' | 'result'> = {}): ToolOutcome => ({
  status: 'success',
  result: { ok: true, ...result },
  ...extra,
});
