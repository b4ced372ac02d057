/**
 * Per-utterance synthesis and decode times of the offline speech engines.
 *   npx tsx tools/bench/offline-speech.ts [--rounds N]
 * Synthesizes each development sentence with flite (rms) and decodes it with a one-process pocketsphinx pool in each
 * mode (auto = domain LM + off-domain check, domain only, full en-us LM only), at 16 kHz PCM16 and 8 kHz μ-law.
 *   npx tsx tools/bench/offline-speech.ts --recordings
 * Real human speech instead (tools/bench/recordings.ts: the Debian packages' recordings and transcripts), as a phone
 * caller sends it (8 kHz μ-law), decoded as the local stack does (auto, the front desk's corpus): per recording its
 * length, decode time and word error; then the totals.
 */
import { fromPcm16 } from '../../functions/domain/audio';
import { TELEPHONY_FORMAT } from '../../functions/contracts/audio-format';
import { toPcm16k } from '../../local/speech/audio';
import { wordErrorRate } from '../../local/speech/stt/lm';
import { PocketsphinxRecognizer, type DecodeMode } from '../../local/speech/stt/pocketsphinx';
import { loadFliteModule, synthesize } from '../../local/speech/tts/flite';
import { digitsToWords, FRONT_DESK_CORPUS } from '../../functions/domain/responder';
import { loadRecordings } from './recordings';

/** Twelve front-desk sentences the speech engines are developed and measured on (tests use them too). */
export const DEV_CORPUS = [
  'what are your opening hours',
  'where are you located',
  'i would like to book an appointment',
  'book an appointment for tuesday at three pm',
  'can i move my appointment to friday at ten am',
  'cancel my appointment',
  'i want to talk to a person',
  'yes please',
  'no thanks',
  'goodbye',
  'monday at nine thirty',
  'what time do you open on saturday',
];
const CORPUS = DEV_CORPUS;

const pct = (xs: number[], p: number): number => {
  const s = [...xs].sort((a, b) => a - b);
  return s[Math.min(s.length - 1, Math.floor((p / 100) * s.length))]!;
};
const summary = (xs: number[]): string =>
  `median ${pct(xs, 50).toFixed(0)} ms, p90 ${pct(xs, 90).toFixed(0)} ms, max ${Math.max(...xs).toFixed(0)} ms (n=${xs.length})`;

async function recordings(): Promise<void> {
  const rec = await PocketsphinxRecognizer.create({ corpus: FRONT_DESK_CORPUS, poolSize: 1 });
  let audioMs = 0;
  let decodeMs = 0;
  let errs = 0;
  let words = 0;
  for (const r of loadRecordings()) {
    const res = await rec.recognize(toPcm16k(r.audio, 'mulaw', 8000), { mode: 'auto' });
    const reference = digitsToWords(r.transcript);
    const wer = wordErrorRate(reference, digitsToWords(res.text));
    const n = reference.split(' ').length;
    audioMs += r.durationMs;
    decodeMs += res.decodeMs;
    errs += wer * n;
    words += n;
    console.log(`${r.id.padEnd(20)} ${String(r.durationMs).padStart(5)} ms audio → ${res.decodeMs.toFixed(0).padStart(5)} ms (${res.engine}, confidence ${res.confidence}), WER ${(100 * wer).toFixed(0).padStart(3)} %  "${res.text}"`);
  }
  console.log(`total: ${(audioMs / 1000).toFixed(1)} s of speech decoded in ${(decodeMs / 1000).toFixed(1)} s (${(decodeMs / audioMs).toFixed(2)} × its length); word error ${((100 * errs) / words).toFixed(1)} % over ${words} words`);
  await rec.close();
}

async function main(): Promise<void> {
  if (process.argv.includes('--recordings')) return recordings();
  const rounds = Number(process.argv[process.argv.indexOf('--rounds') + 1]) || 1;
  let t = performance.now();
  await loadFliteModule();
  console.log(`flite wasm compile: ${(performance.now() - t).toFixed(0)} ms`);
  t = performance.now();
  const rec = await PocketsphinxRecognizer.create({ corpus: CORPUS, poolSize: 1 });
  console.log(`pocketsphinx pool (1 process, incl. warm-up): ${(performance.now() - t).toFixed(0)} ms`);

  const synthMs: number[] = [];
  const audioS: number[] = [];
  const utts: Array<{ text: string; pcm: Record<string, Int16Array> }> = [];
  for (let r = 0; r < rounds; r++) {
    for (const text of CORPUS) {
      t = performance.now();
      const s16 = await synthesize(text, { voice: 'rms', sampleRate: 16000 });
      synthMs.push(performance.now() - t);
      audioS.push(s16.length / 16000);
      const s8 = await synthesize(text, { voice: 'rms', sampleRate: 8000 });
      if (r === 0) utts.push({ text, pcm: { '16k-pcm16': s16, '8k-mulaw': toPcm16k(fromPcm16(s8, TELEPHONY_FORMAT), 'mulaw', 8000) } });
    }
  }
  console.log(`synthesis (flite rms, 16 kHz, ${(audioS.reduce((a, b) => a + b, 0) / audioS.length).toFixed(2)} s mean audio): ${summary(synthMs)}`);

  for (const mode of ['auto', 'domain', 'full'] as DecodeMode[]) {
    for (const fmt of ['16k-pcm16', '8k-mulaw']) {
      const ms: number[] = [];
      let errs = 0;
      let words = 0;
      let fallbacks = 0;
      for (let r = 0; r < rounds; r++) {
        for (const u of utts) {
          const res = await rec.recognize(u.pcm[fmt]!, { mode });
          ms.push(res.decodeMs);
          const n = u.text.split(' ').length;
          errs += wordErrorRate(u.text, res.text) * n;
          words += n;
          if (res.engine === 'full' && mode === 'auto') fallbacks++;
        }
      }
      console.log(
        `decode ${mode.padEnd(6)} ${fmt}: ${summary(ms)}; WER ${((100 * errs) / words).toFixed(1)} %` +
          (mode === 'auto' ? `; answered by full model ${fallbacks}/${ms.length}` : ''),
      );
    }
  }
  await rec.close();
}

if (require.main === module) main().catch((e: unknown) => {
  console.error(e);
  process.exit(1);
});
