/**
 * The app secret: one JSON secret per environment with the callers' token and the vendor API keys, read by the
 * functions at init with Powertools Parameters (functions/settings/secrets.ts) — never an environment variable.
 */
import { RemovalPolicy, Validations } from 'aws-cdk-lib';
import { Secret } from 'aws-cdk-lib/aws-secretsmanager';
import { Construct } from 'constructs';

export interface AppSecretProps {
  /** Secret name, e.g. `voice-agent/dev`. */
  readonly secretName: string;
  readonly retain: boolean;
}

export class AppSecret extends Construct {
  readonly secret: Secret;

  constructor(scope: Construct, id: string, props: AppSecretProps) {
    super(scope, id);
    this.secret = new Secret(this, 'Secret', {
      secretName: props.secretName,
      description: 'Voice agent: caller token (voiceAgentToken), vendor keys (deepgramApiKey, elevenLabsApiKey, twilioAuthToken, twilioAccountSid) and phone numbers (transferNumber, twilioPhoneNumber)',
      // The token is generated at deploy time, so no value ever passes through the template or a shell history.
      // Vendor keys start empty and are set with `aws secretsmanager put-secret-value` (README, Deploying).
      generateSecretString: {
        // The optional phone settings (twilioAccountSid, transferNumber, twilioPhoneNumber) are not in the template:
        // changing GenerateSecretString on a deployed secret would generate its value again.
        secretStringTemplate: JSON.stringify({ deepgramApiKey: '', elevenLabsApiKey: '', twilioAuthToken: '' }),
        generateStringKey: 'voiceAgentToken',
        excludePunctuation: true,
        passwordLength: 40,
      },
      removalPolicy: props.retain ? RemovalPolicy.RETAIN : RemovalPolicy.DESTROY,
    });
    Validations.of(this.secret).acknowledge({
      id: 'AwsSolutions-SMG4',
      reason:
        'Vendor API keys are issued by Deepgram and ElevenLabs and cannot be rotated by a Lambda; the caller token is ' +
        'rotated by putting a new value (README, Deploying). Functions re-read the secret every few minutes.',
    });
  }
}
