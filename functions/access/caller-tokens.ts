/**
 * Short-lived caller tokens for the browser page: `v1.<expiresEpochSeconds>.<nonce>.<mac>`, where mac is the
 * base64url HMAC-SHA256 of `v1.<expiresEpochSeconds>.<nonce>`.
 *
 * A page on the open web must never hold the long-lived `voiceAgentToken` (anyone could read it out of the page and
 * call for as long as it is valid). It gets one of these from `POST /browser/token` instead: good for a few minutes,
 * then worthless. They are keyed with the app secret's `voiceAgentToken` so no new secret has to be created, deployed
 * or rotated, and rotating the token revokes every browser token issued under the old one.
 *
 * Stateless on purpose: verifying needs no table lookup, so the `$connect` authorizer stays a pure function of the
 * secret. The cost is that a token can be replayed until it expires (the nonce only makes each token unique); the
 * short lifetime and the stage throttles bound what a replay can do.
 */
import { createHmac, randomBytes, timingSafeEqual } from 'node:crypto';

export const CALLER_TOKEN_VERSION = 'v1';
/** Long enough to fetch a token and press through a microphone prompt, short enough that a leaked one soon dies. */
export const DEFAULT_CALLER_TOKEN_LIFETIME_SECONDS = 300;
/**
 * Tokens claiming to live longer than this are refused even with a valid MAC: nothing this code issues does, so such
 * a token was minted elsewhere with the key (or by a misconfigured issuer) and should not open calls for days.
 */
export const MAX_CALLER_TOKEN_LIFETIME_SECONDS = 3600;

const NONCE_BYTES = 16;
const SHAPE = /^v1\.(\d{1,12})\.([A-Za-z0-9_-]{16,64})\.([A-Za-z0-9_-]{43})$/;

/**
 * What a token admits, each with its own key: a `caller-token` opens a connection (`?token=`, the browser page); a
 * `stream-ticket` admits a Twilio Media Stream's `start` (a `<Parameter>` of the TwiML that connected it). Neither can
 * stand in for the other.
 */
export type TokenPurpose = 'caller-token' | 'stream-ticket';

export type CallerTokenRejection = 'malformed' | 'unsupported version' | 'bad signature' | 'expired' | 'lifetime too long';

export type CallerTokenCheck = { readonly valid: true; readonly expiresAt: number } | { readonly valid: false; readonly reason: CallerTokenRejection };

export interface IssuedCallerToken {
  readonly token: string;
  /** Epoch seconds after which the token is refused. */
  readonly expiresAt: number;
}

/**
 * The MAC key, derived from the app secret's token rather than the token itself: a MAC computed here can then
 * never coincide with anything else keyed with that token, now or later (domain separation).
 */
function macKey(voiceAgentToken: string, purpose: TokenPurpose): Buffer {
  if (!voiceAgentToken) throw new Error('caller tokens need a non-empty voiceAgentToken as their key');
  return createHmac('sha256', voiceAgentToken).update(`voice-agent/${purpose}/v1`).digest();
}

const mac = (key: Buffer, payload: string) => createHmac('sha256', key).update(payload).digest();

const nowSeconds = (nowMs: number) => Math.floor(nowMs / 1000);

export function issueCallerToken(
  voiceAgentToken: string,
  options: { readonly lifetimeSeconds?: number; readonly nowMs?: number; readonly purpose?: TokenPurpose } = {},
): IssuedCallerToken {
  const lifetime = options.lifetimeSeconds ?? DEFAULT_CALLER_TOKEN_LIFETIME_SECONDS;
  if (!Number.isInteger(lifetime) || lifetime <= 0 || lifetime > MAX_CALLER_TOKEN_LIFETIME_SECONDS) {
    throw new Error(`caller token lifetime must be 1–${MAX_CALLER_TOKEN_LIFETIME_SECONDS} s, got ${lifetime}`);
  }
  const expiresAt = nowSeconds(options.nowMs ?? Date.now()) + lifetime;
  const payload = `${CALLER_TOKEN_VERSION}.${expiresAt}.${randomBytes(NONCE_BYTES).toString('base64url')}`;
  return { token: `${payload}.${mac(macKey(voiceAgentToken, options.purpose ?? 'caller-token'), payload).toString('base64url')}`, expiresAt };
}

/** Whether the string has the shape of a caller token at all (to tell "bad browser token" from "bad token" in logs). */
export const looksLikeCallerToken = (presented: string): boolean => presented.startsWith('v') && presented.split('.').length === 4;

/**
 * Checks a presented token: its shape, then its MAC (constant time), then its expiry. The MAC comes before the
 * expiry so that a reason other than "bad signature" is only ever given for a token this key issued.
 */
export function verifyCallerToken(
  presented: string,
  voiceAgentToken: string,
  options: { readonly nowMs?: number; readonly purpose?: TokenPurpose } = {},
): CallerTokenCheck {
  const parts = presented.split('.');
  if (parts.length === 4 && parts[0] !== CALLER_TOKEN_VERSION && /^v\d+$/.test(parts[0]!)) return { valid: false, reason: 'unsupported version' };
  const shape = SHAPE.exec(presented);
  if (!shape) return { valid: false, reason: 'malformed' };
  const expiresAt = Number(shape[1]);
  // Compared as text, not decoded bytes: the 43rd base64url character carries 2 bits that decoding ignores, so
  // comparing bytes would accept a token whose last character was changed. Both are 43 ASCII characters (SHAPE).
  const presentedMac = Buffer.from(shape[3]!, 'ascii');
  const expectedMac = Buffer.from(mac(macKey(voiceAgentToken, options.purpose ?? 'caller-token'), presented.slice(0, presented.lastIndexOf('.'))).toString('base64url'), 'ascii');
  if (presentedMac.length !== expectedMac.length || !timingSafeEqual(presentedMac, expectedMac)) return { valid: false, reason: 'bad signature' };
  const now = nowSeconds(options.nowMs ?? Date.now());
  if (expiresAt <= now) return { valid: false, reason: 'expired' };
  if (expiresAt - now > MAX_CALLER_TOKEN_LIFETIME_SECONDS) return { valid: false, reason: 'lifetime too long' };
  return { valid: true, expiresAt };
}

/** Whether a presented secret (the long-lived caller token) is the expected one, compared in constant time. */
export function sameSecret(presented: string, expected: string): boolean {
  const a = Buffer.from(presented);
  const b = Buffer.from(expected);
  return a.length === b.length && timingSafeEqual(a, b);
}

/**
 * Whether a request presents the long-lived token as `Authorization: Bearer <voiceAgentToken>` (the owner's routes:
 * placing calls, reading the call history), compared in constant time.
 */
export function presentsAppToken(authorization: string | undefined, voiceAgentToken: string): boolean {
  const bearer = /^Bearer (.+)$/.exec(authorization ?? '')?.[1];
  return bearer !== undefined && sameSecret(bearer, voiceAgentToken);
}
