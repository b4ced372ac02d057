#!/usr/bin/env node
/** CDK app: one VoiceAgent stack for the environment given as `-c env=dev|staging|prod` (default dev). */
import { App } from 'aws-cdk-lib';
import { parseEnvName, stackName } from '../lib/environments';
import { VoiceAgentStack } from '../lib/voice-agent-stack';

const app = new App();
const envName = parseEnvName(app.node.tryGetContext('env'));
const token: unknown = app.node.tryGetContext('voiceAgentToken') ?? process.env.VOICE_AGENT_TOKEN;

new VoiceAgentStack(app, stackName(envName), {
  envName,
  // TODO(secrets): move VOICE_AGENT_TOKEN to Secrets Manager (later issue); a plain value is a stopgap.
  voiceAgentToken: typeof token === 'string' && token !== '' ? token : undefined,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `Serverless voice agent (${envName}): API Gateway WebSocket + Lambda + DynamoDB`,
});
