/** Helpers for the async streams a turn pulls from its providers: prefetching, replaying, timeouts, joining bytes. */
import { SpeechProviderError } from '../speech';

/** Starts pulling the first chunk now (the request goes out), and hands it over when asked for. */
export function prefetch<T>(iterator: AsyncIterator<T>): AsyncIterator<T> {
  let first: Promise<IteratorResult<T>> | undefined = iterator.next();
  first.catch(() => undefined); // observed when consumed; an unused prefetch must not be an unhandled rejection
  return {
    next: () => {
      const r = first ?? iterator.next();
      first = undefined;
      return r;
    },
    return: async (value?: unknown) => {
      first = undefined;
      return (await iterator.return?.(value)) ?? { done: true, value: undefined as T };
    },
  };
}

/** An iterator that yields `first` (already pulled from `rest`), then the rest of `rest`. */
export function prepend<T>(first: IteratorResult<T>, rest: AsyncIterator<T>): AsyncIterator<T> & { return(value?: unknown): Promise<IteratorResult<T>> } {
  let pending: IteratorResult<T> | undefined = first;
  return {
    next: async () => {
      if (pending) {
        const r = pending;
        pending = undefined;
        return r;
      }
      return rest.next();
    },
    return: async (value?: unknown) => {
      pending = undefined;
      await rest.return?.(value);
      return { done: true, value: undefined as T };
    },
  };
}

export function concat(a: Uint8Array, b: Uint8Array): Uint8Array {
  if (a.byteLength === 0) return b;
  const out = new Uint8Array(a.byteLength + b.byteLength);
  out.set(a, 0);
  out.set(b, a.byteLength);
  return out;
}

export async function withTimeout<T>(work: (signal: AbortSignal) => Promise<T>, ms: number, provider: string): Promise<T> {
  const controller = new AbortController();
  let timer: NodeJS.Timeout | undefined;
  const timeout = new Promise<never>((_, reject) => {
    timer = setTimeout(() => {
      controller.abort();
      reject(new SpeechProviderError(provider, 'timeout', `no answer within ${ms} ms`));
    }, ms);
  });
  try {
    return await Promise.race([work(controller.signal), timeout]);
  } finally {
    clearTimeout(timer);
  }
}

/** Fails a stream that stalls: each chunk must arrive within `ms` of the previous one; the request is aborted. */
export async function* withStreamTimeout<T>(
  open: (signal: AbortSignal) => AsyncIterable<T>,
  ms: number,
  provider: string,
): AsyncGenerator<T> {
  const controller = new AbortController();
  const iterator = open(controller.signal)[Symbol.asyncIterator]();
  let finished = false;
  try {
    while (true) {
      const next = await withTimeout(() => iterator.next(), ms, provider);
      if (next.done) {
        finished = true;
        return;
      }
      yield next.value;
    }
  } finally {
    if (!finished) {
      controller.abort();
      // Not awaited: a stalled stream may never settle its pending next().
      iterator.return?.()?.catch(() => undefined);
    }
  }
}

/**
 * The chunks of a synthesis stream that may break. Once the caller has begun hearing it (`begun`, given the bytes
 * received of this stream), a broken stream is opened again once and the bytes already received are skipped: the
 * caller hears a short gap instead of a reply cut off. A break before anything began, or a second one, is thrown.
 * Errors of the consumer never reach here: they end the loop, which closes the stream.
 */
export async function* reopenedOnce(
  first: AsyncIterator<Uint8Array>,
  reopen: () => AsyncIterator<Uint8Array>,
  on: { readonly begun: (received: number) => boolean; readonly onReopen: (err: unknown) => void },
): AsyncGenerator<Uint8Array> {
  let stream = first;
  let received = 0;
  let skip = 0;
  let reopened = false;
  for (;;) {
    try {
      for await (let chunk of { [Symbol.asyncIterator]: () => stream }) {
        if (skip > 0) {
          const drop = Math.min(skip, chunk.byteLength);
          skip -= drop;
          chunk = chunk.subarray(drop);
          if (chunk.byteLength === 0) continue;
        }
        received += chunk.byteLength;
        yield chunk;
      }
      return;
    } catch (err) {
      if (reopened || !on.begun(received)) throw err;
      reopened = true;
      on.onReopen(err);
      skip = received;
      stream = reopen();
    }
  }
}

/** The same items, calling `first` once when the first one arrives (a stage's clock). */
export async function* onFirst<T>(items: AsyncIterable<T>, first: () => void): AsyncGenerator<T> {
  let seen = false;
  for await (const item of items) {
    if (!seen) {
      seen = true;
      first();
    }
    yield item;
  }
}
