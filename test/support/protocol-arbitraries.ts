/**
 * fast-check arbitraries for the Twilio Media Streams protocol (functions/domain/protocol.ts): valid messages of
 * every kind, single-fault mutations that name the field the parser must blame, invalid base64, and the tagged bad
 * input the stack test throws at a live call (each with the reason the system must log, or none if it must accept).
 */
import fc from 'fast-check';

export type Kind = 'connected' | 'start' | 'media' | 'dtmf' | 'mark' | 'stop';
export const KINDS: readonly Kind[] = ['connected', 'start', 'media', 'dtmf', 'mark', 'stop'];
export type Msg = Record<string, unknown>;

/** Well-formed Unicode text (lone surrogates would not survive UTF-8 on the wire) of at most `maxUnits` UTF-16 units. */
export const text = (minUnits: number, maxUnits: number) =>
  fc.string({ unit: 'grapheme', minLength: minUnits, maxLength: Math.max(minUnits, Math.min(maxUnits, 40)) }).filter((s) => s.length >= minUnits && s.length <= maxUnits);

// ---- valid pieces ------------------------------------------------------------------------------------------

/** Twilio sends counters as decimal strings; our clients may send numbers. */
export const counter = fc.oneof(fc.nat({ max: 999_999_999 }).map(String), fc.nat({ max: 999_999_999 }));
export const base64Of = (bytes: Uint8Array) => Buffer.from(bytes).toString('base64');
export const payload = fc.uint8Array({ maxLength: 320 }).map(base64Of);
const digit = fc.constantFrom(...'0123456789*#ABCD'.split(''));
/** Record keys: not `__proto__`, which a plain object literal cannot hold as data. */
const key = (max: number) => text(0, max).filter((k) => k !== '__proto__');
const mediaFormat = fc.record({
  encoding: fc.constantFrom('audio/x-mulaw', 'audio/l16'),
  sampleRate: fc.constantFrom(8000, 16000),
  channels: fc.constant(1),
});

export interface ValidOptions {
  /** Every optional key present (mutations of nested fields then have a parent to live in). */
  readonly complete?: boolean;
  readonly streamSid?: string;
}

const rec = <T extends Record<string, fc.Arbitrary<unknown>>>(model: T, required: (keyof T)[], complete: boolean) =>
  complete ? fc.record(model) : fc.record(model, { requiredKeys: required as never });

/** A message of `kind` the parser must accept. */
export function validMessage(kind: Kind, options: ValidOptions = {}): fc.Arbitrary<Msg> {
  const complete = options.complete ?? false;
  const sid = options.streamSid !== undefined ? fc.constant(options.streamSid) : text(1, 128);
  switch (kind) {
    case 'connected':
      return rec({ event: fc.constant('connected'), protocol: text(0, 20), version: text(0, 20) }, ['event'], complete);
    case 'media':
      return fc.record({
        event: fc.constant('media'),
        sequenceNumber: counter,
        streamSid: sid,
        media: rec({ track: text(0, 32), chunk: counter, timestamp: counter, payload }, ['chunk', 'timestamp', 'payload'], complete),
      });
    case 'dtmf':
      return fc.record({ event: fc.constant('dtmf'), sequenceNumber: counter, streamSid: sid, dtmf: rec({ track: text(0, 32), digit }, ['digit'], complete) });
    case 'mark':
      return fc.record({ event: fc.constant('mark'), sequenceNumber: counter, streamSid: sid, mark: fc.record({ name: text(1, 256) }) });
    case 'stop':
      return rec(
        { event: fc.constant('stop'), sequenceNumber: counter, streamSid: sid, stop: rec({ accountSid: text(0, 128), callSid: text(0, 128) }, [], complete) },
        ['event', 'sequenceNumber', 'streamSid'],
        complete,
      );
    case 'start':
      return sid.chain((s) =>
        fc.record({
          event: fc.constant('start'),
          sequenceNumber: counter,
          streamSid: fc.constant(s),
          start: rec(
            {
              streamSid: fc.constant(s),
              accountSid: text(0, 128),
              callSid: text(0, 128),
              tracks: fc.array(text(0, 32), { maxLength: 4 }),
              customParameters: fc.dictionary(key(64), text(0, 512), { maxKeys: 4 }),
              mediaFormat,
            },
            ['streamSid'],
            complete,
          ),
        }),
      );
  }
}

