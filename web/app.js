/*
 * The voice agent's browser page: press Call and talk. Speaks the same protocol as a Twilio Media Stream
 * (docs/PROTOCOL.md), like the CLI caller (tools/caller/session.ts):
 *
 *  1. the microphone (getUserMedia) into an AudioWorklet that resamples it to the declared format's rate and hands
 *     over one 20 ms frame at a time; each frame is encoded (μ-law 8 kHz or 16-bit PCM 16 kHz) and sent as `media`,
 *     silence included: the server's endpointing runs on the stream clock those frames carry;
 *  2. a short-lived token from `POST {api}/browser/token` (never the long-lived caller token), then the WebSocket,
 *     `connected` and `start` with `voiceAgentEvents` so transcripts, replies and turn timings come back;
 *  3. the agent's `media` played gaplessly (AudioBufferSources scheduled back to back), each `mark` echoed when
 *     playback reaches it, `clear` (the caller talked over the agent) stopping playback at once.
 *
 * Each turn's timings come back as a `voiceagent.turn` event: shown as a line of stages, a waterfall of them and a
 * bar in the call's latency chart (waterfall.js, VoiceAgentWaterfall; the history page draws stored turns the same way).
 *
 * Plain script, no build step, no external URLs. Helpers in codec.js (VoiceAgentCodec) and waterfall.js.
 */
