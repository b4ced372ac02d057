/**
 * A responder that answers with a language model: the agent's system prompt and tools, the conversation so far
 * (stored in the dialog state, bounded), the caller's words. Text streams out as the model writes it; a tool call is
 * run by the agent's code and its result goes back to the model in the same turn (at most `maxRounds` model calls).
 *
 * Never silent: a model that fails before any text was produced is answered by the fallback responder (the rule
 * responder, from the facts stored with the call); one that fails after some text, or says nothing, ends with
 * `failureText`. The turn's account (calls, tokens, errors, tools) rides on the reply for metrics and costs.
 *
 * State: `{ name: 'main', slots: facts, misses: 0, history }`, plain JSON, written only by the turn that owns it
 * (TurnRunner's conditional finishTurn), so overlapping turns and an environment dying mid-turn leave it consistent.
 */
import { ModelError, type LanguageModel, type ModelContent, type ModelMessage } from '../language-model';
import type { ModelAgent, ToolContext, ToolOutcome } from './agent';
import type { DialogState, ModelUsage, Reply, ReplyStream, Responder, ResponderInput } from './responder';

export interface ModelResponderOptions {
  readonly model: LanguageModel;
  /** Answers when the model fails before saying anything (the rule responder). */
  readonly fallback: Responder;
  readonly maxTokens?: number;
  readonly temperature?: number;
  /** Model calls per turn (each tool round trip is one more). Default 3. */
  readonly maxRounds?: number;
  /** Messages of history kept (oldest dropped first, always from a caller's words). Default 16. */
  readonly historyMessages?: number;
  /** History kept, in characters of JSON. Default 6000 (the call item stays small: every read of it pays for it). */
  readonly historyChars?: number;
  /** Said when the model fails after it began, or gives nothing to say. */
  readonly failureText?: string;
  readonly now?: () => Date;
}

export const MODEL_FAILURE_TEXT = "Sorry, I'm having trouble right now. Could you say that again?";

