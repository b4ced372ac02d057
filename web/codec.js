/*
 * Audio and protocol helpers of the browser page (web/app.js), as a plain script: no build step, no dependencies.
 * In the page they are `window.VoiceAgentCodec`; in Node (the unit tests, test/unit/web-codec.test.ts) the same file
 * is `require`d, so what the browser sends is checked against the server's own codec.
 *
 * A turn's stages (stagesOf, STAGE_LABELS) are in waterfall.js, with the drawing of them.
 *
 * Resampler is written to be self-contained (no references outside its class body): app.js ships its source text
 * into the AudioWorklet, whose global scope has nothing of the page's.
 */
(function (root) {
  'use strict';

  /**
   * Streaming sample-rate conversion of Float32 audio: a windowed-sinc low-pass (Blackman) at the input rate, then
   * linear interpolation between filtered samples. The low-pass keeps what the target rate cannot carry from folding
   * back as noise (a 48 kHz microphone down to 8 kHz telephone audio would otherwise alias everything above 4 kHz);
   * linear interpolation is then enough because the filtered signal is far below the input's Nyquist frequency.
   * Keeps its own history between calls, so 128-sample AudioWorklet blocks join seamlessly.
   */
  class Resampler {
    constructor(inRate, outRate) {
      if (!(inRate > 0 && outRate > 0)) throw new Error('sample rates must be positive');
      this.step = inRate / outRate;
      // Transition band about 1/8 of the lower rate wide: the Blackman window needs ~5.5 / width taps.
      const low = Math.min(inRate, outRate);
      const taps = Math.max(31, Math.ceil((5.5 * inRate) / (0.125 * low))) | 1;
      const cutoff = (0.43 * low) / inRate; // cycles per input sample, a little under the target's Nyquist
      this.half = (taps - 1) / 2;
      this.kernel = new Float32Array(taps);
      let sum = 0;
      for (let i = 0; i < taps; i++) {
        const x = i - this.half;
        const sinc = x === 0 ? 2 * cutoff : Math.sin(2 * Math.PI * cutoff * x) / (Math.PI * x);
        const window = 0.42 - 0.5 * Math.cos((2 * Math.PI * i) / (taps - 1)) + 0.08 * Math.cos((4 * Math.PI * i) / (taps - 1));
        this.kernel[i] = sinc * window;
        sum += this.kernel[i];
      }
      for (let i = 0; i < taps; i++) this.kernel[i] /= sum; // unity gain at DC
      // The stream is taken to be preceded by silence: `half` zeros before sample 0.
      this.history = new Float32Array(4096 + taps);
      this.base = -this.half; // absolute input index of history[0]
      this.length = this.half; // samples held
      this.produced = 0; // output samples so far
    }

    /** Filtered input at absolute index i (needs samples i - half … i + half). */
    filtered(i) {
      const k = this.kernel;
      const h = this.history;
      const offset = i - this.half - this.base;
      let acc = 0;
      for (let j = 0; j < k.length; j++) acc += k[j] * h[offset + j];
      return acc;
    }

    /** Takes the next input samples; returns the output samples they complete. */
    push(input) {
      if (this.length + input.length > this.history.length) {
        const grown = new Float32Array(2 * (this.length + input.length));
        grown.set(this.history.subarray(0, this.length));
        this.history = grown;
      }
      this.history.set(input, this.length);
      this.length += input.length;
      const end = this.base + this.length; // one past the last input sample held
      const out = [];
      for (;;) {
        const position = this.produced * this.step; // from the count, not summed: no drift over a long call
        const i = Math.floor(position);
        if (i + 1 + this.half >= end) break;
        const frac = position - i;
        const a = this.filtered(i);
        out.push(frac === 0 ? a : a + (this.filtered(i + 1) - a) * frac);
        this.produced++;
      }
      const drop = Math.floor(this.produced * this.step) - this.half - this.base;
      if (drop > 0) {
        this.history.copyWithin(0, drop, this.length);
        this.length -= drop;
        this.base += drop;
      }
      return Float32Array.from(out);
    }
  }

  /** Web Audio floats (-1…1) to signed 16-bit samples, clipped. */
  function floatToPcm16(samples) {
    const out = new Int16Array(samples.length);
    for (let i = 0; i < samples.length; i++) {
      const s = Math.max(-1, Math.min(1, samples[i]));
      out[i] = Math.round(s < 0 ? s * 0x8000 : s * 0x7fff);
    }
    return out;
  }

  /** ITU-T G.711 μ-law, one 16-bit sample to one byte (the telephone format Twilio streams). */
  function encodeMulawSample(sample) {
    const BIAS = 0x84;
    const CLIP = 32635;
    const sign = (sample >> 8) & 0x80;
    let s = sign ? -sample : sample;
    s += BIAS;
    if (s > CLIP) s = CLIP;
    const exponent = Math.max(0, 31 - Math.clz32((s >> 7) & 0xff));
    const mantissa = (s >> (exponent + 3)) & 0x0f;
    return ~(sign | (exponent << 4) | mantissa) & 0xff;
  }

  function decodeMulawSample(byte) {
    const u = ~byte & 0xff;
    const exponent = (u >> 4) & 0x07;
    const magnitude = (((u & 0x0f) << 3) + 0x84) << exponent;
    return u & 0x80 ? 0x84 - magnitude : magnitude - 0x84;
  }

  /** 16-bit samples to the wire bytes of a format: `mulaw` (8 kHz telephone) or `l16` (little-endian PCM). */
  function encode(pcm16, encoding) {
    if (encoding === 'mulaw') {
      const out = new Uint8Array(pcm16.length);
      for (let i = 0; i < pcm16.length; i++) out[i] = encodeMulawSample(pcm16[i]);
      return out;
    }
    const out = new Uint8Array(pcm16.length * 2);
    const view = new DataView(out.buffer);
    for (let i = 0; i < pcm16.length; i++) view.setInt16(i * 2, pcm16[i], true);
    return out;
  }

  /** Wire bytes of a format to Web Audio floats, for playback. */
  function decodeToFloat(bytes, encoding) {
    if (encoding === 'mulaw') {
      const out = new Float32Array(bytes.length);
      for (let i = 0; i < bytes.length; i++) out[i] = decodeMulawSample(bytes[i]) / 32768;
      return out;
    }
    const n = bytes.length >> 1;
    const out = new Float32Array(n);
    const view = new DataView(bytes.buffer, bytes.byteOffset, n * 2);
    for (let i = 0; i < n; i++) out[i] = view.getInt16(i * 2, true) / 32768;
    return out;
  }

  function toBase64(bytes) {
    let binary = '';
    // In slices: String.fromCharCode with a whole 400 ms message as arguments can exceed the call stack's limit.
    for (let i = 0; i < bytes.length; i += 0x2000) binary += String.fromCharCode.apply(null, bytes.subarray(i, i + 0x2000));
    return btoa(binary);
  }

  function fromBase64(text) {
    const binary = atob(text);
    const out = new Uint8Array(binary.length);
    for (let i = 0; i < binary.length; i++) out[i] = binary.charCodeAt(i);
    return out;
  }

  /** Root-mean-square of a block of floats, in dBFS (-Infinity for silence): the page's microphone meter. */
  function levelDbfs(samples) {
    let sum = 0;
    for (let i = 0; i < samples.length; i++) sum += samples[i] * samples[i];
    return 10 * Math.log10(sum / Math.max(1, samples.length));
  }

  const api = { Resampler, floatToPcm16, encodeMulawSample, decodeMulawSample, encode, decodeToFloat, toBase64, fromBase64, levelDbfs };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.VoiceAgentCodec = api;
})(this);
