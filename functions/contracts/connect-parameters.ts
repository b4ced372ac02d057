/** What a caller puts on the connect URL, as the authorizer, the handlers and every client read it (docs/PROTOCOL.md). */
import type { AudioFormat } from './audio-format';

/** The custom parameter by which a client opts in to the extra server→client events. Twilio never sets it. */
export const EVENTS_OPT_IN_PARAMETER = 'voiceAgentEvents';

/**
 * The connect URL's query parameter by which a client declares its audio format up front (`mulaw`: 8 kHz μ-law, what
 * Twilio sends; `pcm16`: 16 kHz linear PCM). The authorizer carries it into every message of the connection, so an
 * environment can decode a call's frames before it ever reads the call. Twilio's streams are μ-law by definition.
 */
export const CONNECT_FORMAT_PARAMETER = 'format';
export const CONNECT_FORMATS = {
  mulaw: { encoding: 'mulaw', sampleRate: 8000 },
  pcm16: { encoding: 'pcm16', sampleRate: 16000 },
} as const satisfies Record<string, AudioFormat>;
export type ConnectFormat = keyof typeof CONNECT_FORMATS;
export const isConnectFormat = (v: unknown): v is ConnectFormat => typeof v === 'string' && Object.hasOwn(CONNECT_FORMATS, v);
export const connectFormatOf = (format: AudioFormat): ConnectFormat => (format.encoding === 'mulaw' ? 'mulaw' : 'pcm16');
