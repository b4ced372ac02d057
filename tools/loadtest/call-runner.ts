/**
 * One simulated caller slot: calls back to back until the deadline, each a multi-turn script of known utterances
 * spoken in real time (Twilio Media Streams framing, tools/caller/session.ts), sometimes barging in on the agent.
 * Everything observed goes to a Recorder; nothing here decides what the numbers mean (aggregate.ts does).
 */
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { CallerSession, type TurnReport } from '../caller/session';
import type { Utterance } from './utterances';

export interface TurnSample {
  readonly said: string;
  readonly report: TurnReport;
  /** The caller spoke over the agent's previous answer. */
  readonly bargedIn: boolean;
}

export interface Recorder {
  turn(sample: TurnSample): void;
  error(kind: string): void;
  callStarted(): void;
  callEnded(ok: boolean, durationMs: number): void;
  /** A turn was attempted (the caller finished an utterance and waits for the answer). */
  attempt(): void;
  bargeIn(honoured: boolean): void;
}

export interface SlotOptions {
  readonly url: string;
  readonly format: AudioFormat;
  readonly frameMs: number;
  readonly utterances: readonly Utterance[];
  /** Epoch ms: no new turn starts after it; the call in progress hangs up. */
  readonly deadline: number;
  readonly turnsPerCall: readonly [number, number];
  readonly bargeInRate: number;
  readonly answerTimeoutMs: number;
  readonly random: () => number;
  readonly recorder: Recorder;
  readonly stopped: () => boolean;
}

export async function runSlot(o: SlotOptions): Promise<void> {
  while (Date.now() < o.deadline && !o.stopped()) await runCall(o);
}

async function runCall(o: SlotOptions): Promise<void> {
  const { recorder } = o;
  const caller = new CallerSession({ url: o.url, format: o.format, frameMs: o.frameMs, events: true });
  const started = Date.now();
  recorder.callStarted();
  try {
    await withTimeout(caller.connect(), 10_000, 'connect timed out');
  } catch (err) {
    // What refused it says where to look: 429 the gateway's connection rate, 500 the authorizer or $connect failing
    // or throttled, 504 $connect's integration timeout, no answer within 10 s a gateway or runtime too busy to answer, anything else the socket.
    const status = (err as { statusCode?: number }).statusCode;
    const timedOut = (err as Error).message === 'connect timed out';
    recorder.error(status === 429 ? 'connect_throttled' : status !== undefined ? `connect_failed_${status}` : timedOut ? 'connect_timeout' : 'connect_failed');
    recorder.callEnded(false, Date.now() - started);
    await caller.hangUp().catch(() => undefined);
    // A refused caller tries again later, as a phone would redial: not in a tight loop.
    await new Promise((r) => setTimeout(r, 1000));
    return;
  }
  let ok = true;
  try {
    const greeting = await caller.waitForTurn(1, o.answerTimeoutMs);
    if (!greeting) {
      recorder.error(caller.closed ? 'call_dropped' : 'greeting_timeout');
      ok = false;
      return;
    }
    await caller.waitForAgentSilence(300);
    const turns = o.turnsPerCall[0] + Math.floor(o.random() * (o.turnsPerCall[1] - o.turnsPerCall[0] + 1));
    let next = 2;
    let bargeIn = false;
    for (let i = 0; i < turns && Date.now() < o.deadline && !o.stopped(); i++) {
      const line = o.utterances[Math.floor(o.random() * o.utterances.length)]!;
      const clearsBefore = caller.clears.length;
      await caller.speak(line.audio);
      if (caller.closed) {
        recorder.error('call_dropped');
        ok = false;
        return;
      }
      recorder.attempt();
      const report = await caller.waitForTurn(next, o.answerTimeoutMs);
      if (bargeIn) recorder.bargeIn(caller.clears.length > clearsBefore);
      if (!report) {
        recorder.error(caller.closed ? 'call_dropped' : 'no_answer');
        ok = false;
        return;
      }
      recorder.turn({ said: line.text, report, bargedIn: bargeIn });
      next = report.turn + 1;
      // Sometimes the caller talks over the answer (barge-in): the next line starts while the agent speaks.
      bargeIn = i + 1 < turns && o.random() < o.bargeInRate;
      if (bargeIn) await new Promise((r) => setTimeout(r, 400));
      else await caller.waitForAgentSilence(300, o.answerTimeoutMs);
    }
  } finally {
    if (!caller.closed) await caller.hangUp().catch(() => undefined);
    else if (caller.closeCode !== 1000) ok = false;
    recorder.callEnded(ok, Date.now() - started);
  }
}

function withTimeout<T>(p: Promise<T>, ms: number, message: string): Promise<T> {
  return new Promise<T>((resolve, reject) => {
    const t = setTimeout(() => reject(new Error(message)), ms);
    p.then(
      (v) => (clearTimeout(t), resolve(v)),
      (e) => (clearTimeout(t), reject(e)),
    );
  });
}
