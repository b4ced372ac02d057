#!/usr/bin/env node
/**
 * CDK app: one VoiceAgent stack for the environment given as `-c env=dev|staging|prod` (default dev), checked by
 * cdk-nag's AwsSolutions rules on every synth (an unacknowledged finding fails the synth). Account-dependent
 * settings: `-c alarmEmail=…`, `-c provisioned=off`, `-c manageApiGatewayLogRole=false`, `-c accountConcurrency=N`
 * (lib/config.ts withDeployOverrides).
 */
import { App, Validations } from 'aws-cdk-lib';
import { AwsSolutionsChecks } from 'cdk-nag';
import { ENVIRONMENT_CONFIG, withDeployOverrides } from '../lib/config';
import { parseEnvName, stackName } from '../lib/environments';
import { VoiceAgentStack } from '../lib/voice-agent-stack';

const app = new App();
const envName = parseEnvName(app.node.tryGetContext('env'));
const { config, accountConcurrency } = withDeployOverrides(ENVIRONMENT_CONFIG[envName], (key) => app.node.tryGetContext(key));

new VoiceAgentStack(app, stackName(envName), {
  envName,
  config,
  accountConcurrency,
  env: { account: process.env.CDK_DEFAULT_ACCOUNT, region: process.env.CDK_DEFAULT_REGION },
  description: `Serverless voice agent (${envName}): API Gateway WebSocket + Lambda + DynamoDB`,
});
Validations.of(app).addPlugins(new AwsSolutionsChecks(app));
