/**
 * The voice of a warm environment: who answers (RESPONDER, functions/wiring/responder.ts) and the speech services,
 * chosen by configuration (SPEECH_PROVIDERS): the local stack's offline
 * engines, or Deepgram + ElevenLabs (the vendors, or local stand-ins at DEEPGRAM_BASE_URL / ELEVENLABS_BASE_URL),
 * with their API keys read from the app secret. Synthesis goes through the static prompt cache, so the greeting,
 * re-prompts, goodbye and the fallback phrase play without a round trip once heard (or warmed at init).
 */
import { TELEPHONY_FORMAT } from '../contracts/audio-format';
import { type SpeechToText, type TextToSpeech } from '../domain/speech';
import { type TurnRunnerConfig } from '../domain/call/turn-runner';
import { splitSentences } from '../domain/call/sentences';
import type { Telemetry } from '../domain/call/model';
import type { Responder } from '../domain/responder/responder';
import { DeepgramSpeechToText } from '../providers/deepgram/prerecorded';
import { ElevenLabsTextToSpeech } from '../providers/elevenlabs/tts';
import { KeyedSpeechToText, KeyedTextToSpeech } from '../providers/keyed';
import { OfflineSpeechToText } from '../providers/offline/stt';
import { OfflineTextToSpeech } from '../providers/offline/tts';
import { StaticPromptCache } from '../providers/prompt-cache';
import type { ResponderConfig, SpeechConfig } from '../settings/config';
import { responderFor } from './responder';
import { appSecrets } from '../settings/secrets';

export interface SpeechServices {
  /** Who answers (RESPONDER): its static prompts are what the prompt cache keeps. */
  readonly responder: Responder;
  readonly stt: SpeechToText;
  readonly tts: StaticPromptCache;
  /**
   * Synthesizes the prompts a caller may hear before any vendor round trip could finish (greeting, fallback); with
   * `model`, readies the language model's connection too (the functions that may call it).
   */
  warm(options: { readonly model: boolean }): Promise<void>;
}

/** The speech services for this configuration: what a function that speaks passes to `useSpeech`. */
export function speechServices(config: { readonly speech: SpeechConfig; readonly turn: TurnRunnerConfig; readonly responder: ResponderConfig }, telemetry: Telemetry): SpeechServices {
  const { speech, turn } = config;
  const { responder, warm: warmResponder } = responderFor(config.responder);
  const { stt, tts } = speech.providers === 'vendors' ? vendors(speech, turn, telemetry) : offline(speech, turn);
  const cached = new StaticPromptCache(tts, {
    texts: speech.promptCache ? [...(responder.staticPrompts?.() ?? []), turn.fallbackText] : [],
    split: splitSentences,
  });
  const urgent = [responder.greet(responder.initialState()).text, turn.fallbackText].flatMap(splitSentences);
  return {
    responder,
    stt,
    tts: cached,
    warm: async (options) => {
      await Promise.all([options.model ? warmResponder() : undefined, warmSpeech()]);
    },
  };

  async function warmSpeech(): Promise<void> {
    // The offline engines are local and keep their own cache; the point is to save vendor round trips. With the
    // prompt cache off nothing is kept, but the synthesis still opens the vendor connection and compiles the SDK's
    // path before a caller needs it (measured: a reply-cache-off run's first reply in a fresh environment took
    // 1.1 s to its first byte against 0.15–0.2 s for the others).
    if (speech.providers !== 'vendors') return;
    for (const sentence of urgent) {
      for await (const _ of cached.synthesize(sentence, TELEPHONY_FORMAT)) {
        // draining records it
      }
    }
  }
}

function offline(speech: SpeechConfig, turn: TurnRunnerConfig): { stt: SpeechToText; tts: TextToSpeech } {
  // Routes that never speak (connect, stop, …) must start without speech settings: fail at use, not at init.
  const baseUrl = speech.offlineUrl ?? 'http://speech-provider-not-configured.invalid';
  return {
    stt: new OfflineSpeechToText({ baseUrl, timeoutMs: turn.sttTimeoutMs }),
    tts: new OfflineTextToSpeech({ baseUrl, timeoutMs: turn.ttsTimeoutMs }),
  };
}

function vendors(speech: SpeechConfig, turn: TurnRunnerConfig, telemetry: Telemetry): { stt: SpeechToText; tts: TextToSpeech } {
  const retried = () => telemetry.count('ProviderRetries');
  const stt = new KeyedSpeechToText(
    'deepgram',
    'deepgramApiKey',
    async () => (await appSecrets()).deepgramApiKey,
    (apiKey) =>
      new DeepgramSpeechToText({
        apiKey,
        baseUrl: speech.deepgram.baseUrl,
        model: speech.deepgram.model,
        language: speech.deepgram.language,
        // The adapter's own deadline (its retries inside it) ends before the turn runner's outer timeout.
        deadlineMs: Math.max(500, turn.sttTimeoutMs - 300),
        attemptTimeoutMs: 1500,
        onRetry: retried,
      }),
  );
  const tts = new KeyedTextToSpeech(
    'elevenlabs',
    'elevenLabsApiKey',
    async () => (await appSecrets()).elevenLabsApiKey,
    (apiKey) =>
      new ElevenLabsTextToSpeech({
        apiKey,
        baseUrl: speech.elevenLabs.baseUrl,
        voiceId: speech.elevenLabs.voiceId,
        modelId: speech.elevenLabs.modelId,
        onRetry: retried,
      }),
  );
  return { stt, tts };
}
