/**
 * The call domain wired together: the one place that knows which service takes which collaborator. A Lambda
 * environment calls it once (functions/wiring/container.ts); the measurement tools and the tests call it once per
 * execution environment they model, so what they measure is what the functions run.
 */
import { CallService } from './call-service';
import { MediaProcessor, type MediaConfig } from './media-processor';
import { TurnRunner, type TurnDeps, type TurnRunnerConfig } from './turn-runner';

/** What a turn runs on, with the configuration of both the turns and the frames. */
export interface CallDeps extends Omit<TurnDeps, 'config'> {
  readonly turnConfig: TurnRunnerConfig;
  readonly mediaConfig: MediaConfig;
}

/** One execution environment's call services. */
export interface CallServices {
  readonly turns: TurnRunner;
  readonly calls: CallService;
  readonly media: MediaProcessor;
}

export function wireCall(deps: CallDeps): CallServices {
  const { store, sender, stt, tts, responder, telemetry, now, phoneLine } = deps;
  const turns = new TurnRunner({ store, sender, stt, tts, responder, telemetry, config: deps.turnConfig, now, phoneLine });
  return {
    turns,
    calls: new CallService({ store, sender, turns, responder, telemetry, now, phoneLine }),
    media: new MediaProcessor({ store, sender, turns, telemetry, config: deps.mediaConfig, now }),
  };
}
