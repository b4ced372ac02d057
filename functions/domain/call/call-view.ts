/**
 * What one execution environment knows about the calls whose frames it has handled: a warm cache, never the truth.
 * It holds the fields fixed at start (format, stream, connection, creation time), which never go stale, and the
 * coordination fields as of the last tick this environment handled, which may. Every decision taken from the latter
 * is harmless when stale or confirmed by a conditional write; no environment refreshes it on a clock of its own
 * (that cost would grow with the number of environments a call is spread over).
 */
import type { CallState } from './model';

export interface CallView {
  call: CallState;
  /**
   * False until this environment has read the call (its first tick): until then `call` is what the connection told it
   * (declared format, open time, the frame's stream) and status, stream and endpoint are unchecked assumptions.
   */
  verified: boolean;
  /** This environment already asked for the call to end (a limit was crossed): its further frames are dropped. */
  ending?: boolean;
  /** The newest speech frame this environment handled (its chunk, and where it ended in stream time): a hint only. */
  lastSpeech?: { readonly chunk: number; readonly endTs: number };
}

/** A bounded LRU of call views (a warm environment may see thousands of calls over its life). */
export class CallViewCache {
  private readonly views = new Map<string, CallView>();
  constructor(private readonly maxEntries = 2000) {}

  get(callId: string): CallView | undefined {
    const view = this.views.get(callId);
    if (view) {
      this.views.delete(callId);
      this.views.set(callId, view);
    }
    return view;
  }

  set(callId: string, view: CallView): void {
    this.views.delete(callId);
    this.views.set(callId, view);
    if (this.views.size > this.maxEntries) {
      const oldest = this.views.keys().next().value;
      if (oldest !== undefined) this.views.delete(oldest);
    }
  }

  delete(callId: string): void {
    this.views.delete(callId);
  }

  get size(): number {
    return this.views.size;
  }
}