/** What the parser must return for a valid message: counters as numbers, nothing else changed. */
export function normalized(message: Msg): Msg {
  const out = structuredClone(message);
  if ('sequenceNumber' in out) out.sequenceNumber = Number(out.sequenceNumber);
  const media = out.media as Record<string, unknown> | undefined;
  if (media && out.event === 'media') {
    media.chunk = Number(media.chunk);
    media.timestamp = Number(media.timestamp);
  }
  return out;
}

// ---- single faults -----------------------------------------------------------------------------------------

const notAnObject = fc.oneof(fc.string({ maxLength: 10 }), fc.integer(), fc.constant(null), fc.boolean(), fc.array(fc.nat(), { maxLength: 2 }));
const tooLong = (max: number) => fc.string({ minLength: max + 1, maxLength: max + 20 }).filter((s) => s.length > max);
const notText = (max: number) => fc.oneof(tooLong(max), fc.integer(), fc.constant(null), fc.boolean(), fc.constant({}), fc.constant([]));
const notSid = fc.oneof(fc.constant(''), notText(128));
const notCounter = fc.oneof(
  fc.integer({ min: -1e9, max: -1 }),
  fc.double({ noNaN: true, noDefaultInfinity: true }).filter((d) => !Number.isInteger(d)),
  fc.constantFrom(2 ** 53, 1e20, '-1', '1.5', '', ' 1', '1e3', '0x1f', 'abc', '1234567890123456', '١٢', null, true, false, {}, []),
);

interface Field {
  readonly path: readonly string[];
  readonly required: boolean;
  readonly bad: fc.Arbitrary<unknown>;
}
const common = (body: string): Field[] => [
  { path: ['sequenceNumber'], required: true, bad: notCounter },
  { path: ['streamSid'], required: true, bad: notSid },
  { path: [body], required: true, bad: notAnObject },
];
/** Every field of every message with a value of the wrong type, shape or size. (`event` is the route, not a field.) */
export const FIELDS: Readonly<Record<Exclude<Kind, 'connected'>, readonly Field[]>> & { connected: readonly Field[] } = {
  connected: [
    { path: ['protocol'], required: false, bad: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant({})) },
    { path: ['version'], required: false, bad: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant([])) },
  ],
  media: [
    ...common('media'),
    { path: ['media', 'track'], required: false, bad: notText(32) },
    { path: ['media', 'chunk'], required: true, bad: notCounter },
    { path: ['media', 'timestamp'], required: true, bad: notCounter },
    { path: ['media', 'payload'], required: true, bad: fc.oneof(fc.integer(), fc.constant(null), fc.boolean(), fc.constant({}), fc.constant([])) },
  ],
  dtmf: [
    ...common('dtmf'),
    { path: ['dtmf', 'track'], required: false, bad: notText(32) },
    { path: ['dtmf', 'digit'], required: true, bad: fc.constantFrom('', '12', 'E', 'a', '#1', ' 1', '1 ', '١', 1, null, true, {}) },
  ],
  mark: [...common('mark'), { path: ['mark', 'name'], required: true, bad: fc.oneof(fc.constant(''), notText(256)) }],
  stop: [
    { path: ['sequenceNumber'], required: true, bad: notCounter },
    { path: ['streamSid'], required: true, bad: notSid },
    { path: ['stop'], required: false, bad: notAnObject },
    { path: ['stop', 'accountSid'], required: false, bad: notText(128) },
    { path: ['stop', 'callSid'], required: false, bad: notText(128) },
  ],
  start: [
    ...common('start'),
    { path: ['start', 'streamSid'], required: true, bad: notSid },
    { path: ['start', 'accountSid'], required: false, bad: notText(128) },
    { path: ['start', 'callSid'], required: false, bad: notText(128) },
    { path: ['start', 'tracks'], required: false, bad: fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant({}), fc.constant(['a', 'b', 'c', 'd', 'e'])) },
    { path: ['start', 'tracks', '0'], required: false, bad: notText(32) }, // mistyped only: deleting from [] changes nothing
    { path: ['start', 'customParameters'], required: false, bad: fc.oneof(fc.string({ maxLength: 5 }), fc.integer(), fc.constant(null), fc.constant([1])) },
    { path: ['start', 'customParameters', 'k'], required: false, bad: notText(512) },
    { path: ['start', 'mediaFormat'], required: false, bad: notAnObject },
    { path: ['start', 'mediaFormat', 'encoding'], required: true, bad: fc.constantFrom('audio/wav', 'audio/x-alaw', 'audio/L16', '', 7, null) },
    { path: ['start', 'mediaFormat', 'sampleRate'], required: true, bad: fc.constantFrom(44100, 8000.5, '8000', 0, -8000, null) },
    { path: ['start', 'mediaFormat', 'channels'], required: true, bad: fc.constantFrom(2, 0, '1', null, true) },
  ],
};