export function createModelResponder(agent: ModelAgent, options: ModelResponderOptions): Responder {
  const { model, fallback } = options;
  const maxRounds = options.maxRounds ?? 3;
  const failureText = options.failureText ?? MODEL_FAILURE_TEXT;
  const now = options.now ?? (() => new Date());
  const tools = new Map(agent.tools.map((t) => [t.spec.name, t]));

  const initialState = (): DialogState => ({ name: 'main', slots: {}, misses: 0, history: [] });

  function stream(input: ResponderInput, state: DialogState, streamOptions: { readonly signal?: AbortSignal } = {}): ReplyStream {
    let settle!: (reply: Reply) => void;
    const reply = new Promise<Reply>((resolve) => (settle = resolve));

    async function* text(): AsyncGenerator<string> {
      const facts: Record<string, string> = { ...state.slots };
      const usage = { calls: 0, inputTokens: 0, outputTokens: 0, errors: [] as string[], fellBack: false, tools: [] as string[] };
      const messages: ModelMessage[] = [...(state.history ?? []), { role: 'user', content: [{ text: callerWords(input) }] }];
      let said = '';
      let intent = 'model';
      let action: Reply['action'];
      /** The text of the turn so far, as spoken (pieces of later rounds joined with a space). */
      const speak = (piece: string): string => {
        const out = said !== '' && !/\s$/.test(said) && !/^\s/.test(piece) ? ` ${piece}` : piece;
        said += out;
        return out;
      };
      try {
        for (let round = 0; ; round++) {
          if (round >= maxRounds) {
            usage.errors.push(`the model still called tools after ${maxRounds} calls`);
            yield speak(failureText);
            break;
          }
          const context: ToolContext = { facts, canTransfer: input.canTransfer, now: now() };
          const uses: Array<{ toolUseId: string; name: string; input: unknown }> = [];
          let roundText = '';
          usage.calls++;
          try {
            const events = model.stream(
              { system: agent.system(context), messages, tools: agent.tools.map((t) => t.spec), maxTokens: options.maxTokens ?? 300, temperature: options.temperature ?? 0.3 },
              { signal: streamOptions.signal },
            );
            for await (const event of events) {
              if (event.type === 'text' && event.text !== '') {
                const piece = speak(event.text);
                roundText += event.text;
                yield piece;
              } else if (event.type === 'toolUse') uses.push(event);
              else if (event.type === 'usage') {
                usage.inputTokens += event.inputTokens;
                usage.outputTokens += event.outputTokens;
              }
            }
          } catch (err) {
            usage.errors.push(describe(err));
            if (streamOptions.signal?.aborted) break;
            if (said === '') {
              // Nothing said yet: the rule responder answers from the facts the call holds (never the model's state).
              usage.fellBack = true;
              const answer = await fallback.respond(input, { name: 'main', slots: { ...facts }, misses: 0 });
              intent = answer.intent;
              action = answer.action;
              yield speak(answer.text);
            } else {
              yield speak(failureText);
            }
            break;
          }
          const content: ModelContent[] = [];
          if (roundText.trim() !== '') content.push({ text: roundText });
          for (const use of uses) content.push({ toolUse: { toolUseId: use.toolUseId, name: use.name, input: isObject(use.input) ? use.input : {} } });
          if (content.length > 0) messages.push({ role: 'assistant', content });
          if (uses.length === 0) {
            if (said.trim() === '') {
              usage.errors.push('the model said nothing');
              yield speak(failureText);
            }
            break;
          }
          // The tools run here, in our code; their results go back to the model in the same turn.
          const results: ModelContent[] = uses.map((use) => {
            const outcome = runTool(use, context);
            usage.tools.push(use.name);
            if (intent === 'model') intent = use.name;
            if (outcome.status === 'success') {
              for (const [k, v] of Object.entries(outcome.facts ?? {})) {
                if (v === null) delete facts[k];
                else facts[k] = v;
              }
              action = outcome.action ?? action;
            }
            return { toolResult: { toolUseId: use.toolUseId, content: outcome.result, status: outcome.status } };
          });
          messages.push({ role: 'user', content: results });
        }
      } finally {
        if (messages[messages.length - 1]?.role === 'user' && said.trim() !== '') messages.push({ role: 'assistant', content: [{ text: said.trim() }] });
        const account: ModelUsage = usage;
        settle({
          text: said.trim() === '' ? failureText : said.trim(),
          intent,
          state: { name: 'main', slots: facts, misses: 0, history: boundHistory(messages, options.historyMessages ?? 16, options.historyChars ?? 6000) },
          ...(action ? { action } : {}),
          model: account,
        });
      }
    }

    function runTool(use: { name: string; input: unknown }, context: ToolContext): ToolOutcome {
      const tool = tools.get(use.name);
      if (!tool) return { status: 'error', result: { ok: false, reason: `there is no tool named ${use.name}` } };
      if (use.input === undefined) return { status: 'error', result: { ok: false, reason: 'the tool input was not valid JSON' } };
      try {
        return tool.run(use.input, context);
      } catch (err) {
        return { status: 'error', result: { ok: false, reason: `the tool failed: ${(err as Error).message}` } };
      }
    }

    return { text: text(), reply };
  }

  async function respond(input: ResponderInput, state: DialogState): Promise<Reply> {
    const { text, reply } = stream(input, state);
    for await (const _ of text) {
      // the whole reply is wanted: read it to the end
    }
    return reply;
  }

  return {
    name: agent.name,
    keepsHistory: true,
    initialState,
    greet: (state) => ({ text: agent.greeting, state, intent: 'greeting' }),
    respond,
    stream,
    // The cheap signal, not a second model call: the fallback's understanding of the words, on the facts so far.
    completeness: (text, state) => fallback.completeness?.(text, { name: 'main', slots: { ...state.slots }, misses: 0 }) ?? 'unsure',
    staticPrompts: () => [agent.greeting, failureText],
  };
}

function callerWords(input: ResponderInput): string {
  if (input.dtmf !== undefined) return `(The caller pressed ${input.dtmf} on the keypad.)`;
  const text = (input.text ?? '').trim();
  return text === '' ? '(silence)' : text;
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === 'object' && v !== null && !Array.isArray(v);

const describe = (err: unknown): string =>
  err instanceof ModelError ? `${err.model} ${err.kind}: ${err.message}` : err instanceof Error ? `${err.name}: ${err.message}` : String(err);

/**
 * The newest messages within both bounds, starting at a caller's words (never at a tool result, whose tool call would
 * be gone, nor at the assistant: the model's API wants a conversation to open with the user).
 */
export function boundHistory(messages: readonly ModelMessage[], maxMessages: number, maxChars: number): ModelMessage[] {
  let start = Math.max(0, messages.length - maxMessages);
  const opensWithWords = (i: number) => messages[i]!.role === 'user' && messages[i]!.content.some((c) => 'text' in c);
  const size = (from: number) => JSON.stringify(messages.slice(from)).length;
  while (start < messages.length && (!opensWithWords(start) || size(start) > maxChars)) start++;
  return messages.slice(start);
}
