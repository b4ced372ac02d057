/**
 * Property-based bad input against the parser (functions/domain/protocol.ts) and the route handlers, in process:
 * any text or bytes either parse to a valid message or are refused with a ProtocolError and a short, non-empty
 * reason — never any other exception; valid messages round-trip; a single bad field is named in the reason.
 * A failure prints fast-check's seed and path; FC_SEED overrides the fixed seed to explore further.
 */
import type { Context } from 'aws-lambda';
import fc from 'fast-check';
import { ConnectedMessage, DtmfMessage, formatOf, MarkMessage, MediaMessage, parseMessage, ProtocolError, StartMessage, StopMessage } from '../../functions/domain/protocol';
import fallbackEvent from '../../events/fallback.json';
import { recordReliability } from '../support/reliability';
import { base64Of, invalidBase64, KINDS, normalized, singleFault, validMessage, withExtraFields, type Kind } from '../support/protocol-arbitraries';

// Set before the handlers (and their Powertools instances) load: output then goes through the global console.
process.env.POWERTOOLS_DEV = 'true';
process.env.POWERTOOLS_METRICS_DISABLED = 'false';
// Every invocation here comes from one connection id: the per-connection rate limit is not what is under test.
process.env.MESSAGE_RATE_LIMIT = '1000000000';
process.env.MESSAGE_BURST = '1000000000';

const SEED = Number(process.env.FC_SEED ?? 20261124);
const SCHEMAS = { connected: ConnectedMessage, start: StartMessage, media: MediaMessage, dtmf: DtmfMessage, mark: MarkMessage, stop: StopMessage } as const;
/** A reason goes into a log line per bad message: it must say something and stay short whatever the input. */
const MAX_REASON = 200;

type Outcome = { ok: true; value: Record<string, unknown> } | { ok: false; reason: string };
/** Parses, turning a ProtocolError into a refusal; anything else thrown escapes and fails the property. */
function outcome(kind: Kind, body: string | undefined, binary = false): Outcome {
  try {
    return { ok: true, value: parseMessage(SCHEMAS[kind], body, binary) as Record<string, unknown> };
  } catch (err) {
    if (!(err instanceof ProtocolError)) throw err;
    return { ok: false, reason: err.message };
  }
}

const goodReason = (reason: string) => reason.trim().length > 0 && reason.length <= MAX_REASON;

/** Runs a property, recording its measured counts for RELIABILITY.md whether it passes or not. */
async function property(tried: string, counts: { cases: number; refused: number; accepted: number }, run: () => void | Promise<void>) {
  let ok = false;
  try {
    await run();
    ok = true;
  } finally {
    recordReliability({
      area: 'bad input',
      tried,
      cases: counts.cases,
      outcome: `${counts.refused} refused with a reason, ${counts.accepted} accepted, ${ok ? 'no other exception' : 'property failed'}`,
      ok,
    });
  }
}

const anyKind = fc.constantFrom<Kind>(...KINDS);
/** Text of every sort: any UTF-16 (lone surrogates too), JSON of any shape, messages cut short, valid messages. */
const anyText = fc.oneof(
  fc.string({ unit: 'binary', maxLength: 300 }),
  fc.json({ maxDepth: 3 }),
  anyKind.chain((k) => validMessage(k)).chain((m) => fc.nat().map((at) => JSON.stringify(m).slice(0, at % (JSON.stringify(m).length + 1)))),
  anyKind.chain((k) => validMessage(k)).map((m) => JSON.stringify(m)),
  anyKind.chain((k) => singleFault(k)).map((f) => JSON.stringify(f.message)),
  // A key the schema refuses is part of the path: a reason built from it must still be short.
  fc
    .tuple(validMessage('start', { complete: true }), fc.string({ minLength: 200, maxLength: 3000 }))
    .map(([m, longKey]) => JSON.stringify({ ...m, start: { ...(m.start as object), customParameters: { [longKey]: 'v' } } })),
);

