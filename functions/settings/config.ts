/** Typed configuration from the function's environment, validated once per execution environment. */
import { z } from 'zod';
import { DEFAULT_MEDIA_CONFIG, type MediaConfig } from '../domain/call/media-processor';
import { DEFAULT_TURN_CONFIG, type TurnRunnerConfig } from '../domain/call/turn-runner';
import { DEFAULT_ENDPOINTING, preemptionDefault } from '../contracts/turn-policy';
import { DEFAULT_MODEL_ID } from '../contracts/model';
import { ENVIRONMENT_VARIABLE } from '../contracts/metrics';
import { RETENTION } from '../contracts/table-schema';

const num = (fallback: number) => z.coerce.number().finite().default(fallback);

const EnvSchema = z.object({
  CALLS_TABLE: z.string().min(1),
  /** The deployment's environment (dev, staging, prod; `local` for npm start): the calls it lists in its history. */
  [ENVIRONMENT_VARIABLE]: z.string().regex(/^[a-z0-9-]{1,32}$/, 'lower-case letters, digits and -').default('local'),
  /** How long a call and its turns (transcripts: personal data) are kept, in hours (DynamoDB TTL); 1 hour to 90 days. */
  CALL_RETENTION_HOURS: z.coerce.number().int().min(1).max(90 * 24).default(RETENTION.callSeconds / 3600),
  /** Local stack only: the DynamoDB endpoint (dynalite). Unset on AWS. */
  DYNAMODB_ENDPOINT: z.url().optional(),
  /** offline: the local stack's engines. vendors: Deepgram + ElevenLabs (their endpoints, or local stand-ins). */
  SPEECH_PROVIDERS: z.enum(['offline', 'vendors']).default('offline'),
  /** `off`: no prompt is kept in memory, every reply is synthesized (the benchmark's worst case). */
  PROMPT_CACHE: z.enum(['on', 'off']).default('on'),
  OFFLINE_SPEECH_URL: z.url().optional(),
  /** Local stand-ins only; unset on AWS (the SDKs' default endpoints). */
  DEEPGRAM_BASE_URL: z.url().optional(),
  DEEPGRAM_MODEL: z.string().min(1).default('nova-3'),
  DEEPGRAM_LANGUAGE: z.string().min(1).default('en'),
  ELEVENLABS_BASE_URL: z.url().optional(),
  /** "Rachel", one of ElevenLabs' default voices. */
  ELEVENLABS_VOICE_ID: z.string().min(1).default('21m00Tcm4TlvDq8ikWAM'),
  ELEVENLABS_MODEL_ID: z.string().min(1).default('eleven_flash_v2_5'),
  STT_TIMEOUT_MS: num(DEFAULT_TURN_CONFIG.sttTimeoutMs),
  TTS_TIMEOUT_MS: num(DEFAULT_TURN_CONFIG.ttsTimeoutMs),
  VAD_THRESHOLD_DBFS: num(DEFAULT_ENDPOINTING.speechThresholdDbfs),
  ENDPOINT_SILENCE_MS: num(DEFAULT_ENDPOINTING.endpointSilenceMs),
  MIN_SPEECH_MS: num(DEFAULT_ENDPOINTING.minSpeechMs),
  BARGE_IN_MS: num(DEFAULT_ENDPOINTING.bargeInMs),
  /** End of turn by the words (`adaptive`, default) or after ENDPOINT_SILENCE_MS always (`fixed`). */
  END_OF_TURN: z.enum(['fixed', 'adaptive']).default(DEFAULT_ENDPOINTING.endOfTurn),
  /** Silence that ends an utterance whose words sound finished / the responder cannot judge / stop mid-phrase (END_OF_TURN=adaptive). */
  COMPLETE_SILENCE_MS: num(DEFAULT_ENDPOINTING.completeSilenceMs),
  UNSURE_SILENCE_MS: num(DEFAULT_ENDPOINTING.unsureSilenceMs),
  /** Speech-to-text confidence below which words are never taken as finished (END_OF_TURN=adaptive). */
  COMPLETE_MIN_CONFIDENCE: z.coerce.number().min(0).max(1).default(DEFAULT_ENDPOINTING.completeMinConfidence),
  INCOMPLETE_SILENCE_MS: num(DEFAULT_ENDPOINTING.incompleteSilenceMs),
  /** The coordination schedule: one read per call per this much stream time (docs/ARCHITECTURE.md, "The hot path"). */
  TICK_MS: z.coerce.number().int().min(20).max(1000).default(DEFAULT_MEDIA_CONFIG.tickMs),
  /** The silent frame that makes this much silence after speech the same environment handled reads at once (0: off). */
  SPEECH_END_TICK_MS: z.coerce.number().int().min(0).max(1000).default(DEFAULT_MEDIA_CONFIG.speechEndTickMs),
  /** Longest call in seconds, from connect (API Gateway closes every connection at 2 hours regardless). */
  MAX_CALL_SECONDS: z.coerce.number().positive().max(7200).default(DEFAULT_MEDIA_CONFIG.maxCallMs / 1000),
  /**
   * Preemptive generation starts after this much silence; 0 turns it off. Unset: on (DEFAULT_MEDIA_CONFIG) with the
   * vendors, off with the offline engines — see `preemptionDefault`.
   */
  PREEMPT_SILENCE_MS: z.coerce.number().int().nonnegative().optional(),
  /** Who answers the caller: the rule responder (default; no AWS needed), or a language model on Amazon Bedrock. */
  RESPONDER: z.enum(['rules', 'bedrock']).default('rules'),
  /** A model id, inference profile id or ARN (lib/config.ts `responder.modelId`). */
  BEDROCK_MODEL_ID: z.string().min(1).default(DEFAULT_MODEL_ID),
  BEDROCK_MAX_TOKENS: z.coerce.number().int().min(16).max(4096).default(300),
  BEDROCK_TEMPERATURE: z.coerce.number().min(0).max(1).default(0.3),
  /** Local stack only: the Bedrock Runtime stand-in. Unset on AWS (the SDK's regional endpoint). */
  BEDROCK_ENDPOINT: z.url().optional(),
});

