/**
 * The callers' lines: known utterances (the local Deepgram recognizes them without a side channel), synthesized
 * offline with Flite once per wire format and cached under .cache/loadtest/utterances/.
 */
import { existsSync, mkdirSync, readFileSync, writeFileSync } from 'node:fs';
import path from 'node:path';
import { fromPcm16 } from '../../functions/domain/audio';
import type { AudioFormat } from '../../functions/contracts/audio-format';
import { synthesize } from '../../local/speech/tts/flite';
import { KNOWN_UTTERANCES } from '../../local/vendors/known-utterances';

/** Lines that keep a front-desk call going (none ends the call or asks for a person). */
export const SCRIPT_LINES: readonly string[] = [
  'what are your opening hours',
  'where are you located',
  'i would like to book an appointment',
  'book an appointment for tuesday at three pm',
  'can i move my appointment to friday at ten am',
  'monday at nine thirty',
  'what time do you open on saturday',
  'yes please',
  'tuesday at three pm',
];

export interface Utterance {
  readonly text: string;
  readonly audio: Uint8Array;
}

export async function loadUtterances(format: AudioFormat, cacheDir = path.join('.cache', 'loadtest', 'utterances')): Promise<Utterance[]> {
  const dir = path.join(cacheDir, `${format.encoding}-${format.sampleRate}`);
  mkdirSync(dir, { recursive: true });
  const out: Utterance[] = [];
  for (const text of SCRIPT_LINES) {
    if (!KNOWN_UTTERANCES.includes(text)) throw new Error(`not a known utterance (the local Deepgram would not recognize it): ${text}`);
    const file = path.join(dir, `${text.replace(/[^a-z0-9]+/g, '-')}.bin`);
    if (!existsSync(file)) {
      // The same voice and path as tools/call.ts and the known-utterance fingerprints.
      const pcm = await synthesize(text, { voice: 'rms', sampleRate: format.sampleRate as 8000 | 16000 });
      writeFileSync(file, fromPcm16(pcm, format));
    }
    out.push({ text, audio: new Uint8Array(readFileSync(file)) });
  }
  return out;
}
