/*
 * The call history page (history.html), for the engineer on call: the recent calls of a stage, and one call turn by
 * turn — what was heard, what was answered, the intent, how the turn ended, its latency and the waterfall of its
 * stages (waterfall.js, as the call page draws them live).
 *
 * It reads the HTTP API's history route with the app token:
 *   GET {api}/history?limit=N[&before=<next>]  → { environment, calls: CallSummary[], next? }
 *   GET {api}/history?call=<callId>             → { environment, call: CallSummary, turns: TurnView[] }
 * 401 for a missing or wrong token, 404 for an unknown call, 400 for bad parameters, each `{ message }`.
 *
 * The token stays in this tab (sessionStorage): never in the URL, never in localStorage (which outlives the tab).
 * `#call=<id>` opens one call directly, so a link in an alarm or a log query leads to it. Everything the API returns
 * is shown with textContent: transcripts are what callers said, untrusted.
 *
 * Plain script, no build step. The page-independent helpers are exported for Node (test/unit/web-history.test.ts).
 */
(function (root) {
  'use strict';

  // ------------------------------------------------------------------------------------------ helpers

  /** "42 s", "3:05", "1:02:03"; an em dash when not known. */
  function formatDuration(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms) || ms < 0) return '—';
    const s = Math.round(ms / 1000);
    if (s < 60) return `${s} s`;
    const two = (n) => String(n).padStart(2, '0');
    const h = Math.floor(s / 3600);
    const m = Math.floor((s % 3600) / 60);
    return h > 0 ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
  }

  /** A local date and time, or an em dash. */
  function formatTime(ms) {
    if (typeof ms !== 'number' || !Number.isFinite(ms)) return '—';
    return new Date(ms).toLocaleString(undefined, { year: 'numeric', month: 'short', day: 'numeric', hour: '2-digit', minute: '2-digit', second: '2-digit' });
  }

  /** How a call turned out, in a few words: why it ended, or that it is still going. */
  function outcomeOf(call) {
    if (call.status === 'ended') return call.endReason ? `ended: ${call.endReason}` : 'ended';
    if (call.status === 'streaming') return 'in progress';
    if (call.status === 'connected') return 'connected, never streamed';
    return String(call.status || 'unknown');
  }

  const STATUS_TEXT = {
    completed: 'answered',
    barged: 'barge-in: the caller talked over the answer',
    superseded: 'superseded: the caller went on before it was answered',
    failed: 'failed',
    ignored: 'ignored: nothing understood',
    hungup: 'answered, then the agent hung up',
  };
  const statusText = (status) => STATUS_TEXT[status] || String(status);

  const HEARD_TEXT = {
    complete: 'the words sounded complete',
    unsure: 'the words could not tell',
    incomplete: 'the words sounded unfinished',
  };
  /** The end-of-turn decision (docs/LATENCY.md "End of turn"): the silence waited for, and why that long. */
  function endOfTurnText(endOfTurn) {
    if (!endOfTurn || typeof endOfTurn.silenceMs !== 'number') return undefined;
    const why = endOfTurn.heard ? HEARD_TEXT[endOfTurn.heard] || String(endOfTurn.heard) : 'not transcribed in time: the fixed silence';
    return `after ${Math.round(endOfTurn.silenceMs)} ms of silence (${why})`;
  }

  /** The history route's URL for these parameters (undefined ones left out). */
  function historyUrl(api, params) {
    const url = new URL(api.replace(/\/+$/, '') + '/history');
    for (const [k, v] of Object.entries(params || {})) if (v !== undefined && v !== '') url.searchParams.set(k, String(v));
    return url.toString();
  }

  /**
   * Where the API is: the address the deployed page was built with, and nothing else (a link that names another
   * address must not get the token sent there: the hash is not part of a presigned URL's signature); without one,
   * `?api=` or `#api=`, else this page's own origin (the local stack serves both).
   */
  function apiFrom(search, hash, baked, origin, protocol) {
    if (baked) return baked;
    const query = new URLSearchParams(search);
    const fromHash = new URLSearchParams(String(hash || '').replace(/^#/, ''));
    return query.get('api') || fromHash.get('api') || (/^https?:$/.test(protocol) ? origin : '');
  }

  /** What to tell the engineer about a refused request. */
  function errorText(status, body, what) {
    const said = body && typeof body.message === 'string' ? `: ${body.message}` : '';
    if (status === 401 || status === 403) return `Token refused (HTTP ${status}${said}). Check the token and show the calls again.`;
    if (status === 404) return `Not found: ${what} (HTTP 404${said}).`;
    if (status === 400) return `The API refused the request (HTTP 400${said}).`;
    return `The API answered HTTP ${status}${said}.`;
  }

  const helpers = { formatDuration, formatTime, outcomeOf, statusText, endOfTurnText, historyUrl, apiFrom, errorText };
  if (typeof module === 'object' && module.exports) {
    module.exports = helpers;
    return;
  }

  // ------------------------------------------------------------------------------------------ the page

  const W = root.VoiceAgentWaterfall;
  const doc = root.document;
  const $ = (id) => doc.getElementById(id);
  const TOKEN_KEY = 'voice-agent-history-token';

  /** A failure already worded for the page. */
  class PageError extends Error {}

  const store = {
    get: () => {
      try {
        return root.sessionStorage.getItem(TOKEN_KEY) || '';
      } catch {
        return ''; // storage disabled: the field still works for this page's life
      }
    },
    set: (token) => {
      try {
        if (token) root.sessionStorage.setItem(TOKEN_KEY, token);
        else root.sessionStorage.removeItem(TOKEN_KEY);
      } catch {
        // as above
      }
    },
  };

  // The list loaded so far (pages appended by "Older calls"), for the API it came from.
  let list = { api: undefined, calls: [], next: undefined };
  // Each request takes a number; an answer that is no longer the latest request's is dropped (fast clicking).
  let generation = 0;

  const hashParams = () => new URLSearchParams(root.location.hash.slice(1));
  /** This page's hash with `call` set (or removed), anything else in it (an `api=`) kept. */
  function hashWith(callId) {
    const params = hashParams();
    if (callId === undefined) params.delete('call');
    else params.set('call', callId);
    const text = params.toString();
    return text ? `#${text}` : '#';
  }

  function message(text, kind) {
    const el = $('message');
    el.textContent = text || '';
    el.className = kind === 'info' ? 'info' : '';
    el.hidden = !text;
  }

  function apiValue() {
    const api = $('api').value.trim().replace(/\/+$/, '');
    if (!/^https?:\/\//.test(api)) throw new PageError('Enter the API address (http://… or https://…), or open the page with ?api=…');
    return api;
  }

  /** GET the history route; resolves the parsed body of a 200, throws a PageError worded for the page otherwise. */
  async function getHistory(params, what) {
    const api = apiValue();
    const token = $('token').value.trim();
    if (!token) throw new PageError('Enter the token to see the calls.');
    const url = historyUrl(api, params);
    let res;
    try {
      res = await root.fetch(url, { headers: { Authorization: `Bearer ${token}` }, cache: 'no-store', referrerPolicy: 'no-referrer' });
    } catch {
      // The browser hides why: unreachable, or a CORS refusal (which looks the same from here).
      throw new PageError(`Could not reach ${new URL(url).origin}: a network error, or the API does not allow this page's origin.`);
    }
    let body;
    try {
      body = await res.json();
    } catch {
      body = undefined;
    }
    // A refused token is not kept for the next visit.
    if (res.status === 401 || res.status === 403) store.set('');
    if (!res.ok) throw new PageError(errorText(res.status, body, what));
    if (!body || typeof body !== 'object') throw new PageError('The API answered something that is not JSON.');
    return body;
  }

  function showEnvironment(environment) {
    const el = $('environment');
    el.textContent = environment ? `Environment: ${environment}` : '';
    el.hidden = !environment;
  }

  function cell(text, className) {
    const td = doc.createElement('td');
    td.textContent = text;
    if (className) td.className = className;
    return td;
  }

  /** One call as a table row: clicking anywhere on it opens the call (the link in it is for the keyboard). */
  function callRow(call) {
    const tr = doc.createElement('tr');
    tr.dataset.call = String(call.callId);
    if (call.errors > 0) tr.dataset.errors = String(call.errors);
    const link = doc.createElement('a');
    link.href = hashWith(String(call.callId));
    link.className = 'call-id';
    link.textContent = String(call.callId);
    const idCell = doc.createElement('td');
    idCell.append(link);
    const line = (call.phoneCall ? 'phone' : 'browser') + (call.encoding ? ` · ${call.encoding}` : '');
    tr.append(
      cell(formatTime(call.startedAt !== undefined ? call.startedAt : call.createdAt)),
      cell(formatDuration(call.durationMs), 'num'),
      cell(String(call.turns !== undefined ? call.turns : '—'), 'num'),
      cell(outcomeOf(call)),
      cell(String(call.errors !== undefined ? call.errors : '—'), 'num errors'),
      cell(String(call.bargeIns !== undefined ? call.bargeIns : '—'), 'num'),
      cell(line),
      idCell,
    );
    tr.addEventListener('click', (e) => {
      if (e.target.closest('a')) return; // the link navigates by itself
      root.location.hash = hashWith(String(call.callId));
    });
    return tr;
  }

  function renderList() {
    const body = $('calls').querySelector('tbody');
    body.replaceChildren(...list.calls.map(callRow));
    $('older').hidden = !list.next;
  }

  /** The first page of calls (`more` false) or the next older one, appended. */
  async function loadCalls(more) {
    const mine = ++generation;
    const api = apiValue();
    if (!more || list.api !== api) list = { api, calls: [], next: undefined };
    $('older').disabled = true;
    message(more ? 'Loading older calls…' : 'Loading calls…', 'info');
    try {
      const body = await getHistory({ limit: $('limit').value, before: more ? list.next : undefined }, 'the call list');
      if (mine !== generation) return;
      if (!Array.isArray(body.calls)) throw new PageError('The API\'s answer has no list of calls.');
      list.calls = list.calls.concat(body.calls);
      list.next = typeof body.next === 'string' && body.next ? body.next : undefined;
      showEnvironment(body.environment);
      renderList();
      message(list.calls.length === 0 ? 'No calls in this environment yet.' : '', 'info');
    } finally {
      $('older').disabled = false;
    }
  }

  function summaryRow(dl, term, value) {
    if (value === undefined || value === '') return;
    const dt = doc.createElement('dt');
    dt.textContent = term;
    const dd = doc.createElement('dd');
    dd.textContent = value;
    dl.append(dt, dd);
  }

  function renderSummary(call) {
    $('call-title').textContent = `Call ${call.callId}`;
    const dl = $('call-summary');
    dl.replaceChildren();
    summaryRow(dl, 'Started', formatTime(call.startedAt !== undefined ? call.startedAt : call.createdAt));
    if (call.endedAt !== undefined) summaryRow(dl, 'Ended', formatTime(call.endedAt));
    summaryRow(dl, 'Duration', formatDuration(call.durationMs));
    summaryRow(dl, 'Outcome', outcomeOf(call));
    summaryRow(dl, 'Turns', String(call.turns));
    summaryRow(dl, 'Errors', String(call.errors));
    summaryRow(dl, 'Barge-ins', String(call.bargeIns));
    summaryRow(dl, 'Line', (call.phoneCall ? 'phone' : 'browser') + (call.encoding ? ` · ${call.encoding}` : ''));
  }

  /** One part of a turn: a paragraph of its class, hidden when there is nothing to say. */
  function part(tag, className, text) {
    const el = doc.createElement(tag);
    el.className = className;
    if (text === undefined || text === null || text === '') el.hidden = true;
    else el.textContent = String(text);
    return el;
  }

  function turnItem(t) {
    const li = doc.createElement('li');
    li.className = 'turn';
    li.dataset.turn = String(t.turn);
    li.dataset.kind = String(t.kind);
    li.dataset.status = String(t.status);
    if (t.error) li.dataset.error = 'true';
    const title = doc.createElement('h3');
    title.textContent = `Turn ${t.turn} · ${t.kind === 'dtmf' ? 'key press' : t.kind}${t.preempted ? ' · answered preemptively' : ''}`;
    // A speech turn whose words were not understood says so; a greeting or key press has nothing heard.
    const heard = t.transcript !== undefined ? t.transcript || '(nothing understood)' : undefined;
    const stages = W.stagesLine(W.stagesOf(t));
    const waterfall = part('div', 'waterfall');
    const svg = W.renderWaterfall(t, doc, { title: `Turn ${t.turn}` });
    if (svg) {
      waterfall.append(svg);
      waterfall.hidden = false;
    }
    li.append(
      title,
      part('p', 'heard', heard),
      part('p', 'reply', t.reply),
      part('p', 'intent', t.intent),
      part('p', 'status', statusText(t.status)),
      part('p', 'error', t.error),
      part('p', 'end-of-turn', endOfTurnText(t.endOfTurn)),
      part('p', 'latency', typeof t.latencyMs === 'number' ? `${Math.round(t.latencyMs)} ms` : undefined),
      part('p', 'stages', stages ? stages + (t.preempted ? W.PREEMPTED_NOTE : '') : undefined),
      waterfall,
    );
    return li;
  }

  async function loadCall(callId) {
    const mine = ++generation;
    $('call-title').textContent = `Call ${callId}`;
    $('call-summary').replaceChildren();
    $('turns').replaceChildren();
    $('call-latency-chart').hidden = true;
    message('Loading the call…', 'info');
    const body = await getHistory({ call: callId }, `no call ${callId} in this environment`);
    if (mine !== generation) return;
    if (!body.call || !Array.isArray(body.turns)) throw new PageError('The API\'s answer has no call and turns.');
    showEnvironment(body.environment);
    renderSummary(body.call);
    const turns = body.turns.slice().sort((a, b) => a.turn - b.turn);
    $('turns').replaceChildren(...turns.map(turnItem));
    const chart = W.renderLatencyChart(
      turns.map((t) => ({ turn: t.turn, latencyMs: t.latencyMs, status: t.status, fromSpeech: Boolean(t.timings && t.timings.speechEndAt !== undefined) })),
      doc,
    );
    $('call-latency-chart').querySelector('.chart').replaceChildren(...(chart ? [chart] : []));
    $('call-latency-chart').hidden = !chart;
    message(turns.length === 0 ? 'This call has no turns.' : '', 'info');
  }

  /** Shows what the hash asks for: one call (`#call=<id>`), else the list. */
  async function route() {
    const callId = hashParams().get('call');
    $('list').hidden = Boolean(callId);
    $('call-detail').hidden = !callId;
    try {
      if (!$('token').value.trim()) {
        message('Enter the token to see the calls.', 'info');
        $('token').focus();
        return;
      }
      if (callId) await loadCall(callId);
      else if (list.calls.length === 0 || list.api !== apiValue()) await loadCalls(false);
      else renderList();
    } catch (err) {
      message(err instanceof PageError ? err.message : `Something failed: ${err && err.message ? err.message : err}`);
    }
  }

  /**
   * The call page, told this page's API address when it would not find it by itself (a typed one, or `?api=`). The
   * link's own href is kept: the deployed page is call.html (lib/constructs/web-client.ts points it there).
   */
  const callPageHref = $('call-page-link').getAttribute('href');
  function updateCallPageLink() {
    const api = $('api').value.trim();
    const baked = doc.querySelector('meta[name="voice-agent-api"]');
    const own = (baked && baked.content) || root.location.origin;
    $('call-page-link').href = callPageHref + (api && api !== own ? `?api=${encodeURIComponent(api)}` : '');
    // A presigned S3 link signs one object: the call page needs its own.
    if (/[?&]X-Amz-Signature=/.test(root.location.search)) $('call-page-link').title = 'On S3 each page needs its own link: aws s3 presign s3://<bucket>/call.html';
  }

  function start() {
    const baked = doc.querySelector('meta[name="voice-agent-api"]');
    $('api').value = apiFrom(root.location.search, root.location.hash, baked && baked.content, root.location.origin, root.location.protocol);
    $('token').value = store.get();
    updateCallPageLink();
    $('api').addEventListener('input', updateCallPageLink);
    $('settings').addEventListener('submit', (e) => {
      e.preventDefault();
      store.set($('token').value.trim());
      list = { api: undefined, calls: [], next: undefined };
      void route();
    });
    $('forget').addEventListener('click', () => {
      store.set('');
      $('token').value = '';
      list = { api: undefined, calls: [], next: undefined };
      generation++;
      $('calls').querySelector('tbody').replaceChildren();
      $('turns').replaceChildren();
      $('call-summary').replaceChildren();
      $('call-latency-chart').hidden = true;
      $('older').hidden = true;
      showEnvironment(undefined);
      message('Token forgotten.', 'info');
    });
    $('older').addEventListener('click', () => {
      loadCalls(true).catch((err) => message(err instanceof PageError ? err.message : String(err)));
    });
    $('back').addEventListener('click', (e) => {
      e.preventDefault();
      root.location.hash = hashWith(undefined);
    });
    root.addEventListener('hashchange', () => void route());
    // A stored token goes by itself only to this page's own API (the built-in address or this origin); to an address
    // the link named, only when the engineer presses Show calls.
    const named = $('api').value !== ((baked && baked.content) || root.location.origin);
    if (named && $('token').value) message(`Press Show calls to send your token to ${$('api').value}.`, 'info');
    else void route();
  }

  start();
})(this);
