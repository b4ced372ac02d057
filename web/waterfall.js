/*
 * A turn's stages as a waterfall, and a call's turn latencies as a bar chart: plain script, no build step, no
 * dependencies. In the pages it is `window.VoiceAgentWaterfall` (the call page, web/app.js, draws each turn as its
 * `voiceagent.turn` event arrives; the history page, web/history.js, draws the stored turns, which carry the same
 * fields); in Node (test/unit/web-waterfall.test.ts) the same file is `require`d.
 *
 * Layout and drawing are apart: `waterfallOf` turns the event into bars on one time axis (numbers only, tested),
 * `waterfallTree` lays them out as a small SVG tree of plain objects, and that tree becomes either a string
 * (`toSvgString`, for tests and files) or DOM nodes (`toDom`, for the pages: built with createElementNS and text
 * nodes, never parsed from markup).
 */
(function (root) {
  'use strict';

  // ------------------------------------------------------------------------------------------ stages

  /** The stages in pipeline order: the waterfall's rows, and the order of the pages' "label N ms" line. */
  const STAGES = ['endpoint', 'dispatch', 'stt', 'modelFirstToken', 'responder', 'ttsFirstByte', 'send'];

  const STAGE_LABELS = {
    endpoint: 'endpointing',
    dispatch: 'dispatch',
    stt: 'speech-to-text',
    modelFirstToken: 'model first token',
    responder: 'responder',
    ttsFirstByte: 'TTS first byte',
    send: 'send',
  };

  /**
   * The stages of one answered turn from a `voiceagent.turn` event (or a history turn), derived exactly as the load
   * test derives them (tools/loadtest/aggregate.ts stagesOf; docs/LATENCY.md): all on the server's clock, in ms.
   */
  function stagesOf(event) {
    const t = (event && event.timings) || {};
    const p = (event && event.providerMs) || {};
    const out = {};
    if (t.speechEndAt !== undefined && t.endpointAt !== undefined) out.endpoint = t.endpointAt - t.speechEndAt;
    if (t.endpointFrameAt !== undefined && t.endpointHandlerAt !== undefined) out.dispatch = t.endpointHandlerAt - t.endpointFrameAt;
    if (p.stt !== undefined) out.stt = p.stt;
    if (p.modelFirstToken !== undefined) out.modelFirstToken = p.modelFirstToken;
    if (p.responder !== undefined) out.responder = p.responder;
    if (p.ttsFirstByte !== undefined) out.ttsFirstByte = p.ttsFirstByte;
    if (t.firstAudioAt !== undefined && t.ttsFirstByteAt !== undefined) out.send = t.firstAudioAt - t.ttsFirstByteAt;
    return out;
  }

  /** The pages' one-line summary of the stages: "endpointing 410 ms · speech-to-text 180 ms · …". */
  function stagesLine(stages) {
    return STAGES.filter((stage) => stages[stage] !== undefined)
      .concat(Object.keys(stages).filter((stage) => !STAGES.includes(stage)))
      .map((stage) => `${STAGE_LABELS[stage] || stage} ${Math.round(stages[stage])} ms`)
      .join(' · ');
  }

  /** Said after the stages of a preempted turn, where they overlap the endpoint and do not add up to the latency. */
  const PREEMPTED_NOTE = ' — answered preemptively: speech-to-text and the reply were ready before the endpoint';

  // ------------------------------------------------------------------------------------------ the waterfall

  const isTime = (v) => typeof v === 'number' && Number.isFinite(v);

  /** A stage measured by two timings. */
  const between = (startAt, endAt) => (isTime(startAt) && isTime(endAt) ? { endAt, ms: endAt - startAt } : undefined);
  /**
   * A stage measured by the provider's own duration and the timing at which its result was in hand. For a preempted
   * turn that timing is the endpoint (the server takes the prepared result up then), so the bar starts before the
   * endpoint: it overlaps it, as it did.
   */
  const endedAfter = (endAt, ms) => (isTime(endAt) && isTime(ms) ? { endAt, ms } : undefined);

  const SPANS = {
    endpoint: (t) => between(t.speechEndAt, t.endpointAt),
    dispatch: (t) => between(t.endpointFrameAt, t.endpointHandlerAt),
    stt: (t, p) => endedAfter(t.transcriptAt, p.stt),
    modelFirstToken: (t, p) => endedAfter(t.firstTokenAt, p.modelFirstToken),
    responder: (t, p) => endedAfter(t.replyAt, p.responder),
    ttsFirstByte: (t, p) => endedAfter(t.ttsFirstByteAt, p.ttsFirstByte),
    send: (t) => between(t.ttsFirstByteAt, t.firstAudioAt),
  };

  /**
   * One turn's waterfall: bars `{ stage, label, startMs, endMs, ms, beforeEndpoint }` in pipeline order on one time
   * axis whose 0 is the end of the caller's speech (`speechEndAt`), or for a turn without it (the greeting, DTMF)
   * the turn's start (`endpointAt`); and marks on that axis (its 0, the endpoint, the first agent audio, which is at
   * the turn's latency). A stage is drawn only from what was measured: one without its numbers is left out, and one
   * measured negative (clocks of two machines) too, since no bar can show it; the stages line still shows its number.
   */
  function waterfallOf(turn) {
    const t = (turn && turn.timings) || {};
    const p = (turn && turn.providerMs) || {};
    const fromSpeech = isTime(t.speechEndAt);
    const originAt = fromSpeech ? t.speechEndAt : isTime(t.endpointAt) ? t.endpointAt : undefined;
    const out = { from: fromSpeech ? 'speechEnd' : 'turnStart', preempted: Boolean(turn && turn.preempted), bars: [], marks: [] };
    if (originAt === undefined) return out;
    const endpointMs = isTime(t.endpointAt) ? t.endpointAt - originAt : undefined;
    for (const stage of STAGES) {
      const span = SPANS[stage](t, p);
      if (!span || !(span.ms >= 0)) continue;
      const endMs = span.endAt - originAt;
      const startMs = endMs - span.ms;
      // The endpoint's own rows are the endpoint; any other stage starting before it was preemptive work.
      const beforeEndpoint = stage !== 'endpoint' && stage !== 'dispatch' && endpointMs !== undefined && startMs < endpointMs;
      out.bars.push({ stage, label: STAGE_LABELS[stage], startMs, endMs, ms: span.ms, beforeEndpoint });
    }
    out.marks.push({ mark: 'origin', label: fromSpeech ? 'end of speech' : 'turn start', atMs: 0 });
    if (fromSpeech && endpointMs !== undefined) out.marks.push({ mark: 'endpoint', label: 'endpoint', atMs: endpointMs });
    if (isTime(t.firstAudioAt)) out.marks.push({ mark: 'firstAudio', label: 'first audio', atMs: t.firstAudioAt - originAt });
    return out;
  }

  // ------------------------------------------------------------------------------------------ drawing

  /** Node of the drawing: an SVG element with attributes and children (nodes or text). */
  const h = (tag, attrs, children) => ({ tag, attrs: attrs || {}, children: children || [] });

  const COLORS = {
    endpoint: '#8c959f',
    dispatch: '#bf8700',
    stt: '#0969da',
    modelFirstToken: '#8250df',
    responder: '#6639ba',
    ttsFirstByte: '#1a7f37',
    send: '#cf222e',
  };
  const FONT = { 'font-family': 'system-ui, sans-serif', 'font-size': 11 };
  const ms = (v) => `${Math.round(v)} ms`;
  const px = (v) => Math.round(v * 10) / 10;

  /**
   * The waterfall as an SVG tree: one row per bar, its label and duration on the left, the bar on the shared axis
   * on the right, dashed lines at the marks. Bars started before the endpoint are lighter with a dashed edge, and
   * say so in their tooltip. Undefined when there is nothing to draw.
   */
  function waterfallTree(w, options) {
    const o = Object.assign({ width: 560, labelWidth: 170, rowHeight: 18, title: 'turn' }, options);
    if (!w || w.bars.length === 0) return undefined;
    const points = w.bars.flatMap((b) => [b.startMs, b.endMs]).concat(w.marks.map((m) => m.atMs));
    const lo = Math.min(0, ...points);
    const hi = Math.max(lo + 1, ...points);
    const plotLeft = o.labelWidth;
    const plotWidth = o.width - plotLeft - 12;
    const x = (v) => px(plotLeft + ((v - lo) / (hi - lo)) * plotWidth);
    const top = 4;
    const axisY = top + w.bars.length * o.rowHeight + 2;
    const height = axisY + 30;
    const children = [
      h('title', {}, [`${o.title}: ${w.bars.map((b) => `${b.label} ${ms(b.ms)}`).join(', ')}`]),
    ];
    w.bars.forEach((b, i) => {
      const y = top + i * o.rowHeight;
      const barHeight = o.rowHeight - 6;
      const color = COLORS[b.stage] || '#57606a';
      const tip = `${b.label}: ${ms(b.ms)}, from ${ms(b.startMs)} to ${ms(b.endMs)} after the ${w.from === 'speechEnd' ? 'end of speech' : 'turn start'}` +
        (b.beforeEndpoint ? '; started before the endpoint (preemptive), its result in hand by the end of the bar' : '');
      const row = [
        h('title', {}, [tip]),
        h('text', Object.assign({ x: plotLeft - 8, y: y + barHeight - 2, 'text-anchor': 'end', fill: '#1b1f24' }, FONT), [`${b.label} ${ms(b.ms)}`]),
        h('rect', Object.assign(
          { x: x(b.startMs), y, width: Math.max(1, px(x(b.endMs) - x(b.startMs))), height: barHeight, rx: 2, fill: color },
          // Lighter with a dashed edge: no pattern, whose id would repeat once per turn in the page.
          b.beforeEndpoint ? { 'fill-opacity': 0.45, stroke: color, 'stroke-dasharray': '3 2' } : {},
        )),
      ];
      children.push(h('g', { class: `bar bar-${b.stage}${b.beforeEndpoint ? ' early' : ''}`, 'data-stage': b.stage }, row));
    });
    children.push(h('line', { x1: plotLeft, x2: plotLeft + plotWidth, y1: axisY, y2: axisY, stroke: '#d0d7de' }));
    for (const m of w.marks) {
      const mx = x(m.atMs);
      // The endpoint's label on the first line under the axis, the others on the second: the endpoint and the first
      // audio of a preempted turn can be a few ms apart.
      const line = m.mark === 'endpoint' ? 1 : 2;
      const anchor = m.mark === 'origin' ? 'start' : mx > plotLeft + plotWidth / 2 ? 'end' : 'start';
      const text = m.mark === 'origin' ? `0 = ${m.label}` : `${m.label} ${ms(m.atMs)}`;
      children.push(
        h('g', { class: `mark mark-${m.mark}` }, [
          h('line', { x1: mx, x2: mx, y1: top - 2, y2: axisY + 3, stroke: m.mark === 'firstAudio' ? '#cf222e' : '#57606a', 'stroke-dasharray': '3 3' }),
          h('text', Object.assign({ x: mx + (anchor === 'start' ? 2 : -2), y: axisY + 12 * line, 'text-anchor': anchor, fill: '#57606a' }, FONT), [text]),
        ]),
      );
    }
    return h('svg', { viewBox: `0 0 ${o.width} ${height}`, width: o.width, height, role: 'img', class: 'waterfall-chart' }, children);
  }

  /** Turns whose answer was not heard to the end: amber in the chart. */
  const CUT_SHORT = ['barged', 'superseded', 'failed'];

  /**
   * The latency of each turn of a call as bars over the turn numbers. `points`: `{ turn, latencyMs, fromSpeech?,
   * status? }`. A turn not answering speech (the greeting, a key press) is timed from its start, not from the end of
   * the caller's speech (`fromSpeech: false`): drawn grey so it is not read as a speech turn's latency. One whose
   * answer was cut short (a barge-in) is amber.
   */
  function latencyChartTree(points, options) {
    const o = Object.assign({ width: 560, height: 150 }, options);
    const data = (points || []).filter((d) => isTime(d.latencyMs) && d.latencyMs >= 0).sort((a, b) => a.turn - b.turn);
    if (data.length === 0) return undefined;
    const left = 44;
    const right = 8;
    const top = 16;
    const bottom = 30;
    const plotWidth = o.width - left - right;
    const plotHeight = o.height - top - bottom;
    const max = niceCeil(Math.max(...data.map((d) => d.latencyMs)));
    const y = (v) => px(top + plotHeight - (v / max) * plotHeight);
    const slot = plotWidth / data.length;
    const barWidth = Math.max(1, Math.min(36, slot * 0.7));
    // With many turns the numbers would overlap: label every k-th turn, and the bars' ms only when there is room.
    const every = Math.ceil(18 / slot);
    const roomForValues = slot >= 30;
    const children = [h('title', {}, [`Latency per turn: ${data.map((d) => `turn ${d.turn} ${ms(d.latencyMs)}`).join(', ')}`])];
    for (const v of [0, max / 2, max]) {
      children.push(h('line', { x1: left, x2: left + plotWidth, y1: y(v), y2: y(v), stroke: v === 0 ? '#8c959f' : '#eaeef2' }));
      children.push(h('text', Object.assign({ x: left - 4, y: y(v) + 4, 'text-anchor': 'end', fill: '#57606a' }, FONT), [String(Math.round(v))]));
    }
    data.forEach((d, i) => {
      const cx = left + slot * i + slot / 2;
      const greeting = d.fromSpeech === false;
      const cut = CUT_SHORT.includes(d.status);
      const fill = greeting ? '#afb8c1' : cut ? '#bf8700' : '#0969da';
      const parts = [
        h('title', {}, [`turn ${d.turn}: ${ms(d.latencyMs)}${greeting ? ' (no caller speech: timed from the start of the turn)' : ''}${d.status && d.status !== 'completed' ? ` (${d.status})` : ''}`]),
        h('rect', { x: px(cx - barWidth / 2), y: y(d.latencyMs), width: px(barWidth), height: Math.max(1, px(y(0) - y(d.latencyMs))), fill }),
      ];
      if (roomForValues) parts.push(h('text', Object.assign({ x: px(cx), y: y(d.latencyMs) - 3, 'text-anchor': 'middle', fill: '#1b1f24' }, FONT), [String(Math.round(d.latencyMs))]));
      if (i % every === 0) parts.push(h('text', Object.assign({ x: px(cx), y: y(0) + 13, 'text-anchor': 'middle', fill: '#57606a' }, FONT), [String(d.turn)]));
      children.push(h('g', { class: `point${greeting ? ' no-speech' : ''}`, 'data-turn': d.turn, 'data-latency-ms': Math.round(d.latencyMs) }, parts));
    });
    children.push(h('text', Object.assign({ x: left + plotWidth / 2, y: o.height - 3, 'text-anchor': 'middle', fill: '#57606a' }, FONT), ['turn']));
    return h('svg', { viewBox: `0 0 ${o.width} ${o.height}`, width: o.width, height: o.height, role: 'img', class: 'latency-chart' }, children);
  }

  /** The next round number at or above v (1, 1.2, 1.5, 2 … 8 times a power of ten): the chart's top line. */
  function niceCeil(v) {
    if (!(v > 0)) return 1;
    const power = Math.pow(10, Math.floor(Math.log10(v)));
    for (const step of [1, 1.2, 1.5, 2, 2.5, 3, 4, 5, 6, 8, 10]) if (step * power >= v) return step * power;
    return 10 * power;
  }

  const SVG_NS = 'http://www.w3.org/2000/svg';
  const ESCAPES = { '&': '&amp;', '<': '&lt;', '>': '&gt;', '"': '&quot;', "'": '&#39;' };
  const escapeXml = (s) => String(s).replace(/[&<>"']/g, (c) => ESCAPES[c]);

  /** A drawing as SVG markup, every attribute and text escaped. */
  function toSvgString(node) {
    if (typeof node === 'string') return escapeXml(node);
    const attrs = Object.assign(node.tag === 'svg' ? { xmlns: SVG_NS } : {}, node.attrs);
    const open = [node.tag].concat(Object.entries(attrs).map(([k, v]) => `${k}="${escapeXml(v)}"`)).join(' ');
    return `<${open}>${node.children.map(toSvgString).join('')}</${node.tag}>`;
  }

  /** A drawing as DOM nodes of `doc`: elements in the SVG namespace, text as text nodes (nothing parsed as markup). */
  function toDom(node, doc) {
    if (typeof node === 'string') return doc.createTextNode(node);
    const el = doc.createElementNS(SVG_NS, node.tag);
    for (const [k, v] of Object.entries(node.attrs)) el.setAttribute(k, String(v));
    for (const child of node.children) el.appendChild(toDom(child, doc));
    return el;
  }

  /** A turn's waterfall as an <svg> element of `doc`, or null when the turn has nothing to draw. */
  function renderWaterfall(turn, doc, options) {
    const tree = waterfallTree(waterfallOf(turn), options);
    return tree ? toDom(tree, doc) : null;
  }

  /** A turn's waterfall as SVG markup ('' when there is nothing to draw). */
  function waterfallSvg(turn, options) {
    const tree = waterfallTree(waterfallOf(turn), options);
    return tree ? toSvgString(tree) : '';
  }

  function renderLatencyChart(points, doc, options) {
    const tree = latencyChartTree(points, options);
    return tree ? toDom(tree, doc) : null;
  }

  function latencyChartSvg(points, options) {
    const tree = latencyChartTree(points, options);
    return tree ? toSvgString(tree) : '';
  }

  const api = {
    STAGES,
    STAGE_LABELS,
    PREEMPTED_NOTE,
    stagesOf,
    stagesLine,
    waterfallOf,
    waterfallTree,
    latencyChartTree,
    toSvgString,
    toDom,
    renderWaterfall,
    waterfallSvg,
    renderLatencyChart,
    latencyChartSvg,
  };
  if (typeof module === 'object' && module.exports) module.exports = api;
  else root.VoiceAgentWaterfall = api;
})(this);