describe('parseMessage', () => {
  it('refuses any text it does not accept with a ProtocolError and a short reason, and throws nothing else', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('arbitrary text (any UTF-16, JSON, truncated and faulty messages) against every message schema, in process', counts, () =>
      fc.assert(
        fc.property(anyKind, anyText, (kind, body) => {
          counts.cases++;
          const result = outcome(kind, body);
          if (result.ok) {
            counts.accepted++;
            expect(result.value.event).toBe(kind);
          } else {
            counts.refused++;
            expect(goodReason(result.reason)).toBe(true);
          }
        }),
        { seed: SEED, numRuns: 600 },
      ),
    );
    expect(counts.refused).toBeGreaterThan(0);
    expect(counts.accepted).toBeGreaterThan(0);
  });

  it('refuses any bytes: binary frames always, their UTF-8 text unless it is a valid message', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('arbitrary bytes, as binary frames and as UTF-8 text, against every message schema, in process', counts, () =>
      fc.assert(
        fc.property(anyKind, fc.oneof(fc.uint8Array({ maxLength: 400 }), anyKind.chain((k) => validMessage(k)).map((m) => new Uint8Array(Buffer.from(JSON.stringify(m))))), (kind, bytes) => {
          counts.cases++;
          // API Gateway hands a binary frame over base64-encoded with isBase64Encoded set.
          const binary = outcome(kind, base64Of(bytes), true);
          expect(binary).toEqual({ ok: false, reason: 'binary frame: the protocol is JSON text' });
          const asText = outcome(kind, Buffer.from(bytes).toString('utf8'));
          if (asText.ok) counts.accepted++;
          else expect(goodReason(asText.reason)).toBe(true);
          counts.refused += asText.ok ? 1 : 2;
        }),
        { seed: SEED, numRuns: 300 },
      ),
    );
  });

  it('accepts every valid message, turns counters into numbers, changes nothing else, and round-trips', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('valid messages of every kind (counters as strings or numbers, optional fields present or not), in process', counts, () =>
      fc.assert(
        fc.property(anyKind.chain((k) => validMessage(k).map((m) => [k, m] as const)), ([kind, message]) => {
          counts.cases++;
          const parsed = outcome(kind, JSON.stringify(message));
          if (!parsed.ok) counts.refused++;
          expect(parsed).toEqual({ ok: true, value: normalized(message) });
          counts.accepted++;
          // What the parser returns is itself a valid message that parses to the same thing.
          expect(outcome(kind, JSON.stringify((parsed as { value: unknown }).value))).toEqual(parsed);
          if (kind === 'media') {
            const media = (message as { media: { payload: string } }).media;
            expect(base64Of(Buffer.from(media.payload, 'base64'))).toBe(media.payload);
          }
        }),
        { seed: SEED, numRuns: 400 },
      ),
    );
  });

  it('ignores extra fields on a valid message (they are stripped)', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('valid messages with extra fields at the top and in the body, in process', counts, () =>
      fc.assert(
        fc.property(anyKind.chain((k) => validMessage(k).chain((m) => withExtraFields(m).map((extra) => [k, m, extra] as const))), ([kind, message, extra]) => {
          counts.cases++;
          const parsed = outcome(kind, JSON.stringify(extra));
          if (parsed.ok) counts.accepted++;
          else counts.refused++;
          expect(parsed).toEqual({ ok: true, value: normalized(message) });
        }),
        { seed: SEED, numRuns: 300 },
      ),
    );
  });

  it('refuses a message with one field missing or mistyped, naming that field', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('messages of every kind with one field missing or of the wrong type, shape or size, in process', counts, () =>
      fc.assert(
        fc.property(anyKind.chain((k) => singleFault(k)), fc.boolean(), (fault, extra) => {
          counts.cases++;
          const body = extra ? fc.sample(withExtraFields(fault.message), { numRuns: 1, seed: counts.cases })[0]! : fault.message;
          const result = outcome(fault.kind, JSON.stringify(body));
          if (result.ok) {
            counts.accepted++;
            throw new Error(`accepted a ${fault.mutation} ${fault.path}: ${JSON.stringify(body)}`);
          }
          counts.refused++;
          expect(result.reason.startsWith(`invalid ${fault.path}:`) ? fault.path : result.reason).toBe(fault.path);
          expect(goodReason(result.reason)).toBe(true);
        }),
        { seed: SEED, numRuns: 600 },
      ),
    );
  });

  it('accepts the base64 of any bytes and refuses any broken base64 payload', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    const media = (payload: string) => JSON.stringify({ event: 'media', sequenceNumber: '1', streamSid: 'MZ1', media: { chunk: '1', timestamp: '0', payload } });
    await property('media payloads: base64 of random bytes, and base64 broken by insertion, foreign characters, truncation, padding or the URL-safe alphabet, in process', counts, () =>
      fc.assert(
        fc.property(fc.uint8Array({ maxLength: 600 }), invalidBase64, (bytes, broken) => {
          counts.cases += 2;
          const good = outcome('media', media(base64Of(bytes)));
          expect(good.ok).toBe(true);
          counts.accepted++;
          // What was accepted decodes to exactly the bytes sent (Node's decoder is lenient; the schema must not be).
          expect(Buffer.from((good as unknown as { value: { media: { payload: string } } }).value.media.payload, 'base64').equals(Buffer.from(bytes))).toBe(true);
          expect(outcome('media', media(broken))).toEqual({ ok: false, reason: 'invalid media.payload: payload is not valid base64' });
          counts.refused++;
        }),
        { seed: SEED, numRuns: 400 },
      ),
    );
  });

  it('maps every parsed start to a supported format or refuses it with a reason', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('declared media formats of parsed start messages (formatOf), in process', counts, () =>
      fc.assert(
        fc.property(validMessage('start'), (message) => {
          counts.cases++;
          const start = parseMessage(StartMessage, JSON.stringify(message));
          try {
            const format = formatOf(start);
            counts.accepted++;
            expect([{ encoding: 'mulaw', sampleRate: 8000 }, { encoding: 'pcm16', sampleRate: 16000 }]).toContainEqual(format);
          } catch (err) {
            expect(err).toBeInstanceOf(ProtocolError);
            counts.refused++;
            const declared = start.start.mediaFormat!;
            expect(declared.encoding === 'audio/x-mulaw' ? declared.sampleRate : declared.encoding === 'audio/l16' ? declared.sampleRate : 0).not.toBe(declared.encoding === 'audio/x-mulaw' ? 8000 : 16000);
          }
        }),
        { seed: SEED, numRuns: 200 },
      ),
    );
  });
});

