import fc from 'fast-check';
import { bytesForMs, durationMs, fromPcm16, levelDbfs, resample, silence, toPcm16, transcode } from '../../functions/domain/audio';
import { TELEPHONY_FORMAT, WIDEBAND_FORMAT } from '../../functions/contracts/audio-format';

const tone = (hz: number, ms: number, rate: number, amplitude = 8000) =>
  Int16Array.from({ length: Math.round((ms / 1000) * rate) }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * hz * i) / rate)));

describe('audio codec', () => {
  it('sizes a 20 ms frame in each wire format', () => {
    expect(bytesForMs(20, TELEPHONY_FORMAT)).toBe(160);
    expect(bytesForMs(20, WIDEBAND_FORMAT)).toBe(640);
    expect(durationMs(160, TELEPHONY_FORMAT)).toBe(20);
    expect(durationMs(640, WIDEBAND_FORMAT)).toBe(20);
  });

  it('μ-law silence decodes to zero and measures -Infinity dBFS', () => {
    const pcm = toPcm16(silence(20, TELEPHONY_FORMAT), TELEPHONY_FORMAT);
    expect(pcm.every((s) => s === 0)).toBe(true);
    expect(levelDbfs(pcm)).toBe(-Infinity);
  });

  it('round-trips pcm16 exactly (property)', () => {
    fc.assert(
      fc.property(fc.array(fc.integer({ min: -32768, max: 32767 }), { maxLength: 400 }), (values) => {
        const samples = Int16Array.from(values);
        expect(Array.from(toPcm16(fromPcm16(samples, WIDEBAND_FORMAT), WIDEBAND_FORMAT))).toEqual(values);
      }),
    );
  });

  it('round-trips μ-law within its quantization error', () => {
    const samples = tone(440, 20, 8000);
    const back = toPcm16(fromPcm16(samples, TELEPHONY_FORMAT), TELEPHONY_FORMAT);
    for (let i = 0; i < samples.length; i++) expect(Math.abs(back[i]! - samples[i]!)).toBeLessThanOrEqual(Math.abs(samples[i]!) * 0.07 + 8);
  });

  it('keeps the level of a tone through 8 kHz μ-law → 16 kHz pcm16', () => {
    const mulaw = fromPcm16(tone(300, 200, 8000), TELEPHONY_FORMAT);
    const wide = transcode(mulaw, TELEPHONY_FORMAT, WIDEBAND_FORMAT);
    expect(wide.byteLength).toBe(mulaw.byteLength * 4);
    const before = levelDbfs(toPcm16(mulaw, TELEPHONY_FORMAT));
    const after = levelDbfs(toPcm16(wide, WIDEBAND_FORMAT));
    expect(Math.abs(before - after)).toBeLessThan(1);
  });

  it('halves and doubles sample counts when resampling', () => {
    expect(resample(new Int16Array(320), 16000, 8000)).toHaveLength(160);
    expect(resample(new Int16Array(160), 8000, 16000)).toHaveLength(320);
  });

  it('refuses odd-length pcm16', () => {
    expect(() => toPcm16(new Uint8Array(3), WIDEBAND_FORMAT)).toThrow(RangeError);
  });
});
