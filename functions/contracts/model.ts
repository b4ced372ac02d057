/**
 * The language model a deployment answers with when its responder is `bedrock`: read by the functions (their
 * default), the CDK stack (IAM on exactly this model or inference profile) and the local stack (the stand-in).
 */

/**
 * Claude 3.5 Haiku through the US cross-region inference profile: a Haiku-class model (the latency class issue 16's
 * budget assumes). An inference profile's requests may be served in any of its Regions, so IAM must allow the profile
 * and the foundation model in each of them (lib/constructs/route-functions.ts).
 */
export const DEFAULT_MODEL_ID = 'us.anthropic.claude-3-5-haiku-20241022-v1:0';

/** An inference profile id (a geography prefix before the model id), as opposed to a foundation model id. */
export const isInferenceProfile = (modelId: string): boolean => /^(us|eu|apac|us-gov|global)\./.test(modelId);

/** The foundation model an inference profile id routes to (the id without its geography prefix). */
export const foundationModelOf = (modelId: string): string => (isInferenceProfile(modelId) ? modelId.slice(modelId.indexOf('.') + 1) : modelId);

/** The action a function that answers with the model needs, and nothing more. */
export const INVOKE_MODEL_STREAM_ACTION = 'bedrock:InvokeModelWithResponseStream';

/**
 * What IAM must allow for `modelId` from `region` / `account`: the foundation model; for an inference profile, the
 * profile and its foundation model in any Region (the profile routes a request to one of its Regions, and IAM checks
 * the model there). An ARN given as the id is allowed as it is.
 */
export function modelResourceArns(modelId: string, region: string, account: string): string[] {
  if (modelId.startsWith('arn:')) return [modelId];
  if (isInferenceProfile(modelId)) {
    return [`arn:aws:bedrock:${region}:${account}:inference-profile/${modelId}`, `arn:aws:bedrock:*::foundation-model/${foundationModelOf(modelId)}`];
  }
  return [`arn:aws:bedrock:${region}::foundation-model/${modelId}`];
}