// ---- the route handlers, in process -------------------------------------------------------------------------

const context = { functionName: 'test', awsRequestId: 'req-1', getRemainingTimeInMillis: () => 5000 } as unknown as Context;
let out: string[] = [];
const spies = (['log', 'info', 'warn', 'error'] as const).map((m) => jest.spyOn(console, m));
beforeAll(() => {
  for (const spy of spies) spy.mockImplementation(((line: string) => void out.push(String(line))) as never);
});
afterAll(() => {
  for (const spy of spies) spy.mockRestore();
});

type Handler = (event: unknown, context: Context) => Promise<{ statusCode: number; body?: string }>;
const handlers: Record<string, () => Promise<Handler>> = {
  $default: async () => (await import('../../functions/handlers/fallback')).handler as never,
  start: async () => (await import('../../functions/handlers/start')).handler as never,
  media: async () => (await import('../../functions/handlers/media')).handler as never,
  dtmf: async () => (await import('../../functions/handlers/dtmf')).handler as never,
  mark: async () => (await import('../../functions/handlers/mark')).handler as never,
  stop: async () => (await import('../../functions/handlers/stop')).handler as never,
};

/** One invocation: its result, and what it logged (the warning and the EMF document). */
async function invoke(route: string, body: string, isBase64Encoded = false) {
  out = [];
  const handler = await handlers[route]!();
  const result = await handler({ ...fallbackEvent, requestContext: { ...fallbackEvent.requestContext, routeKey: route }, body, isBase64Encoded }, context);
  const lines = out.map((l) => JSON.parse(l) as Record<string, unknown>);
  return { result, warning: lines.find((l) => l.message === 'invalid message'), emf: lines.find((l) => l._aws), errors: lines.filter((l) => l.level === 'ERROR') };
}

describe('route handlers', () => {
  it('$default: accepts only a valid connected message; refuses anything else with 400, a logged reason and one InvalidMessages', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    await property('arbitrary text and binary frames to the $default handler (fallback), in process', counts, () =>
      fc.assert(
        fc.asyncProperty(fc.oneof(anyText, validMessage('connected').chain(withExtraFields).map((m) => JSON.stringify(m))), fc.boolean(), async (body, binary) => {
          counts.cases++;
          const { result, warning, emf, errors } = await invoke('$default', binary ? Buffer.from(body).toString('base64') : body, binary);
          expect(errors).toEqual([]);
          const connected = !binary && outcome('connected', body).ok;
          if (connected) {
            counts.accepted++;
            expect({ result, warning, emf }).toEqual({ result: { statusCode: 200 }, warning: undefined, emf: undefined });
            return;
          }
          counts.refused++;
          expect(result.statusCode).toBe(400);
          expect(goodReason(result.body ?? '')).toBe(true);
          expect(warning).toMatchObject({ reason: result.body, level: 'WARN' });
          expect(emf).toMatchObject({ InvalidMessages: 1 });
        }),
        { seed: SEED, numRuns: 300 },
      ),
    );
  });

  it('start, media, dtmf, mark, stop: refuse what the parser refuses with 400 and its reason, before touching any service', async () => {
    const counts = { cases: 0, refused: 0, accepted: 0 };
    const routed = fc.constantFrom<Kind>('start', 'media', 'dtmf', 'mark', 'stop');
    const refusedBody = fc
      .tuple(routed, fc.oneof(anyText, routed.chain((k) => singleFault(k)).map((f) => JSON.stringify(f.message))), fc.boolean())
      .filter(([kind, body, binary]) => binary || !outcome(kind, body).ok);
    await property('text and binary frames the parser refuses, to the start/media/dtmf/mark/stop handlers, in process', counts, () =>
      fc.assert(
        fc.asyncProperty(refusedBody, async ([kind, body, binary]) => {
          counts.cases++;
          const expected = outcome(kind, binary ? Buffer.from(body).toString('base64') : body, binary) as { reason: string };
          // No table, no endpoint configured: a handler that went past the parser would fail with 500.
          const { result, warning, emf, errors } = await invoke(kind, binary ? Buffer.from(body).toString('base64') : body, binary);
          expect(errors).toEqual([]);
          expect(result).toEqual({ statusCode: 400, body: expected.reason });
          expect(warning).toMatchObject({ reason: expected.reason, route: kind });
          expect(emf).toMatchObject({ InvalidMessages: 1 });
          counts.refused++;
        }),
        { seed: SEED, numRuns: 300 },
      ),
    );
  });
});
