/**
 * Who answers the caller in this environment (RESPONDER): the front desk's rules, or the front desk agent on a
 * language model (Amazon Bedrock's ConverseStream, or the local stand-in at BEDROCK_ENDPOINT), with the rules as
 * its fallback when the model fails.
 */
import { frontDeskResponder } from '../domain/responder';
import { FRONT_DESK_AGENT } from '../domain/responder/front-desk-agent';
import { createModelResponder } from '../domain/responder/model-responder';
import type { Responder } from '../domain/responder/responder';
import { BedrockLanguageModel } from '../providers/bedrock/converse-stream';
import type { ResponderConfig } from '../settings/config';

export interface ResponderChoice {
  readonly responder: Responder;
  /** Readies the model's connection at init (no tokens spent); nothing for the rules. */
  warm(): Promise<void>;
}

export function responderFor(config: ResponderConfig): ResponderChoice {
  if (config.kind === 'rules') return { responder: frontDeskResponder, warm: async () => undefined };
  const { modelId, maxTokens, temperature, endpoint } = config.bedrock;
  const model = new BedrockLanguageModel({ modelId, endpoint, retries: 1, firstEventMs: 3000, idleMs: 2000 });
  return {
    responder: createModelResponder(FRONT_DESK_AGENT, { model, fallback: frontDeskResponder, maxTokens, temperature }),
    warm: () => model.warm(),
  };
}
