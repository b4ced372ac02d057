/**
 * What one execution environment knows about the calls whose frames it has handled: a warm cache, never the truth.
 * Every decision taken from it is either harmless when stale or confirmed by a conditional write.
 */
import type { CallRecord } from './model';

export interface CallView {
  call: CallRecord;
  fetchedAt: number;
  /** Newest speech frame this environment knows of after the call's last endpoint. */
  lastSpeech?: { chunk: number; endTs: number; receivedAt: number };
  /**
   * Knowledge is complete from `trackFrom` on when this environment handled every frame after it: then no other
   * environment can hold speech it does not know of, and it needs no polling.
   */
  trackFrom: number;
  seenSince: number;
  lastBargeCheckAt: number;
  /** Speech chunk of the last utterance end this environment tried to speculate on (one attempt each). */
  speculatedChunk?: number;
  /** This environment already asked for the call to end (a limit was crossed): its further frames are dropped. */
  ending?: boolean;
}

export function isKnowledgeComplete(view: CallView, chunk: number): boolean {
  return view.seenSince >= chunk - view.trackFrom;
}

export function resetTracking(view: CallView, fromChunk: number): void {
  view.trackFrom = fromChunk;
  view.seenSince = 0;
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
