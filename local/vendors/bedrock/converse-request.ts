/**
 * What the Bedrock Runtime stand-in accepts as a ConverseStream request body (the parts of the Converse API a voice
 * agent uses: text, tool use and tool results; system prompt; inference and tool configuration), and the service's
 * own checks on a conversation, with its ValidationException messages. Images, documents, guardrails and the like
 * are refused as unsupported by this stand-in, not silently ignored.
 */
import { z } from 'zod';

const ToolResultContent = z.union([z.object({ text: z.string() }).strict(), z.object({ json: z.unknown() }).strict()]);

const ContentBlock = z.union([
  z.object({ text: z.string() }).strict(),
  z.object({ toolUse: z.object({ toolUseId: z.string().min(1), name: z.string().min(1), input: z.unknown() }).strict() }).strict(),
  z
    .object({
      toolResult: z
        .object({
          toolUseId: z.string().min(1),
          content: z.array(ToolResultContent).min(1),
          status: z.enum(['success', 'error']).optional(),
        })
        .strict(),
    })
    .strict(),
]);
export type ContentBlock = z.infer<typeof ContentBlock>;

const Message = z.object({ role: z.enum(['user', 'assistant']), content: z.array(ContentBlock).min(1) }).strict();
export type Message = z.infer<typeof Message>;

const ToolSpec = z
  .object({
    toolSpec: z
      .object({
        name: z.string().regex(/^[a-zA-Z0-9_-]{1,64}$/),
        description: z.string().min(1).optional(),
        inputSchema: z.object({ json: z.record(z.string(), z.unknown()) }).strict(),
      })
      .strict(),
  })
  .strict();

export const ConverseStreamBody = z
  .object({
    messages: z.array(Message),
    system: z.array(z.object({ text: z.string() }).strict()).optional(),
    inferenceConfig: z
      .object({
        maxTokens: z.number().int().min(1).optional(),
        temperature: z.number().min(0).max(1).optional(),
        topP: z.number().min(0).max(1).optional(),
        stopSequences: z.array(z.string()).max(4).optional(),
      })
      .strict()
      .optional(),
    toolConfig: z
      .object({
        tools: z.array(ToolSpec).min(1),
        toolChoice: z.union([z.object({ auto: z.object({}) }), z.object({ any: z.object({}) }), z.object({ tool: z.object({ name: z.string() }) })]).optional(),
      })
      .strict()
      .optional(),
  })
  .strict();
export type ConverseStreamBody = z.infer<typeof ConverseStreamBody>;

/** The service's checks on the conversation itself; the message of the ValidationException, or undefined. */
export function conversationProblem(body: ConverseStreamBody): string | undefined {
  const { messages } = body;
  if (messages.length === 0) return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  if (messages[0]!.role !== 'user') return 'A conversation must start with a user message. Try again with a conversation that starts with a user message.';
  for (let i = 1; i < messages.length; i++) {
    if (messages[i]!.role === messages[i - 1]!.role) {
      return 'A conversation must alternate between user and assistant roles. Make sure the conversation alternates between user and assistant roles and try again.';
    }
  }
  const usesTools = messages.some((m) => m.content.some((b) => 'toolUse' in b || 'toolResult' in b));
  if (usesTools && !body.toolConfig) return 'The toolConfig field must be defined when using toolUse and toolResult content blocks.';
  for (let i = 0; i < messages.length; i++) {
    const results = messages[i]!.content.flatMap((b) => ('toolResult' in b ? [b.toolResult.toolUseId] : []));
    if (results.length === 0) continue;
    const previous = i > 0 ? messages[i - 1]!.content.flatMap((b) => ('toolUse' in b ? [b.toolUse.toolUseId] : [])) : [];
    if (results.length > previous.length) {
      return `The number of toolResult blocks at messages.${i}.content exceeds the number of toolUse blocks of previous turn.`;
    }
    const unknown = results.find((id) => !previous.includes(id));
    if (unknown) return `messages.${i}.content: toolResult ${unknown} does not match a toolUse block of the previous turn.`;
  }
  return undefined;
}
