/**
 * What every vendor adapter's retry policy is made of: which HTTP answers are worth asking again, how long the
 * server asked us to wait, the backoff between attempts, and a pause the caller's abort ends. Each adapter keeps its
 * own policy (how many attempts, what a deadline allows, what happens after the first audio byte); only the parts
 * they share live here.
 */

/** 429, 408 and 5xx are worth another attempt; any other 4xx will be answered the same way again. */
export const isRetryableStatus = (status: number): boolean => status === 429 || status === 408 || status >= 500;

/** A `Retry-After` header (seconds, or an HTTP date) in milliseconds from now; undefined when absent or unreadable. */
export function retryAfterMs(value: string | null | undefined): number | undefined {
  if (value === null || value === undefined || value === '') return undefined;
  const seconds = Number(value);
  if (Number.isFinite(seconds)) return Math.max(0, seconds * 1000);
  const date = Date.parse(value);
  return Number.isNaN(date) ? undefined : Math.max(0, date - Date.now());
}

/**
 * Exponential backoff before retry number `retry` (0 for the first retry): `baseMs · 2^retry`, capped at `capMs`,
 * times a random factor in `jitter` so that callers failed by the same outage do not come back in step.
 */
export function backoffMs(retry: number, baseMs: number, options: { readonly capMs?: number; readonly jitter: readonly [number, number] }): number {
  const [low, high] = options.jitter;
  return Math.min(options.capMs ?? Infinity, baseMs * 2 ** retry) * (low + (high - low) * Math.random());
}

/** What an aborted signal rejects with: its reason, or an AbortError when it gave none. */
export const abortReason = (signal: AbortSignal): unknown => signal.reason ?? new DOMException('aborted', 'AbortError');

/** Sleeps, unless the signal aborts first: then rejects with its reason. */
export function pause(ms: number, signal?: AbortSignal): Promise<void> {
  return new Promise((resolve, reject) => {
    if (signal?.aborted) return reject(abortReason(signal));
    const onAbort = () => {
      clearTimeout(timer);
      reject(abortReason(signal!));
    };
    const timer = setTimeout(() => {
      signal?.removeEventListener('abort', onAbort);
      resolve();
    }, ms);
    signal?.addEventListener('abort', onAbort, { once: true });
  });
}
