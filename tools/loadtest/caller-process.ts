/**
 * The load generator's callers in a process of their own (`fork`ed by loadtest.ts): on AWS the callers are Twilio,
 * elsewhere; here they share the machine's two cores with the stack, but not the stack's event loop — a hundred
 * callers pacing frames in the gateway's own thread would measure the callers as much as the gateway. Runs the slots
 * it is given (call-runner.ts) and reports everything a Recorder sees to its parent over IPC; nothing is aggregated
 * here.
 */
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { runSlot, type Recorder, type TurnSample } from './call-runner';
import { seeded } from './random';
import { loadUtterances } from './utterances';

export interface CallerRun {
  readonly type: 'run';
  readonly url: string;
  readonly format: AudioFormat;
  readonly frameMs: number;
  /** Slots to run, each starting this long after the run message. */
  readonly slotStartsMs: readonly number[];
  /** Epoch ms: no new turn after it. */
  readonly deadline: number;
  readonly turnsPerCall: readonly [number, number];
  readonly bargeInRate: number;
  readonly answerTimeoutMs: number;
  readonly seed: number;
}

export type CallerEvent =
  | { readonly type: 'ready' }
  | { readonly type: 'turn'; readonly sample: TurnSample }
  | { readonly type: 'error'; readonly kind: string }
  | { readonly type: 'callStarted' }
  | { readonly type: 'callEnded'; readonly ok: boolean; readonly durationMs: number }
  | { readonly type: 'attempt' }
  | { readonly type: 'bargeIn'; readonly honoured: boolean }
  | { readonly type: 'slotDone' };

/** The parent's side: turns events back into Recorder calls. */
export function replay(event: CallerEvent, recorder: Recorder): void {
  switch (event.type) {
    case 'turn':
      return recorder.turn(event.sample);
    case 'error':
      return recorder.error(event.kind);
    case 'callStarted':
      return recorder.callStarted();
    case 'callEnded':
      return recorder.callEnded(event.ok, event.durationMs);
    case 'attempt':
      return recorder.attempt();
    case 'bargeIn':
      return recorder.bargeIn(event.honoured);
  }
}

async function run(request: CallerRun, stopped: () => boolean): Promise<void> {
  const send = (event: CallerEvent) => process.send?.(event);
  const recorder: Recorder = {
    turn: (sample) => send({ type: 'turn', sample }),
    error: (kind) => send({ type: 'error', kind }),
    callStarted: () => send({ type: 'callStarted' }),
    callEnded: (ok, durationMs) => send({ type: 'callEnded', ok, durationMs }),
    attempt: () => send({ type: 'attempt' }),
    bargeIn: (honoured) => send({ type: 'bargeIn', honoured }),
  };
  const utterances = await loadUtterances(request.format);
  const random = seeded(request.seed);
  await Promise.all(
    request.slotStartsMs.map(async (startMs) => {
      await new Promise((r) => setTimeout(r, startMs));
      await runSlot({
        url: request.url,
        format: request.format,
        frameMs: request.frameMs,
        utterances,
        deadline: request.deadline,
        turnsPerCall: request.turnsPerCall,
        bargeInRate: request.bargeInRate,
        answerTimeoutMs: request.answerTimeoutMs,
        random,
        recorder,
        stopped,
      });
      send({ type: 'slotDone' });
    }),
  );
}

if (require.main === module) {
  let stopping = false;
  process.on('message', (message: CallerRun | { type: 'stop' }) => {
    if (message.type === 'stop') stopping = true;
    else
      run(message, () => stopping).catch((err) => {
        console.error(err);
        process.exit(1);
      });
  });
  process.on('disconnect', () => process.exit(0));
  process.send?.({ type: 'ready' } satisfies CallerEvent);
}