function setAt(message: Msg, path: readonly string[], value: unknown, remove: boolean): Msg {
  const out = structuredClone(message);
  let node = out as Record<string, unknown>;
  for (const step of path.slice(0, -1)) {
    if (typeof node[step] !== 'object' || node[step] === null) node[step] = {};
    node = node[step] as Record<string, unknown>;
  }
  const last = path[path.length - 1]!;
  if (remove) delete node[last];
  else node[last] = value;
  return out;
}

export interface Fault {
  readonly kind: Kind;
  readonly message: Msg;
  readonly mutation: 'missing' | 'mistyped';
  /** The field the parser must blame: its reason starts with `invalid <path>:`. */
  readonly path: string;
}

/** A valid message of `kind` with one field missing or mistyped. */
export function singleFault(kind: Kind, options: ValidOptions = {}): fc.Arbitrary<Fault> {
  const fields = FIELDS[kind];
  return fc
    .tuple(validMessage(kind, { ...options, complete: true }), fc.constantFrom(...fields))
    .chain(([message, field]) =>
      (field.required ? fc.constantFrom<'missing' | 'mistyped'>('missing', 'mistyped') : fc.constant<'mistyped'>('mistyped')).chain((mutation) =>
        (mutation === 'missing' ? fc.constant(undefined) : field.bad).map((bad) => ({
          kind,
          message: setAt(message, field.path, bad, mutation === 'missing'),
          mutation,
          path: field.path.join('.'),
        })),
      ),
    );
}

/** Extra keys at the top and in the nested object: the schemas ignore what they do not know. */
export function withExtraFields(message: Msg): fc.Arbitrary<Msg> {
  // Never a key a schema knows, at any level: an extra `chunk` would put back a field a fault removed.
  const known = new Set(Object.values(FIELDS).flatMap((fields) => fields.flatMap((f) => f.path)).concat(['event', 'k', '0']));
  const extras = fc.dictionary(
    key(12).filter((k) => !known.has(k)),
    fc.jsonValue({ maxDepth: 2 }),
    { minKeys: 1, maxKeys: 3 },
  );
  return fc.tuple(extras, extras).map(([top, nested]) => {
    const out = { ...structuredClone(message), ...top };
    const body = typeof message.event === 'string' ? out[message.event] : undefined;
    if (body && typeof body === 'object' && !Array.isArray(body)) {
      const bodyKeys = new Set(Object.keys(body));
      out[message.event as string] = { ...Object.fromEntries(Object.entries(nested).filter(([k]) => !bodyKeys.has(k) && !known.has(k))), ...body };
    }
    return out;
  });
}

// ---- invalid base64 ----------------------------------------------------------------------------------------

const NOT_BASE64 = [' ', '\n', '\t', '-', '_', '.', '!', '%', '~', '*', 'é', '\u0000', '\u00a0', '😀'];
/** Base64 of some bytes, broken one way: any one inserted character (length no longer a multiple of 4), a character
 *  outside the alphabet, truncation, excess padding, the URL-safe alphabet. */
