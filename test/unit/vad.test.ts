import { fromPcm16, silence, isSpeech } from '../../functions/domain/audio';
import { TELEPHONY_FORMAT } from '../../functions/contracts/audio-format';
import { assembleUtterance, isEndpoint, type StoredFrame } from '../../functions/domain/vad';
import { DEFAULT_ENDPOINTING } from '../../functions/contracts/turn-policy';

const tone = (ms: number, amplitude: number) =>
  Int16Array.from({ length: (ms / 1000) * 8000 }, (_, i) => Math.round(amplitude * Math.sin((2 * Math.PI * 300 * i) / 8000)));

describe('frame classifier', () => {
  it('hears speech-level audio and not silence or faint noise', () => {
    expect(isSpeech(tone(20, 6000), DEFAULT_ENDPOINTING)).toBe(true);
    expect(isSpeech(new Int16Array(160), DEFAULT_ENDPOINTING)).toBe(false);
    expect(isSpeech(tone(20, 50), DEFAULT_ENDPOINTING)).toBe(false); // about -56 dBFS
  });
});

describe('chunks longer than 20 ms', () => {
  it('count as speech when any 20 ms window is speech', () => {
    const chunk = new Int16Array(800); // 100 ms at 8 kHz, silent but for its last 20 ms
    chunk.set(tone(20, 6000), 640);
    expect(isSpeech(chunk, DEFAULT_ENDPOINTING, 8000)).toBe(true);
    expect(isSpeech(new Int16Array(800), DEFAULT_ENDPOINTING, 8000)).toBe(false);
  });
});

describe('endpointing', () => {
  it('ends an utterance only after the configured silence', () => {
    expect(isEndpoint(1000, 1399, { endpointSilenceMs: 400 })).toBe(false);
    expect(isEndpoint(1000, 1400, { endpointSilenceMs: 400 })).toBe(true);
  });
});

describe('utterance assembly', () => {
  const frame = (chunk: number, amplitude = 6000): StoredFrame => ({
    chunk,
    ts: (chunk - 1) * 20,
    durationMs: 20,
    audio: fromPcm16(tone(20, amplitude), TELEPHONY_FORMAT),
    receivedAt: 1_000_000 + chunk * 20,
  });
  const fill = (ms: number) => silence(ms, TELEPHONY_FORMAT);

  it('orders frames that arrived out of order and re-inserts the silence between them', () => {
    const out = assembleUtterance([frame(5), frame(2), frame(3)], fill, { maxGapFillMs: 600 });
    expect(out.speechMs).toBe(60);
    expect(out.firstTs).toBe(20);
    expect(out.lastEndTs).toBe(100);
    expect(out.audio.byteLength).toBe(160 * 4); // 3 speech frames + one 20 ms gap (chunk 4)
    expect(Array.from(out.audio.subarray(320, 480)).every((b) => b === 0xff)).toBe(true);
  });

  it('caps long gaps', () => {
    const out = assembleUtterance([frame(1), frame(200)], fill, { maxGapFillMs: 100 });
    expect(out.audio.byteLength).toBe(160 * 2 + 800);
  });

  it('returns nothing for no frames', () => {
    expect(assembleUtterance([], fill, { maxGapFillMs: 100 }).audio.byteLength).toBe(0);
  });
});
