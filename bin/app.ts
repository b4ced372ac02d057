#!/usr/bin/env node
/**
 * CDK app: one VoiceAgent stack for the environment given as `-c env=dev|staging|prod` (default dev), checked by
 * cdk-nag's AwsSolutions rules on every synth (an unacknowledged finding fails the synth).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENVIRONMENT_CONFIG } from '../lib/config';
import { parseEnvName, stackName } from '../lib/environments';
import { VoiceAgentStack } from '../lib/voice-agent-stack';

const app = new App();
const envName = parseEnvName(app.node.tryGetContext('env'));
const alarmEmail: unknown = app.node.tryGetContext('alarmEmail');
const config = { ...ENVIRONMENT_CONFIG[envName], ...(typeof alarmEmail === 'string' && alarmEmail ? { alarmEmail } : {}) };

new VoiceAgentStack(app, stackName(envName), {
  envName,
  config,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `Serverless voice agent (${envName}): API Gateway WebSocket + Lambda + DynamoDB`,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
