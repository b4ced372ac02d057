/**
 * The wire protocol: Twilio Media Streams, bidirectional (https://www.twilio.com/docs/voice/media-streams/websocket-messages).
 * Every caller — Twilio, the CLI, the browser page, the load generator — speaks it. See docs/PROTOCOL.md.
 */
import { z } from 'zod';
import type { AudioFormat } from '../contracts/audio-format';

/** Twilio sends counters as decimal strings; our clients may send numbers. Both mean a non-negative integer. */
const counter = z.union([z.string().regex(/^\d{1,15}$/), z.number().int().nonnegative()]).transform(Number);
const sid = z.string().min(1).max(128);
const base64 = z
  .string()
  .max(174_763) // 128 KiB message limit, base64-expanded
  .regex(/^(?:[A-Za-z0-9+/]{4})*(?:[A-Za-z0-9+/]{2}==|[A-Za-z0-9+/]{3}=)?$/, 'payload is not valid base64');

export const ConnectedMessage = z.object({
  event: z.literal('connected'),
  protocol: z.string().optional(),
  version: z.string().optional(),
});

const MediaFormat = z.object({
  encoding: z.enum(['audio/x-mulaw', 'audio/l16']),
  sampleRate: z.union([z.literal(8000), z.literal(16000)]),
  channels: z.literal(1),
});

export const StartMessage = z.object({
  event: z.literal('start'),
  sequenceNumber: counter,
  streamSid: sid,
  start: z.object({
    streamSid: sid,
    accountSid: z.string().max(128).optional(),
    callSid: z.string().max(128).optional(),
    tracks: z.array(z.string().max(32)).max(4).optional(),
    customParameters: z.record(z.string().max(64), z.string().max(512)).optional(),
    mediaFormat: MediaFormat.optional(),
  }),
});

export const MediaMessage = z.object({
  event: z.literal('media'),
  sequenceNumber: counter,
  streamSid: sid,
  media: z.object({
    track: z.string().max(32).optional(),
    chunk: counter,
    timestamp: counter,
    payload: base64,
  }),
});

export const DtmfMessage = z.object({
  event: z.literal('dtmf'),
  sequenceNumber: counter,
  streamSid: sid,
  dtmf: z.object({ track: z.string().max(32).optional(), digit: z.string().regex(/^[0-9*#A-D]$/) }),
});

export const MarkMessage = z.object({
  event: z.literal('mark'),
  sequenceNumber: counter,
  streamSid: sid,
  mark: z.object({ name: z.string().min(1).max(256) }),
});

export const StopMessage = z.object({
  event: z.literal('stop'),
  sequenceNumber: counter,
  streamSid: sid,
  stop: z.object({ accountSid: z.string().max(128).optional(), callSid: z.string().max(128).optional() }).optional(),
});

export type StartMessage = z.infer<typeof StartMessage>;
export type MediaMessage = z.infer<typeof MediaMessage>;
export type DtmfMessage = z.infer<typeof DtmfMessage>;
export type MarkMessage = z.infer<typeof MarkMessage>;
export type StopMessage = z.infer<typeof StopMessage>;

export function formatOf(start: StartMessage): AudioFormat {
  const declared = start.start.mediaFormat;
  if (!declared || declared.encoding === 'audio/x-mulaw') {
    if (declared && declared.sampleRate !== 8000) throw new ProtocolError('audio/x-mulaw is only supported at 8000 Hz');
    return { encoding: 'mulaw', sampleRate: 8000 };
  }
  if (declared.sampleRate !== 16000) throw new ProtocolError('audio/l16 is only supported at 16000 Hz');
  return { encoding: 'pcm16', sampleRate: 16000 };
}

/** A message the call cannot accept; the reason is logged and counted, the call goes on. */
export class ProtocolError extends Error {
  override readonly name = 'ProtocolError';
}

/** Parses the body of a WebSocket message; throws ProtocolError with a reason fit for a log line. */
export function parseMessage<T extends z.ZodType>(schema: T, body: string | undefined, isBase64Encoded = false): z.infer<T> {
  if (isBase64Encoded) throw new ProtocolError('binary frame: the protocol is JSON text');
  if (body === undefined || body.length === 0) throw new ProtocolError('empty message');
  let json: unknown;
  try {
    json = JSON.parse(body);
  } catch {
    throw new ProtocolError('malformed JSON');
  }
  const result = schema.safeParse(json);
  if (!result.success) {
    const issue = result.error.issues[0];
    // A record's keys are the caller's text and part of the path: clipped, so one message cannot write a 100 KB log line.
    const where = issue?.path.length ? issue.path.map((step) => clip(String(step), 40)).join('.') : 'message';
    throw new ProtocolError(clip(`invalid ${where}: ${issue?.message ?? 'does not match the schema'}`, 200));
  }
  return result.data;
}

const clip = (text: string, max: number) => (text.length > max ? `${text.slice(0, max - 1)}…` : text);

// ---- server → client ----------------------------------------------------------------------------------------

export const outbound = {
  media: (streamSid: string, audio: Uint8Array) =>
    JSON.stringify({ event: 'media', streamSid, media: { payload: Buffer.from(audio).toString('base64') } }),
  mark: (streamSid: string, name: string) => JSON.stringify({ event: 'mark', streamSid, mark: { name } }),
  clear: (streamSid: string) => JSON.stringify({ event: 'clear', streamSid }),
  /** Opt-in only: what the agent heard, said, and how long each stage took. */
  extra: (streamSid: string, type: ExtraEventType, data: Record<string, unknown>) =>
    JSON.stringify({ event: `voiceagent.${type}`, streamSid, ...data }),
};

export type ExtraEventType = 'transcript' | 'reply' | 'turn' | 'error' | 'hangup' | 'transfer';

/** Mark names carry the turn so the mark route can attribute playback without any lookup. */
export const markName = {
  segment: (turn: number, index: number) => `t${turn}-s${index}`,
  end: (turn: number) => `t${turn}-end`,
  parse(name: string): { turn: number; end: boolean; index?: number } | undefined {
    const m = /^t(\d{1,6})-(?:s(\d{1,4})|(end))$/.exec(name);
    if (!m) return undefined;
    return m[3] ? { turn: Number(m[1]), end: true } : { turn: Number(m[1]), end: false, index: Number(m[2]) };
  },
};
