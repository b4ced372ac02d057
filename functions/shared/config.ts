/** Typed configuration from the function's environment, validated once per execution environment. */
import { z } from 'zod';
import { DEFAULT_MEDIA_CONFIG, type MediaConfig } from '../domain/call/media-processor';
import { DEFAULT_TURN_CONFIG, type TurnRunnerConfig } from '../domain/call/turn-runner';
import { DEFAULT_ENDPOINTING } from '../domain/vad';

const num = (fallback: number) => z.coerce.number().finite().default(fallback);

const EnvSchema = z.object({
  CALLS_TABLE: z.string().min(1),
  /** Local stack only: the DynamoDB endpoint (dynalite). Unset on AWS. */
  DYNAMODB_ENDPOINT: z.url().optional(),
  SPEECH_PROVIDER: z.enum(['offline']).default('offline'),
  OFFLINE_SPEECH_URL: z.url().optional(),
  STT_TIMEOUT_MS: num(DEFAULT_TURN_CONFIG.sttTimeoutMs),
  TTS_TIMEOUT_MS: num(DEFAULT_TURN_CONFIG.ttsTimeoutMs),
  VAD_THRESHOLD_DBFS: num(DEFAULT_ENDPOINTING.speechThresholdDbfs),
  ENDPOINT_SILENCE_MS: num(DEFAULT_ENDPOINTING.endpointSilenceMs),
  MIN_SPEECH_MS: num(DEFAULT_ENDPOINTING.minSpeechMs),
  BARGE_IN_MS: num(DEFAULT_ENDPOINTING.bargeInMs),
  CALL_REFRESH_MS: num(DEFAULT_MEDIA_CONFIG.callRefreshMs),
  POLL_EVERY_CHUNKS: num(DEFAULT_MEDIA_CONFIG.pollEveryChunks),
});

export type FunctionEnv = z.infer<typeof EnvSchema>;

export interface AppConfig {
  readonly tableName: string;
  readonly dynamoEndpoint?: string;
  readonly speech: { readonly provider: 'offline'; readonly offlineUrl?: string };
  readonly media: MediaConfig;
  readonly turn: TurnRunnerConfig;
}

export function loadConfig(env: NodeJS.ProcessEnv = process.env): AppConfig {
  const parsed = EnvSchema.safeParse(env);
  if (!parsed.success) {
    const issue = parsed.error.issues[0];
    throw new Error(`invalid configuration: ${issue?.path.join('.')}: ${issue?.message}`);
  }
  const e = parsed.data;
  return {
    tableName: e.CALLS_TABLE,
    dynamoEndpoint: e.DYNAMODB_ENDPOINT,
    speech: { provider: e.SPEECH_PROVIDER, offlineUrl: e.OFFLINE_SPEECH_URL },
    media: {
      ...DEFAULT_ENDPOINTING,
      ...DEFAULT_MEDIA_CONFIG,
      speechThresholdDbfs: e.VAD_THRESHOLD_DBFS,
      endpointSilenceMs: e.ENDPOINT_SILENCE_MS,
      minSpeechMs: e.MIN_SPEECH_MS,
      bargeInMs: e.BARGE_IN_MS,
      callRefreshMs: e.CALL_REFRESH_MS,
      pollEveryChunks: e.POLL_EVERY_CHUNKS,
    },
    turn: { ...DEFAULT_TURN_CONFIG, sttTimeoutMs: e.STT_TIMEOUT_MS, ttsTimeoutMs: e.TTS_TIMEOUT_MS },
  };
}
