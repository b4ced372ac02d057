/**
 * The browser page's audio helpers (web/codec.js, the same file the page loads): what it sends must be what the
 * server decodes (checked against alawmulaw, the server's μ-law codec, and the server's PCM reader), its resampler
 * must keep speech and drop what the target rate cannot carry. (The turn stages it once held are web/waterfall.js's
 * now: test/unit/web-waterfall.test.ts.)
 */
import { mulaw } from 'alawmulaw';
import { toPcm16 } from '../../functions/domain/audio';

const codec = require('../../web/codec.js') as {
  Resampler: new (inRate: number, outRate: number) => { push(input: Float32Array): Float32Array };
  floatToPcm16(samples: Float32Array): Int16Array;
  encodeMulawSample(sample: number): number;
  decodeMulawSample(byte: number): number;
  encode(pcm16: Int16Array, encoding: 'mulaw' | 'l16'): Uint8Array;
  decodeToFloat(bytes: Uint8Array, encoding: 'mulaw' | 'l16'): Float32Array;
  toBase64(bytes: Uint8Array): string;
  fromBase64(text: string): Uint8Array;
};

const sine = (hz: number, rate: number, seconds: number, amplitude = 0.5) =>
  Float32Array.from({ length: Math.round(rate * seconds) }, (_, i) => amplitude * Math.sin((2 * Math.PI * hz * i) / rate));

/** Amplitude of one frequency in a signal (a single DFT bin, by correlation). */
function amplitudeAt(samples: Float32Array, hz: number, rate: number): number {
  let re = 0;
  let im = 0;
  for (let i = 0; i < samples.length; i++) {
    re += samples[i]! * Math.cos((2 * Math.PI * hz * i) / rate);
    im += samples[i]! * Math.sin((2 * Math.PI * hz * i) / rate);
  }
  return (2 * Math.hypot(re, im)) / samples.length;
}

/** Resampled in AudioWorklet-sized blocks of 128, as the page does. */
function resampleInBlocks(input: Float32Array, inRate: number, outRate: number): Float32Array {
  const r = new codec.Resampler(inRate, outRate);
  const parts: number[] = [];
  for (let i = 0; i < input.length; i += 128) parts.push(...r.push(input.subarray(i, i + 128)));
  return Float32Array.from(parts);
}

describe('web/codec.js', () => {
  it('encodes μ-law exactly as the server decodes it, for every 16-bit sample', () => {
    const mismatches: string[] = [];
    for (let s = -32768; s <= 32767; s++) if (codec.encodeMulawSample(s) !== (mulaw.encodeSample(s) & 0xff)) mismatches.push(`encode ${s}`);
    // === rather than Object.is: alawmulaw decodes 0xff as -0, the same sample as 0.
    for (let b = 0; b < 256; b++) if (codec.decodeMulawSample(b) !== mulaw.decodeSample(b)) mismatches.push(`decode ${b}`);
    expect(mismatches).toEqual([]);
  });

  it('encodes 16 kHz PCM little-endian, as the server reads audio/l16', () => {
    const pcm = Int16Array.from([0, 1, -1, 32767, -32768, 1234]);
    const wire = codec.encode(pcm, 'l16');
    expect(Array.from(toPcm16(wire, { encoding: 'pcm16', sampleRate: 16000 }))).toEqual(Array.from(pcm));
    expect(Array.from(toPcm16(codec.encode(pcm, 'mulaw'), { encoding: 'mulaw', sampleRate: 8000 }))).toEqual(Array.from(mulaw.decode(mulaw.encode(pcm))));
    expect(codec.decodeToFloat(wire, 'l16')[3]).toBeCloseTo(32767 / 32768, 6);
  });

  it('clips floats to 16 bits and round-trips base64', () => {
    expect(Array.from(codec.floatToPcm16(Float32Array.from([0, 1, -1, 2, -2, 0.5])))).toEqual([0, 32767, -32768, 32767, -32768, 16384]);
    const bytes = Uint8Array.from({ length: 20000 }, (_, i) => (i * 37) % 256);
    const text = codec.toBase64(bytes);
    expect(text).toBe(Buffer.from(bytes).toString('base64'));
    expect(Buffer.from(codec.fromBase64(text)).equals(Buffer.from(bytes))).toBe(true);
  });

  it.each([
    [48000, 16000],
    [44100, 16000],
    [48000, 8000],
    [16000, 16000],
  ])('resamples %i Hz to %i Hz: the right number of samples, speech-band tones kept at their pitch and level', (inRate, outRate) => {
    const out = resampleInBlocks(sine(1000, inRate, 1), inRate, outRate);
    // Output trails the input by the filter's half length at most.
    expect(out.length).toBeGreaterThan(outRate * 0.97);
    expect(out.length).toBeLessThanOrEqual(outRate);
    const steady = out.subarray(out.length / 4, (3 * out.length) / 4);
    expect(amplitudeAt(steady, 1000, outRate)).toBeCloseTo(0.5, 1);
    expect(amplitudeAt(steady, 1100, outRate)).toBeLessThan(0.01);
  });

  it('removes what the target rate cannot carry instead of folding it back into the speech band', () => {
    // A 6 kHz tone has no place in 8 kHz audio (Nyquist 4 kHz): dropped samples would alias it to 2 kHz.
    const out = resampleInBlocks(sine(6000, 48000, 1), 48000, 8000);
    const steady = out.subarray(out.length / 4, (3 * out.length) / 4);
    expect(amplitudeAt(steady, 2000, 8000)).toBeLessThan(0.005);
    // Without the low-pass (every 6th sample) the alias is at full level: the check above can fail.
    const naive = sine(6000, 48000, 1).filter((_, i) => i % 6 === 0);
    expect(amplitudeAt(naive.subarray(2000, 6000), 2000, 8000)).toBeGreaterThan(0.4);
  });

  it('gives the same output whatever the block sizes (state carries across AudioWorklet blocks)', () => {
    const input = sine(440, 48000, 0.5);
    const whole = new codec.Resampler(48000, 16000).push(input);
    const blocks = resampleInBlocks(input, 48000, 16000);
    expect(blocks.length).toBe(whole.length);
    for (let i = 0; i < whole.length; i++) expect(blocks[i]).toBeCloseTo(whole[i]!, 5);
  });
});