export const invalidBase64 = fc
  .tuple(fc.uint8Array({ minLength: 1, maxLength: 300 }).map(base64Of), fc.nat(), fc.constantFrom(...NOT_BASE64), fc.constantFrom('=', 'A', '+', '/', ...NOT_BASE64))
  .chain(([b64, at, foreign, anyChar]) => {
    const i = at % (b64.length + 1);
    const j = at % b64.length;
    return fc.constantFrom(
      b64.slice(0, i) + anyChar + b64.slice(i), // one more character: length % 4 === 1
      b64.slice(0, j) + foreign + b64.slice(j + 1), // a character outside the alphabet
      b64.slice(0, b64.length - 1 - (at % 3)), // truncated
      b64 + (b64.endsWith('=') ? '=' : '===='), // excess padding
      b64.includes('+') || b64.includes('/') ? b64.replace(/\+/g, '-').replace(/\//g, '_') : b64.slice(0, j) + '-' + b64.slice(j + 1), // URL-safe
    );
  });

// ---- tagged bad input for a live call ----------------------------------------------------------------------

/** What the system must do with a message: accept it silently, or refuse it with exactly this reason (or prefix). */
export type Expectation = { readonly refused: false } | { readonly refused: true; readonly reason: string; readonly prefix?: boolean };

export interface BadInput {
  readonly category: string;
  readonly data: string | Uint8Array;
  readonly binary: boolean;
  readonly expect: Expectation;
}

const refused = (reason: string, prefix = false): Expectation => ({ refused: true, reason, prefix });
const json = (category: string, message: unknown, expect: Expectation): BadInput => ({ category, data: JSON.stringify(message), binary: false, expect });
export const SUPPORTED_FORMATS = [undefined, { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 }, { encoding: 'audio/l16', sampleRate: 16000, channels: 1 }];
const ROUTED = new Set(['start', 'media', 'dtmf', 'mark', 'stop']);

/** Whether `reason` is the one `expect` asks for. A prefix reason names a field: `invalid media.chunk:` not `invalid media:`. */
export function reasonMatches(reason: string, expect: Expectation): boolean {
  if (!expect.refused) return false;
  return expect.prefix ? reason.startsWith(expect.reason) : reason === expect.reason;
}

export interface LiveCall {
  readonly streamSid: string;
  readonly format: 'mulaw' | 'pcm16';
}

/**
 * Bad input for a call that is streaming (after `start`, before `stop`), sent on its own connection. Only
 * `connected` and segment marks with extra fields are valid; they must change nothing. Everything stays under the
 * gateway's 32 KB frame limit (oversize is tested on its own: the gateway closes the connection).
 */
export function badInputFor(call: LiveCall): fc.Arbitrary<BadInput> {
  const sid = call.streamSid;
  const live = { streamSid: sid };
  const anyValid = fc.constantFrom<Kind>(...KINDS).chain((k) => validMessage(k, live));
  const foreignSid = text(1, 128).filter((s) => s !== sid);

  const categories: fc.Arbitrary<BadInput>[] = [
    // Not JSON: a valid message cut short, or free text that does not parse.
    fc.oneof(
      fc.tuple(anyValid, fc.nat()).map(([m, at]) => JSON.stringify(m).slice(0, at % JSON.stringify(m).length)),
      fc.string({ unit: 'grapheme', maxLength: 200 }).filter((s) => {
        try {
          JSON.parse(s);
          return false;
        } catch {
          return true;
        }
      }),
    ).map((data) => ({ category: 'malformed JSON', data, binary: false, expect: refused('malformed JSON') })),
    // Binary frames, including the bytes of a perfectly valid message.
    fc.oneof(fc.uint8Array({ maxLength: 2000 }), anyValid.map((m) => new Uint8Array(Buffer.from(JSON.stringify(m))))).map((data) => ({
      category: 'binary frame',
      data,
      binary: true,
      expect: refused('binary frame: the protocol is JSON text'),
    })),
    // JSON with no usable event: not an object, no event, an event that is not a string.
    fc
      .oneof(
        fc.jsonValue({ maxDepth: 2 }).filter((v) => typeof v !== 'object' || v === null || Array.isArray(v)),
        fc.dictionary(key(10).filter((k) => k !== 'event'), fc.jsonValue({ maxDepth: 1 }), { maxKeys: 3 }),
        fc.tuple(fc.oneof(fc.integer(), fc.boolean(), fc.constant(null), fc.constant({}), fc.constant(['media'])), anyValid).map(([event, m]) => ({ ...m, event })),
      )
      .map((m) => json('no event', m, refused('message has no event'))),
    // Unknown events: $default, case variants, server→client events, anything else.
    fc
      .tuple(
        fc.oneof(fc.constantFrom('clear', 'Media', 'MEDIA', ' media', 'hello', '$default', '$connect', '$disconnect', 'connected ', 'voiceagent.turn', ''), text(0, 60)),
        anyValid,
      )
      .filter(([event]) => !ROUTED.has(event) && event !== 'connected')
      .map(([event, m]) => json('unknown event', { ...m, event }, refused(`unknown event '${event.slice(0, 40)}'`))),
    // One field missing or mistyped, on a message of any kind, sometimes with extra fields too.
    fc
      .tuple(fc.constantFrom<Kind>(...KINDS), fc.boolean())
      .chain(([kind, extra]) => singleFault(kind, live).chain((f) => (extra ? withExtraFields(f.message) : fc.constant(f.message)).map((m) => ({ f, m }))))
      .map(({ f, m }) => json(`${f.mutation} field`, m, refused(`invalid ${f.path}:`, true))),
    // Invalid base64 payloads on the call's own stream.
    fc.tuple(validMessage('media', live), invalidBase64).map(([m, p]) =>
      json('invalid base64', { ...m, media: { ...(m.media as Msg), payload: p } }, refused('invalid media.payload: payload is not valid base64')),
    ),
    // Media in a format the call did not declare: empty, or (on a 16-bit PCM call) an odd number of bytes. These
    // pass the parser, so their timestamp must be plausible: a frame whose stream time runs more than 3 s ahead of
    // the time since connect ends the call by design (faster than real time), before its payload is looked at.
    fc.tuple(validMessage('media', live), fc.nat({ max: 999 })).map(([m, n]) => {
      const media = { ...(m.media as Msg), timestamp: String(n) };
      return call.format === 'pcm16' && n > 0
        ? json('odd-length pcm16', { ...m, media: { ...media, payload: base64Of(new Uint8Array(2 * n - 1).fill(n & 0xff)) } }, refused('pcm16 payload has an odd number of bytes'))
        : json('empty payload', { ...m, media: { ...media, payload: '' } }, refused('media payload is empty'));
    }),
    // `start` again: the same stream, a declared format the agent cannot take, or start.streamSid disagreeing.
    fc.tuple(validMessage('start', live), foreignSid, fc.constantFrom(0, 1, 2, 3), fc.constantFrom(...SUPPORTED_FORMATS)).map(([m, other, variant, format]) => {
      const start = { ...(m.start as Msg), mediaFormat: format };
      if (format === undefined) delete start.mediaFormat;
      if (variant === 1) return json('start with an unsupported rate', { ...m, start: { ...start, mediaFormat: { encoding: 'audio/l16', sampleRate: 8000, channels: 1 } } }, refused('audio/l16 is only supported at 16000 Hz'));
      if (variant === 2) return json('start with an unsupported rate', { ...m, start: { ...start, mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 16000, channels: 1 } } }, refused('audio/x-mulaw is only supported at 8000 Hz'));
      if (variant === 3) return json('start.streamSid mismatch', { ...m, start: { ...start, streamSid: other } }, refused('start.streamSid does not match streamSid'));
      return json('start twice', { ...m, start }, refused('start twice'));
    }),
    // Another stream's messages on this connection (stop is left out: see the stack test's known-bug case).
    fc.tuple(fc.constantFrom<Kind>('media', 'dtmf', 'mark'), foreignSid).chain(([kind, other]) =>
      fc.tuple(validMessage(kind, { streamSid: other }), fc.nat({ max: 999 }), fc.nat({ max: 999 })).map(([m, turn, n]) => {
        if (kind === 'mark') m = { ...m, mark: { name: `t${turn}-end` } };
        if (kind === 'media') m = { ...m, media: { ...(m.media as Msg), payload: base64Of(new Uint8Array(2 * (n + 1))) } };
        return json('foreign streamSid', m, refused('streamSid does not match the call'));
      }),
    ),
    // Marks the agent never sent.
    fc
      .tuple(validMessage('mark', live), text(1, 256))
      .filter(([, name]) => !/^t\d{1,6}-(?:s\d{1,4}|end)$/.test(name))
      .map(([m, name]) => json('foreign mark', { ...m, mark: { name } }, refused('mark name was not sent by this agent'))),
    // Valid and harmless, with extra fields: must be accepted and change nothing.
    fc.oneof(
      validMessage('connected').chain(withExtraFields),
      fc.tuple(validMessage('mark', live), fc.nat({ max: 999_999 }), fc.nat({ max: 9999 })).chain(([m, t, s]) => withExtraFields({ ...m, mark: { name: `t${t}-s${s}` } })),
    ).map((m) => json('valid, extra fields', m, { refused: false })),
  ];
  return fc.oneof(...categories);
}
