/**
 * What the Bedrock stand-in "answers": a deterministic policy, never a language model. It is given the request (system
 * prompt, conversation, tools) and says what the assistant turn holds: text, tool calls, or both. The default policy
 * only echoes, and says that it is a stand-in; the local stack plugs in a policy made for its agent (a tool or a reply
 * chosen by rules), which is as much as this machine can honestly offer without a model.
 */
import type { ContentBlock, ConverseStreamBody } from './converse-request';

export interface PolicyToolUse {
  readonly name: string;
  readonly input: unknown;
}

/** One assistant turn: text (may be empty when the turn only calls tools) and tool calls. */
export interface ModelTurn {
  readonly text: string;
  readonly toolUses?: readonly PolicyToolUse[];
}

/** What a policy sees of the request. */
export interface PolicyInput {
  readonly system: string;
  readonly body: ConverseStreamBody;
  /** The tools offered, by name. */
  readonly tools: readonly string[];
  /** The last user message's text blocks, joined ('' when it only carries tool results). */
  readonly userText: string;
  /** The tool results of the last user message, in order. */
  readonly toolResults: ReadonlyArray<{ readonly toolUseId: string; readonly name?: string; readonly status?: string; readonly content: unknown }>;
}

export type ModelPolicy = (input: PolicyInput) => ModelTurn;

export const STAND_IN_NOTICE = 'local Bedrock Runtime stand-in: a deterministic policy, not a language model';

/** The default: says what it is and what it heard. Tool results are read back. */
export const echoPolicy: ModelPolicy = ({ userText, toolResults }) => {
  if (toolResults.length > 0) {
    return { text: `The tool answered: ${toolResults.map((r) => (typeof r.content === 'string' ? r.content : JSON.stringify(r.content))).join('; ')}.` };
  }
  return { text: `This is a local stand-in for Bedrock, not a language model. You said: ${userText}` };
};

/** The policy's view of a request. */
export function policyInput(body: ConverseStreamBody): PolicyInput {
  const last = body.messages[body.messages.length - 1];
  const blocks: readonly ContentBlock[] = last?.role === 'user' ? last.content : [];
  const previous = body.messages[body.messages.length - 2];
  const toolNames = new Map(
    (previous?.content ?? []).flatMap((b) => ('toolUse' in b ? [[b.toolUse.toolUseId, b.toolUse.name] as const] : [])),
  );
  return {
    system: (body.system ?? []).map((s) => s.text).join('\n'),
    body,
    tools: (body.toolConfig?.tools ?? []).map((t) => t.toolSpec.name),
    userText: blocks.flatMap((b) => ('text' in b ? [b.text] : [])).join(' '),
    toolResults: blocks.flatMap((b) =>
      'toolResult' in b
        ? [{
            toolUseId: b.toolResult.toolUseId,
            name: toolNames.get(b.toolResult.toolUseId),
            status: b.toolResult.status,
            content: b.toolResult.content.length === 1 ? ('text' in b.toolResult.content[0]! ? b.toolResult.content[0].text : b.toolResult.content[0]!.json) : b.toolResult.content,
          }]
        : [],
    ),
  };
}