export type FunctionEnv = z.infer<typeof EnvSchema>;

export interface SpeechConfig {
  readonly providers: 'offline' | 'vendors';
  readonly promptCache: boolean;
  readonly offlineUrl?: string;
  readonly deepgram: { readonly baseUrl?: string; readonly model: string; readonly language: string };
  readonly elevenLabs: { readonly baseUrl?: string; readonly voiceId: string; readonly modelId: string };
}

export interface ResponderConfig {
  readonly kind: 'rules' | 'bedrock';
  readonly bedrock: { readonly modelId: string; readonly maxTokens: number; readonly temperature: number; readonly endpoint?: string };
}

export interface AppConfig {
  readonly tableName: string;
  /** The deployment's environment name (VOICE_AGENT_ENV). */
  readonly environment: string;
  /** How long calls and turns are kept (seconds). */
  readonly callRetentionSeconds: number;
  readonly dynamoEndpoint?: string;
  readonly speech: SpeechConfig;
  readonly media: MediaConfig;
  readonly turn: TurnRunnerConfig;
  readonly responder: ResponderConfig;
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
    environment: e[ENVIRONMENT_VARIABLE],
    callRetentionSeconds: e.CALL_RETENTION_HOURS * 3600,
    dynamoEndpoint: e.DYNAMODB_ENDPOINT,
    speech: {
      providers: e.SPEECH_PROVIDERS,
      promptCache: e.PROMPT_CACHE === 'on',
      offlineUrl: e.OFFLINE_SPEECH_URL,
      deepgram: { baseUrl: e.DEEPGRAM_BASE_URL, model: e.DEEPGRAM_MODEL, language: e.DEEPGRAM_LANGUAGE },
      elevenLabs: { baseUrl: e.ELEVENLABS_BASE_URL, voiceId: e.ELEVENLABS_VOICE_ID, modelId: e.ELEVENLABS_MODEL_ID },
    },
    media: {
      ...DEFAULT_ENDPOINTING,
      ...DEFAULT_MEDIA_CONFIG,
      speechThresholdDbfs: e.VAD_THRESHOLD_DBFS,
      endpointSilenceMs: e.ENDPOINT_SILENCE_MS,
      minSpeechMs: e.MIN_SPEECH_MS,
      bargeInMs: e.BARGE_IN_MS,
      endOfTurn: e.END_OF_TURN,
      completeSilenceMs: e.COMPLETE_SILENCE_MS,
      unsureSilenceMs: e.UNSURE_SILENCE_MS,
      completeMinConfidence: e.COMPLETE_MIN_CONFIDENCE,
      incompleteSilenceMs: e.INCOMPLETE_SILENCE_MS,
      tickMs: e.TICK_MS,
      speechEndTickMs: e.SPEECH_END_TICK_MS,
      maxCallMs: e.MAX_CALL_SECONDS * 1000,
      preemptSilenceMs: e.PREEMPT_SILENCE_MS ?? preemptionDefault(e.SPEECH_PROVIDERS),
    },
    turn: { ...DEFAULT_TURN_CONFIG, sttTimeoutMs: e.STT_TIMEOUT_MS, ttsTimeoutMs: e.TTS_TIMEOUT_MS },
    responder: {
      kind: e.RESPONDER,
      bedrock: { modelId: e.BEDROCK_MODEL_ID, maxTokens: e.BEDROCK_MAX_TOKENS, temperature: e.BEDROCK_TEMPERATURE, endpoint: e.BEDROCK_ENDPOINT },
    },
  };
}