(function () {
  'use strict';
  const C = window.VoiceAgentCodec;
  const W = window.VoiceAgentWaterfall;
  const $ = (id) => document.getElementById(id);

  const FORMATS = {
    l16: { encoding: 'l16', sampleRate: 16000, connect: 'pcm16', mediaFormat: { encoding: 'audio/l16', sampleRate: 16000, channels: 1 } },
    mulaw: { encoding: 'mulaw', sampleRate: 8000, connect: 'mulaw', mediaFormat: { encoding: 'audio/x-mulaw', sampleRate: 8000, channels: 1 } },
  };
  const FRAME_MS = 20;
  /** Scheduling slack for the first buffer of a reply: enough that it never starts in the past. */
  const PLAYBACK_LEAD_S = 0.04;

  // ------------------------------------------------------------------------------------------ settings

  /**
   * Where the token endpoint is: `?api=` (or `#api=`, for a presigned S3 link, whose query string is signed), else
   * the address the deployed page was built with, else this page's own origin (the local stack serves both).
   */
  function initialApi() {
    const query = new URLSearchParams(location.search);
    const hash = new URLSearchParams(location.hash.slice(1));
    const baked = document.querySelector('meta[name="voice-agent-api"]');
    return query.get('api') || hash.get('api') || (baked && baked.content) || (/^https?:$/.test(location.protocol) ? location.origin : '');
  }

  $('api').value = initialApi();

  /**
   * The history page, told this page's API address when it would not find it by itself (a typed one, or `?api=`).
   * The page's own href is kept (the deployed pages are named otherwise). On a presigned S3 link (call.html) the
   * relative link is not signed and S3 refuses it: the history page needs a presigned link of its own, as the title
   * says.
   */
  const historyHref = $('history-link').getAttribute('href');
  function updateHistoryLink() {
    const link = $('history-link');
    const api = $('api').value.trim();
    const baked = document.querySelector('meta[name="voice-agent-api"]');
    const own = (baked && baked.content) || location.origin;
    link.href = historyHref + (api && api !== own ? `?api=${encodeURIComponent(api)}` : '');
    if (/[?&]X-Amz-Signature=/.test(location.search)) link.title = 'On S3 each page needs its own link: aws s3 presign s3://<bucket>/history.html';
  }
  updateHistoryLink();
  $('api').addEventListener('input', updateHistoryLink);
  const requestedFormat = new URLSearchParams(location.search).get('format');
  if (requestedFormat && FORMATS[requestedFormat]) $('format').value = requestedFormat;

  // ------------------------------------------------------------------------------------------ the worklet

  /** Runs in the AudioWorklet's scope: resample each 128-sample block, hand over whole 20 ms frames. */
  function captureProcessor() {
    /* global AudioWorkletProcessor, registerProcessor, sampleRate, Resampler */
    class CaptureProcessor extends AudioWorkletProcessor {
      constructor(options) {
        super();
        const o = options.processorOptions;
        this.resampler = new Resampler(sampleRate, o.targetRate);
        this.frameSamples = o.frameSamples;
        this.frame = new Float32Array(this.frameSamples);
        this.filled = 0;
      }

      process(inputs) {
        const channel = inputs[0] && inputs[0][0];
        if (channel) {
          const out = this.resampler.push(channel);
          for (let i = 0; i < out.length; i++) {
            this.frame[this.filled++] = out[i];
            if (this.filled === this.frameSamples) {
              // Transferred, not copied: the frame's buffer (and its length) then belongs to the page.
              this.port.postMessage(this.frame, [this.frame.buffer]);
              this.frame = new Float32Array(this.frameSamples);
              this.filled = 0;
            }
          }
        }
        return true;
      }
    }
    registerProcessor('voice-agent-capture', CaptureProcessor);
  }

  /**
   * The worklet module as a data: URL of source text rather than a file of its own: it then loads wherever the page
   * comes from — the local stack, a presigned S3 link (which signs one object only), a file on disk (where Chromium
   * refuses both module fetches and blob: URLs) — and carries the same Resampler the unit tests check.
   */
  function workletUrl() {
    const source = `${C.Resampler.toString()}\n(${captureProcessor.toString()})();\n`;
    return 'data:text/javascript;charset=utf-8,' + encodeURIComponent(source);
  }

  // ------------------------------------------------------------------------------------------ one call

  const randomHex = (bytes) => Array.from(crypto.getRandomValues(new Uint8Array(bytes)), (b) => b.toString(16).padStart(2, '0')).join('');

  class Call {
    constructor(api, formatName, ui) {
      this.api = api.replace(/\/+$/, '');
      this.format = FORMATS[formatName];
      this.ui = ui;
      this.streamSid = 'MZ' + randomHex(16);
      this.callSid = 'CA' + randomHex(16);
      this.sequence = 0;
      this.chunk = 0;
      this.ended = false;
      // Playback: the sources scheduled and not yet finished, and where the next one starts (AudioContext time).
      this.sources = [];
      this.playhead = 0;
      this.stats = { framesSent: 0, agentAudioMs: 0, marksEchoed: 0, bargeIns: 0 };
      // Created inside the click handler (a user gesture), so autoplay policies let it run.
      this.ctx = new AudioContext({ latencyHint: 'interactive' });
    }

    async start() {
      const ui = this.ui;
      ui.state('Asking for the microphone…');
      await this.ctx.resume();
      // Echo cancellation keeps the agent's own voice, from the speakers, from sounding like the caller talking over it.
      this.mic = await navigator.mediaDevices.getUserMedia({
        audio: { channelCount: 1, echoCancellation: true, noiseSuppression: true, autoGainControl: true },
      });
      if (this.ended) return this.releaseAudio();
      await this.ctx.audioWorklet.addModule(workletUrl());

      // The token last, right before it is used: a slow microphone prompt cannot outlast its five minutes.
      ui.state('Getting a call token…');
      const res = await fetch(`${this.api}/browser/token`, { method: 'POST' });
      if (!res.ok) throw new Error(`the token endpoint answered HTTP ${res.status}`);
      const { token, url } = await res.json();
      if (this.ended) return this.releaseAudio();

      ui.state('Connecting…');
      // The format is declared at connect too, so the agent can decode frames before it has read the call.
      const ws = new WebSocket(`${url}?token=${encodeURIComponent(token)}&format=${this.format.connect}`);
      this.ws = ws;
      await new Promise((resolve, reject) => {
        ws.onopen = resolve;
        // Browsers hide the HTTP status of a refused upgrade; these are the usual reasons.
        ws.onerror = () => reject(new Error('the WebSocket could not be opened (token refused or expired, or the stage unreachable)'));
      });
      ws.onerror = null;
      ws.onmessage = (e) => this.onMessage(e.data);
      ws.onclose = (e) => this.finish(e.code === 1000 ? 'the agent ended the call' : `connection closed (${e.code}${e.reason ? ' ' + e.reason : ''})`);

      this.send({ event: 'connected', protocol: 'Call', version: '1.0.0' });
      this.send({
        event: 'start',
        sequenceNumber: String(++this.sequence),
        streamSid: this.streamSid,
        start: {
          accountSid: 'AC' + '0'.repeat(32),
          streamSid: this.streamSid,
          callSid: this.callSid,
          tracks: ['inbound'],
          customParameters: { voiceAgentEvents: 'true', client: 'browser' },
          mediaFormat: this.format.mediaFormat,
        },
      });
      this.startedAt = performance.now();

      // Only now does the microphone feed the stream: the stream clock starts with `start`.
      const source = this.ctx.createMediaStreamSource(this.mic);
      const capture = new AudioWorkletNode(this.ctx, 'voice-agent-capture', {
        numberOfInputs: 1,
        numberOfOutputs: 1,
        channelCount: 1,
        channelCountMode: 'explicit',
        processorOptions: { targetRate: this.format.sampleRate, frameSamples: (this.format.sampleRate * FRAME_MS) / 1000 },
      });
      capture.port.onmessage = (e) => this.onFrame(e.data);
      // Connected to the output through a muted gain: a node nothing pulls from may not be processed at all.
      const mute = this.ctx.createGain();
      mute.gain.value = 0;
      source.connect(capture).connect(mute).connect(this.ctx.destination);
      this.captureNodes = [source, capture, mute];
      ui.state('In call');
      ui.inCall(true);
    }

    send(message) {
      if (this.ws && this.ws.readyState === WebSocket.OPEN) this.ws.send(JSON.stringify(message));
    }

    /** One 20 ms frame from the worklet, at the declared rate. */
    onFrame(samples) {
      if (this.ended) return;
      const payload = C.toBase64(C.encode(C.floatToPcm16(samples), this.format.encoding));
      this.chunk++;
      this.send({
        event: 'media',
        sequenceNumber: String(++this.sequence),
        streamSid: this.streamSid,
        media: { track: 'inbound', chunk: String(this.chunk), timestamp: String((this.chunk - 1) * FRAME_MS), payload },
      });
      this.stats.framesSent++;
      this.ui.level(C.levelDbfs(samples));
    }

    onMessage(data) {
      let msg;
      try {
        msg = JSON.parse(data);
      } catch {
        return this.ui.error('the server sent something that is not JSON');
      }
      switch (msg.event) {
        case 'media':
          return this.play(C.fromBase64((msg.media && msg.media.payload) || ''));
        case 'mark':
          return this.markAfterPlayback(msg.mark && msg.mark.name);
        case 'clear':
          return this.clear();
        case 'voiceagent.transcript':
          return this.ui.turn(msg.turn, { heard: msg.text });
        case 'voiceagent.reply':
          return this.ui.turn(msg.turn, { reply: msg.text, intent: msg.intent });
        case 'voiceagent.turn':
          return this.ui.turn(msg.turn, {
            status: msg.status,
            latencyMs: msg.latencyMs,
            stages: W.stagesOf(msg),
            event: msg,
            preempted: msg.preempted,
            // No end of caller speech (the greeting): its latency runs from the start of the call instead.
            answersSpeech: Boolean(msg.timings && msg.timings.speechEndAt !== undefined),
          });
        case 'voiceagent.hangup':
          return this.ui.turn(msg.turn, { note: 'the agent is hanging up' });
        case 'voiceagent.transfer':
          return this.ui.turn(msg.turn, { note: 'transferring you to a person' });
        default:
          // API Gateway's own messages ({"message":"Internal server error",…}): worth seeing, not worth ending on.
          if (typeof msg.message === 'string') this.ui.error(`gateway: ${msg.message}`);
      }
    }

    /** Schedules agent audio right after what is already queued: back to back, no gap, no overlap. */
    play(bytes) {
      const samples = C.decodeToFloat(bytes, this.format.encoding);
      if (samples.length === 0) return;
      const buffer = this.ctx.createBuffer(1, samples.length, this.format.sampleRate);
      buffer.copyToChannel(samples, 0);
      const source = this.ctx.createBufferSource();
      source.buffer = buffer;
      source.connect(this.ctx.destination);
      const at = Math.max(this.playhead, this.ctx.currentTime + PLAYBACK_LEAD_S);
      source.start(at);
      this.playhead = at + buffer.duration;
      source.marks = [];
      source.onended = () => {
        const i = this.sources.indexOf(source);
        if (i >= 0) this.sources.splice(i, 1);
        for (const name of source.marks) this.echoMark(name);
      };
      this.sources.push(source);
      this.stats.agentAudioMs += buffer.duration * 1000;
    }

    /** A mark is reached when the audio queued before it has played: echo it when that source ends. */
    markAfterPlayback(name) {
      const last = this.sources[this.sources.length - 1];
      if (last) last.marks.push(name);
      else this.echoMark(name);
    }

    echoMark(name) {
      this.send({ event: 'mark', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, mark: { name } });
      this.stats.marksEchoed++;
      // `t{turn}-end` closes a reply (docs/PROTOCOL.md): it has been heard to the end (or cut off by a barge-in).
      const end = /^t(\d+)-end$/.exec(name || '');
      if (end) this.ui.played(Number(end[1]));
    }

    /** Barge-in: stop what is playing now, drop what is queued, and (as Twilio does) echo the marks still pending. */
    clear() {
      const pending = this.sources.splice(0);
      for (const source of pending) {
        source.onended = null;
        source.stop();
      }
      this.playhead = 0;
      for (const source of pending) for (const name of source.marks) this.echoMark(name);
      this.stats.bargeIns++;
      this.ui.interrupted();
    }

    /** "Hang up": `stop`, then close; the server's $disconnect ends the call either way. */
    hangUp() {
      if (this.ended) return;
      this.send({ event: 'stop', sequenceNumber: String(++this.sequence), streamSid: this.streamSid, stop: { accountSid: 'AC' + '0'.repeat(32), callSid: this.callSid } });
      if (this.ws && this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
      this.finish('you hung up');
    }

    finish(why) {
      if (this.ended) return;
      this.ended = true;
      if (this.ws) {
        this.ws.onmessage = null;
        this.ws.onclose = null;
        if (this.ws.readyState <= WebSocket.OPEN) this.ws.close(1000);
      }
      this.releaseAudio();
      this.ui.ended(why);
    }

    releaseAudio() {
      for (const source of this.sources.splice(0)) {
        source.onended = null;
        source.stop();
      }
      for (const node of this.captureNodes || []) node.disconnect();
      if (this.mic) for (const track of this.mic.getTracks()) track.stop();
      if (this.ctx.state !== 'closed') void this.ctx.close();
    }
  }

  // ------------------------------------------------------------------------------------------ the page

  let call;
  let timer;
  const turns = new Map();

  function turnItem(n) {
    let li = turns.get(n);
    if (!li) {
      li = document.createElement('li');
      li.className = 'turn';
      li.dataset.turn = String(n);
      for (const part of ['heard', 'reply', 'note', 'latency', 'stages', 'waterfall']) {
        const p = document.createElement(part === 'waterfall' ? 'div' : 'p');
        p.className = part;
        p.hidden = true;
        li.append(p);
      }
      turns.set(n, li);
      $('turns').append(li);
    }
    return li;
  }

  /** The turn's stages drawn on one axis under its stages line (nothing when the event has none to draw). */
  function showWaterfall(li, n, event) {
    const box = li.querySelector('.waterfall');
    const svg = W.renderWaterfall(event, document, { title: `Turn ${n}` });
    box.replaceChildren(...(svg ? [svg] : []));
    box.hidden = !svg;
  }

  /** Latency per turn over the call, redrawn as each turn's timings arrive. */
  const latencies = new Map();
  function chartTurn(n, point) {
    if (point.latencyMs === undefined) return;
    latencies.set(n, Object.assign({ turn: n }, point));
    drawChart();
  }
  function drawChart() {
    const svg = W.renderLatencyChart([...latencies.values()], document);
    $('latency-chart').querySelector('.chart').replaceChildren(...(svg ? [svg] : []));
    $('latency-chart').hidden = !svg;
  }

  const show = (li, part, text) => {
    const p = li.querySelector(`.${part}`);
    p.textContent = text;
    p.hidden = false;
  };

  const ui = {
    state: (text) => {
      $('state').textContent = text;
    },
    error: (text) => {
      $('error').textContent = text;
      $('error').hidden = false;
    },
    inCall: (on) => {
      $('call').disabled = on;
      $('hangup').disabled = !on;
      clearInterval(timer);
      if (on) timer = setInterval(tick, 250);
    },
    level: (dbfs) => {
      $('level').value = Math.max(0, Math.min(1, (dbfs + 60) / 60));
    },
    turn: (n, update) => {
      const li = turnItem(n);
      if (update.heard !== undefined) show(li, 'heard', update.heard || '(nothing understood)');
      if (update.reply !== undefined) show(li, 'reply', update.reply);
      if (update.note !== undefined) show(li, 'note', update.note);
      if (update.status !== undefined) {
        li.dataset.status = update.status;
        li.dataset.kind = update.answersSpeech ? 'answer' : 'greeting';
        if (update.latencyMs !== undefined) show(li, 'latency', `${Math.round(update.latencyMs)} ms${update.status === 'completed' ? '' : ` (${update.status})`}`);
        const stages = W.stagesLine(update.stages);
        if (stages) show(li, 'stages', stages + (update.preempted ? W.PREEMPTED_NOTE : ''));
        showWaterfall(li, n, update.event);
        chartTurn(n, { latencyMs: update.latencyMs, fromSpeech: update.answersSpeech, status: update.status });
      }
      li.scrollIntoView({ block: 'nearest' });
    },
    played: (n) => {
      turnItem(n).dataset.played = 'true';
    },
    interrupted: () => {
      const last = [...turns.values()].pop();
      if (last) show(last, 'note', 'interrupted: you talked over the agent');
    },
    ended: (why) => {
      ui.state(`Call ended: ${why}`);
      ui.inCall(false);
      tick();
      $('level').value = 0;
      call = undefined;
    },
  };

  function tick() {
    if (!call || call.startedAt === undefined) return;
    const s = Math.floor((performance.now() - call.startedAt) / 1000);
    $('timer').textContent = `${String(Math.floor(s / 60)).padStart(2, '0')}:${String(s % 60).padStart(2, '0')}`;
    const st = call.stats;
    $('stats').textContent = `frames sent ${st.framesSent} · agent audio ${(st.agentAudioMs / 1000).toFixed(1)} s · marks echoed ${st.marksEchoed} · barge-ins ${st.bargeIns}`;
  }

  $('call').addEventListener('click', () => {
    if (call) return;
    const api = $('api').value.trim();
    $('error').hidden = true;
    if (!/^https?:\/\//.test(api)) return ui.error('Enter the API address (http://… or https://…), or open the page with ?api=…');
    for (const li of turns.values()) li.remove();
    turns.clear();
    latencies.clear();
    drawChart();
    $('timer').textContent = '00:00';
    $('call').disabled = true;
    call = new Call(api, $('format').value, ui);
    call.start().catch((err) => {
      ui.error(`Call failed: ${err && err.message ? err.message : err}`);
      if (call) call.finish('could not start');
      else $('call').disabled = false;
    });
  });
  $('hangup').addEventListener('click', () => call && call.hangUp());
  // A closed tab is a hang-up too; without it the server would wait for the idle timeout.
  window.addEventListener('pagehide', () => call && call.hangUp());
})();
