/** Types of policy.cjs (see there). */
export interface Statement {
  /** Exact action names, e.g. `dynamodb:PutItem`. */
  readonly actions: readonly string[];
  /** Resource ARNs; `*` and `?` are wildcards. */
  readonly resources: readonly string[];
}
/** Access key id → the Allow statements of that identity. JSON-serializable (passed to child processes). */
export type PolicyTable = Readonly<Record<string, readonly Statement[]>>;
/** True when the identity may perform `action` on `resource`; keys that are no function's are allowed everything. */
export type IsAllowed = (accessKeyId: string | undefined, action: string, resource: string) => boolean;

export declare const ACCOUNT_ID: string;
export declare const REGION: string;
export declare const FUNCTION_KEY_PREFIX: string;
export declare function accessKeyIdOf(authorization: string | undefined): string | undefined;
export declare function principalArn(accessKeyId: string | undefined): string;
export declare function isAllowedBy(table: PolicyTable): IsAllowed;
