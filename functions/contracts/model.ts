/**
 * The language model a deployment answers with when its responder is `bedrock`: read by the functions (their
 * default), the CDK stack (IAM on exactly this model or inference profile) and the local stack (the stand-in).
 */

/**
 * Claude Haiku 4.5 through the US geographic inference profile: a Haiku-class model (the latency class issue 16's
 * budget assumes; Claude 3.5 Haiku reached its end of life on 2026-06-19, Amazon Bedrock's model card). An inference
 * profile's requests may be served in any of its Regions, so IAM must allow the profile and the foundation model in
 * each of them (modelResourceArns). Anthropic models need a one-time use-case submission in the Bedrock console.
 */
export const DEFAULT_MODEL_ID = 'us.anthropic.claude-haiku-4-5-20251001-v1:0';

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
