/**
 * The responder contract: given what the caller said (or pressed) and the dialog state stored between turns,
 * produce the agent's next line and the next state. Implementations must keep no per-call memory: every turn may
 * run in a different process, so everything a responder needs lives in the (plain JSON) DialogState.
 */

/** Plain JSON: stored in DynamoDB between turns. */
export interface DialogState {
  /** Dialog state name; also passed to speech recognition as context. */
  readonly name: string;
  /** Slot values in canonical form (e.g. day `tuesday`, time `15:00`). */
  readonly slots: Readonly<Record<string, string>>;
  /** Turns in a row that were not understood. */
  readonly misses: number;
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
}

export interface Responder {
  readonly name: string;
  initialState(): DialogState;
  greet(state: DialogState): Reply;
  respond(input: ResponderInput, state: DialogState): Reply | Promise<Reply>;
  /**
   * Every text the responder can say that never depends on the call (greeting, re-prompts, goodbye, …), so speech
   * can be synthesized ahead and replayed without a round trip.
   */
  staticPrompts?(): readonly string[];
}
