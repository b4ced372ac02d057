/**
 * The two pages as deployed (lib/constructs/web-client.ts): call.html and call-history.html self-contained — local
 * scripts inlined, the API address in the meta tag, links between them named as deployed — and the elements the
 * browser tests and the pages' scripts rely on.
 */
import { existsSync, readFileSync } from 'node:fs';
import path from 'node:path';
import { STANDALONE_HISTORY_PAGE, STANDALONE_PAGE, STANDALONE_PAGES, WEB_DIR, standalonePage, standalonePages } from '../../lib/constructs/web-client';

const API = 'https://abc123.execute-api.us-east-1.amazonaws.com';
const source = (file: string) => readFileSync(path.join(WEB_DIR, file), 'utf8');

describe('standalone pages', () => {
  it('keeps call.html as it was: index.html, the default', () => {
    expect(STANDALONE_PAGE).toBe('call.html');
    expect(STANDALONE_PAGES).toEqual({ 'call.html': 'index.html', 'call-history.html': 'history.html' });
    // Neither overwrites a plain web/ file deployed beside it (two sources of one deployment, one key).
    for (const deployed of Object.keys(STANDALONE_PAGES)) expect(existsSync(path.join(WEB_DIR, deployed))).toBe(false);
    expect(standalonePage(API)).toBe(standalonePage(API, WEB_DIR, 'index.html'));
    expect(standalonePages(API)[STANDALONE_PAGE]).toBe(standalonePage(API));
  });

  it.each([
    [STANDALONE_PAGE, ['class Resampler', "registerProcessor('voice-agent-capture'", 'VoiceAgentWaterfall'], 'href="call-history.html"'],
    [STANDALONE_HISTORY_PAGE, ['VoiceAgentWaterfall', 'voice-agent-history-token'], 'href="call.html"'],
  ])('%s: scripts inlined, the API address filled in, the other page linked by its deployed name, nothing fetched from elsewhere', (page, scripts, link) => {
    const html = standalonePages(API)[page]!;
    expect(html).toContain(`<meta name="voice-agent-api" content="${API}">`);
    expect(html).not.toMatch(/<script src=/);
    for (const s of scripts) expect(html).toContain(s);
    expect(html).toContain(link);
    expect(html).not.toContain('href="index.html"');
    expect(html).not.toMatch(/(src|href)="https?:/);
  });

  it('quotes the address it puts in the attribute', () => {
    expect(standalonePage('https://x.example/?a="b"&c')).toContain('content="https://x.example/?a=&quot;b&quot;&amp;c"');
  });

  it('fails the synth when a page lost what it fills in', () => {
    expect(() => standalonePage(API, WEB_DIR, 'no-such-page.html')).toThrow();
  });
});

describe('the pages\' elements', () => {
  it('call page: the latency chart, the history link, the waterfall script before app.js', () => {
    const html = source('index.html');
    expect(html).toContain('id="latency-chart"');
    expect(html).toContain('id="history-link" href="history.html"');
    expect(html.indexOf('src="waterfall.js"')).toBeLessThan(html.indexOf('src="app.js"'));
    // Each turn's parts, the browser test reads .latency and .stages; the waterfall goes under them.
    expect(source('app.js')).toContain("['heard', 'reply', 'note', 'latency', 'stages', 'waterfall']");
  });

  it('history page: the fields, the calls table and the turns list; the token field a password with no name', () => {
    const html = source('history.html');
    for (const id of ['api', 'token', 'limit', 'calls', 'older', 'turns', 'call-detail', 'call-latency-chart', 'message', 'call-page-link']) expect(html).toContain(`id="${id}"`);
    expect(html).toMatch(/<input id="token" type="password"[^>]*>/);
    expect(html).not.toMatch(/<input[^>]* name=/);
    // The token only in sessionStorage; and nothing from the API inserted as markup.
    const js = source('history.js');
    expect(js).not.toMatch(/localStorage\s*[.[]|innerHTML|outerHTML|insertAdjacentHTML|document\.write/);
    expect(js).toMatch(/sessionStorage\.setItem/);
    expect(source('waterfall.js')).not.toMatch(/innerHTML|outerHTML|insertAdjacentHTML/);
  });
});
