/**
 * Preemptive generation, one utterance at a time: its watcher reads the utterance as it stands at the preemption
 * point and starts answering it (speech-to-text, the responder, the first sentence's synthesis; nothing is sent).
 * At the endpoint the answer is delivered only when it heard every frame the endpoint did; otherwise it is
 * discarded unsent and the whole utterance answered the ordinary way.
 */
import { silence } from '../audio';
import type { EndpointingConfig, HeardWords } from '../../contracts/turn-policy';
import { assembleUtterance, type StoredFrame } from '../vad';
import type { CallStore, FrameMeta, Telemetry } from './model';
import type { PreparedTurn, TurnRunner } from './turn-runner';

export interface SpeculationDeps {
  readonly store: CallStore;
  readonly turns: TurnRunner;
  readonly telemetry: Telemetry;
  readonly config: Pick<EndpointingConfig, 'minSpeechMs' | 'maxGapFillMs' | 'maxUtteranceMs'>;
}

export class Speculation {
  private discarded = false;

  private constructor(
    private readonly telemetry: Telemetry,
    /** The frames it answers: the utterance as it stood when the speculation read it. */
    private readonly frames: readonly StoredFrame[],
    private readonly preparing: Promise<PreparedTurn>,
    private readonly abort: AbortController,
    /**
     * Whether the words it heard sound finished, once they are transcribed (before the reply); undefined when the
     * transcript is empty, the responder cannot say, or the speculation failed. Never rejects.
     */
    readonly heard: Promise<HeardWords | undefined>,
  ) {}

  /** Starts answering the utterance after `prev` up to `last`; undefined when there is nothing to answer. */
  static async start(deps: SpeculationDeps, callId: string, prev: number, last: FrameMeta): Promise<Speculation | undefined> {
    const [frames, whole] = await Promise.all([deps.store.framesBetween(callId, prev, last.chunk), deps.store.getCall(callId)]);
    const call = whole?.status === 'streaming' ? whole : undefined; // the whole call: its dialog state is answered from
    if (!call) return undefined;
    const format = call.format!;
    const utterance = assembleUtterance(frames, (ms) => silence(ms, format), deps.config);
    if (utterance.speechMs < deps.config.minSpeechMs) return undefined;
    const abort = new AbortController();
    let onHeard!: (heard: HeardWords | undefined) => void;
    const heard = new Promise<HeardWords | undefined>((resolve) => (onHeard = resolve));
    const preparing = deps.turns.prepare(call, utterance.audio, abort.signal, onHeard);
    preparing.then(() => onHeard(undefined), () => onHeard(undefined)); // settles `heard` if the transcript never came; never an unhandled rejection
    return new Speculation(deps.telemetry, frames, preparing, abort, heard);
  }

  /**
   * The prepared answer for the utterance the endpoint read (`frames`): only when the speculation heard all of them;
   * otherwise (a frame arrived after it read the utterance) it is discarded and undefined returned.
   */
  async deliverFor(frames: readonly StoredFrame[]): Promise<PreparedTurn | undefined> {
    if (this.frames.length !== frames.length) {
      this.discard();
      return undefined;
    }
    try {
      const prepared = await this.preparing;
      this.telemetry.count('TurnsPreempted');
      return prepared;
    } catch (err) {
      this.telemetry.warn('preemptive generation failed; answering the ordinary way', { error: (err as Error).message });
      return undefined;
    }
  }

  /** Stops the work and releases what it holds (an open synthesis); counted once, however often called. */
  discard(): void {
    if (this.discarded) return;
    this.discarded = true;
    this.abort.abort();
    void this.preparing.then((p) => p.discard(), () => undefined);
    this.telemetry.count('SpeculationsDiscarded');
  }
}
