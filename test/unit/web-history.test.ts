/**
 * The history page's wording and addresses (web/history.js, the file the page loads; its page part does not run in
 * Node): durations, outcomes, turn statuses (a barged turn is a barge-in), end-of-turn decisions, the route's URL,
 * where the API is found (as the call page finds it), and what a refusal says.
 */
const H = require('../../web/history.js') as {
  formatDuration(ms: unknown): string;
  formatTime(ms: unknown): string;
  outcomeOf(call: { status: string; endReason?: string }): string;
  statusText(status: string): string;
  endOfTurnText(endOfTurn: unknown): string | undefined;
  historyUrl(api: string, params: Record<string, string | number | undefined>): string;
  apiFrom(search: string, hash: string, baked: string | undefined, origin: string, protocol: string): string;
  errorText(status: number, body: unknown, what: string): string;
};

describe('web/history.js helpers', () => {
  it('words durations short', () => {
    expect(H.formatDuration(42_400)).toBe('42 s');
    expect(H.formatDuration(185_000)).toBe('3:05');
    expect(H.formatDuration(3_723_000)).toBe('1:02:03');
    for (const none of [undefined, null, NaN, -5, '10']) expect(H.formatDuration(none)).toBe('—');
    expect(H.formatTime(undefined)).toBe('—');
    expect(H.formatTime(1_765_000_000_000)).toMatch(/\d/);
  });

  it('says how a call turned out, and a barged turn is a barge-in', () => {
    expect(H.outcomeOf({ status: 'ended', endReason: 'caller hung up' })).toBe('ended: caller hung up');
    expect(H.outcomeOf({ status: 'ended' })).toBe('ended');
    expect(H.outcomeOf({ status: 'streaming' })).toBe('in progress');
    expect(H.outcomeOf({ status: 'connected' })).toBe('connected, never streamed');
    expect(H.statusText('barged')).toMatch(/^barge-in/);
    expect(H.statusText('completed')).toBe('answered');
    expect(H.statusText('something new')).toBe('something new');
  });

  it('words the end-of-turn decision', () => {
    expect(H.endOfTurnText({ silenceMs: 300, heard: 'complete' })).toBe('after 300 ms of silence (the words sounded complete)');
    expect(H.endOfTurnText({ silenceMs: 1000, heard: 'incomplete' })).toBe('after 1000 ms of silence (the words sounded unfinished)');
    expect(H.endOfTurnText({ silenceMs: 400 })).toBe('after 400 ms of silence (not transcribed in time: the fixed silence)');
    expect(H.endOfTurnText(undefined)).toBeUndefined();
  });

  it('builds the route\'s URL, leaving out what is not given', () => {
    expect(H.historyUrl('https://api.example/', { limit: 50, before: undefined })).toBe('https://api.example/history?limit=50');
    expect(H.historyUrl('https://api.example/prod', { limit: 20, before: 'abc=&x' })).toBe('https://api.example/prod/history?limit=20&before=abc%3D%26x');
    expect(H.historyUrl('http://127.0.0.1:3000', { call: 'CA1 2' })).toBe('http://127.0.0.1:3000/history?call=CA1+2');
  });

  it('finds the API as the call page does: ?api=, #api=, the deployed address, this origin', () => {
    // The deployed page's own address wins over any the link names (the token must not go elsewhere).
    expect(H.apiFrom('?api=https://a.example', '#api=https://b.example', 'https://c.example', 'http://localhost:3000', 'http:')).toBe('https://c.example');
    expect(H.apiFrom('', '#call=CA1&api=https://b.example', 'https://c.example', 'http://localhost:3000', 'http:')).toBe('https://c.example');
    expect(H.apiFrom('?api=https://a.example', '', '', 'http://localhost:3000', 'http:')).toBe('https://a.example');
    expect(H.apiFrom('', '#call=CA1&api=https://b.example', undefined, 'http://localhost:3000', 'http:')).toBe('https://b.example');
    expect(H.apiFrom('', '#call=CA1', 'https://c.example', 'http://localhost:3000', 'http:')).toBe('https://c.example');
    expect(H.apiFrom('', '', '', 'http://localhost:3000', 'http:')).toBe('http://localhost:3000');
    expect(H.apiFrom('', '', undefined, 'null', 'file:')).toBe('');
  });

  it('says a refused token is refused, and what was not found', () => {
    expect(H.errorText(401, { message: 'Unauthorized' }, 'the list')).toMatch(/^Token refused \(HTTP 401: Unauthorized\)/);
    expect(H.errorText(404, { message: 'no such call' }, 'no call CA1 in this environment')).toBe('Not found: no call CA1 in this environment (HTTP 404: no such call).');
    expect(H.errorText(400, { message: 'limit must be 1-100' }, '')).toBe('The API refused the request (HTTP 400: limit must be 1-100).');
    expect(H.errorText(502, undefined, '')).toBe('The API answered HTTP 502.');
  });
});
