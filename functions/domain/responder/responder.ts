/**
 * The responder contract: given what the caller said (or pressed) and the dialog state stored between turns,
 * produce the agent's next line and the next state. Implementations must keep no per-call memory: every turn may
 * run in a different process, so everything a responder needs lives in the (plain JSON) DialogState.
 */
import type { ModelMessage } from '../language-model';
import type { Completeness } from './completeness';

/** Plain JSON: stored in DynamoDB between turns. */
export interface DialogState {
  /** Dialog state name; also passed to speech recognition as context. */
  readonly name: string;
  /** Slot values in canonical form (e.g. day `tuesday`, time `15:00`). */
  readonly slots: Readonly<Record<string, string>>;
  /** Turns in a row that were not understood. */
  readonly misses: number;
  /**
   * A model responder's conversation so far (bounded); rule responders keep none. Stored apart from the call item
   * (CallStore.getHistory), and read once a turn for responders that say they keep one (`Responder.keepsHistory`).
   */
  readonly history?: readonly ModelMessage[];
}

export interface ResponderInput {
  /** Transcript of the caller's utterance (any case, punctuation optional). */
  readonly text?: string;
  /** A DTMF key (`0`–`9`, `*`, `#`); takes precedence over `text`. */
  readonly dtmf?: string;
  /**
   * Whether this call can be handed to a person (a phone call, with a number to transfer to and the credentials to
   * do it). Unknown (undefined) counts as yes: the `transfer` action then tells the client, which decides.
   */
  readonly canTransfer?: boolean;
}

export interface Reply {
  /** What the agent says; never empty. */
  readonly text: string;
  readonly state: DialogState;
  /** What the responder understood: an intent name, `greeting`, or `fallback` when not understood. */
  readonly intent: string;
  readonly action?: 'hangup' | 'transfer';
  /** A model responder's account of the turn: calls, tokens, failures. */
  readonly model?: ModelUsage;
}

export interface ModelUsage {
  /** Model requests made (a tool round trip is one more). */
  readonly calls: number;
  readonly inputTokens: number;
  readonly outputTokens: number;
  /** Failed model calls, each in one line (kind and message). */
  readonly errors: readonly string[];
  /** The answer came from the fallback (rule responder or fallback phrase), not the model. */
  readonly fellBack: boolean;
  /** Tools called, in order (refused ones included). */
  readonly tools: readonly string[];
}

/** A reply as it is generated: its text piece by piece, and the whole reply once the text is complete. */
export interface ReplyStream {
  /** The reply's text in pieces, as they come (never throws: failures are answered in text). */
  readonly text: AsyncIterable<string>;
  /** Settles after `text` has ended: state to store, intent, action. Never rejects. */
  readonly reply: Promise<Reply>;
}

export interface Responder {
  readonly name: string;
  /** Answers from a conversation (DialogState.history): the turn reads it before answering. */
  readonly keepsHistory?: boolean;
  initialState(): DialogState;
  greet(state: DialogState): Reply;
  respond(input: ResponderInput, state: DialogState): Reply | Promise<Reply>;
  /**
   * Responders that generate their reply over time (a language model) stream it, so the first sentence can be
   * spoken while the rest is generated. `signal` abandons it (a discarded speculation).
   */
  stream?(input: ResponderInput, state: DialogState, options?: { readonly signal?: AbortSignal }): ReplyStream;
  /**
   * Whether the caller's words sound finished, in this dialog state: the end of the turn comes sooner when they do,
   * later when they stop mid-phrase (docs/LATENCY.md, "End of turn"). Cheap and synchronous: called on every
   * speculative transcript. Without it the endpoint is the fixed silence.
   */
  completeness?(text: string, state: DialogState): Completeness;
  /**
   * Every text the responder can say that never depends on the call (greeting, re-prompts, goodbye, …), so speech
   * can be synthesized ahead and replayed without a round trip.
   */
  staticPrompts?(): readonly string[];
}
