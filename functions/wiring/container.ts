/**
 * What a warm execution environment keeps between invocations: clients and services, built on first use.
 * Only caches live here — never state a correct answer depends on.
 */
import { DynamoDBClient } from '@aws-sdk/client-dynamodb';
import { ApiGatewaySender, connectionsEndpoint } from '../adapters/connection-sender';
import { DynamoCallStore } from '../adapters/dynamo-call-store';
import { TwilioPhoneLine } from '../adapters/twilio-calls';
import { appSecrets } from '../settings/secrets';
import type { CallService } from '../domain/call/call-service';
import type { MediaProcessor } from '../domain/call/media-processor';
import type { CallStore, ConnectionSender, Telemetry } from '../domain/call/model';
import { wireCall } from '../domain/call/wiring';
import { frontDeskResponder } from '../domain/responder';
import type { Responder } from '../domain/responder/responder';
import type { SpeechToText, TextToSpeech } from '../domain/speech';
import { loadConfig, type AppConfig } from '../settings/config';
import type { SpeechServices } from './speech-services';
import { SpeechProviderError } from '../domain/speech';
import type { Permissions } from '../contracts/routes';
import type { WebSocketEvent } from '../lambda/route-handler';
import { telemetry } from '../lambda/observability';

export interface Services {
  readonly config: AppConfig;
  readonly store: CallStore;
  readonly sender: ConnectionSender;
  readonly calls: CallService;
  readonly media: MediaProcessor;
}

let base:
  | { config: AppConfig; store: CallStore; stt: SpeechToText; tts: TextToSpeech; responder: Responder; warmSpeech: SpeechServices['warm'] }
  | undefined;
const perEndpoint = new Map<string, Services>();

type SpeechFactory = (config: AppConfig, telemetry: Telemetry) => SpeechServices;
let speechFactory: SpeechFactory | undefined;

/**
 * Functions that speak (start, media, dtmf) say so in their handler module: `useSpeech(speechServices)`, before any
 * invocation or priming. The others never call it, so their bundles leave the speech adapters and vendor SDKs out
 * (megabytes of bundle, hundreds of ms of cold start they would never use).
 */
export function useSpeech(factory: SpeechFactory): void {
  speechFactory = factory;
}

const NO_SPEECH: Pick<SpeechServices, 'responder' | 'stt' | 'tts' | 'warm'> = (() => {
  const refuse = () => new SpeechProviderError('none', 'unavailable', 'this function has no speech services (its handler does not call useSpeech)');
  return {
    responder: frontDeskResponder,
    stt: { name: 'none', transcribe: async () => Promise.reject(refuse()) },
    tts: { name: 'none', synthesize: () => ({ [Symbol.asyncIterator]: () => ({ next: () => Promise.reject(refuse()) }) }) } as never,
    warm: async () => undefined,
  };
})();

function baseServices() {
  if (base) return base;
  const config = loadConfig();
  const dynamo = new DynamoDBClient(config.dynamoEndpoint ? { endpoint: config.dynamoEndpoint } : {});
  const store = new DynamoCallStore(config.tableName, dynamo, { environment: config.environment, callRetentionSeconds: config.callRetentionSeconds });
  // The functions that speak choose who answers (speech-services.ts); the others only greet or end calls.
  const speech = speechFactory ? speechFactory(config, telemetry) : NO_SPEECH;
  base = { config, store, stt: speech.stt, tts: speech.tts, responder: speech.responder, warmSpeech: speech.warm };
  return base;
}

/**
 * Builds the clients and makes one real request to each AWS API the function uses (a read of a key that does not
 * exist; a post to a connection that does not exist), so credentials, endpoints, signing and the HTTP connection
 * are ready before the first invocation.
 */
export async function primeServices(permissions: Permissions): Promise<void> {
  // A function with no table and no connections (fallback) has no CALLS_TABLE: nothing to prime.
  if (permissions.table.length === 0 && !permissions.manageConnections) return;
  const { store, warmSpeech } = baseServices();
  const endpoint = process.env.CONNECTIONS_ENDPOINT;
  // Only what the function may touch (functions/contracts/routes.ts): a request it is not allowed to make would be denied.
  await Promise.allSettled([
    permissions.table.length > 0 ? store.getCall('__prime__') : undefined,
    endpoint && permissions.manageConnections
      ? servicesFor({ requestContext: { domainName: '', stage: '' } } as never).sender.send('__prime__', '{}')
      : undefined,
    // Functions that speak: the greeting and the fallback phrase, synthesized once, play without a round trip.
    permissions.speech ? warmSpeech({ model: permissions.model }) : undefined,
  ]);
}

/** Services bound to the API whose event this is (its @connections endpoint). */
export function servicesFor(event: Pick<WebSocketEvent, 'requestContext'>): Services {
  const endpoint = connectionsEndpoint(event.requestContext.domainName, event.requestContext.stage);
  let services = perEndpoint.get(endpoint);
  if (services) return services;
  const { config, store, stt, tts, responder } = baseServices();
  const sender = new ApiGatewaySender(endpoint);
  const now = () => Date.now();
  // Functions that may read the app secret can reach Twilio's REST API (transfers); the others never try.
  const phoneLine = process.env.APP_SECRET_ID ? new TwilioPhoneLine(appSecrets) : undefined;
  const { calls, media } = wireCall({ store, sender, stt, tts, responder, telemetry, turnConfig: config.turn, mediaConfig: config.media, now, phoneLine });
  services = { config, store, sender, calls, media };
  perEndpoint.set(endpoint, services);
  return services;
}

/** Closes the caller's connection (DeleteConnection); API Gateway then runs `$disconnect`, which ends the call. */
export const closeCaller = (event: Pick<WebSocketEvent, 'requestContext'> & { requestContext: { connectionId: string } }): Promise<void> =>
  servicesFor(event).sender.close(event.requestContext.connectionId);
