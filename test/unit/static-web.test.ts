/**
 * The local stand-in for the page's hosting (local/gateway/static-web.ts) on a real HTTP server: the files of its
 * folder with their content types, and nothing else — no parent folder, no dotfile, no symlink out, no listing.
 */
import { mkdirSync, mkdtempSync, rmSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import path from 'node:path';
import { StaticWeb } from '../../local/gateway/static-web';

let dir: string;
let server: Server;
let base: string;

beforeAll(async () => {
  dir = mkdtempSync(path.join(tmpdir(), 'static-web-'));
  const root = path.join(dir, 'web');
  mkdirSync(path.join(root, 'sub'), { recursive: true });
  writeFileSync(path.join(root, 'index.html'), '<!doctype html><title>page</title>');
  writeFileSync(path.join(root, 'app.js'), 'console.log(1)');
  writeFileSync(path.join(root, '.env'), 'SECRET=1');
  writeFileSync(path.join(root, 'notes.txt'), 'not a web type');
  writeFileSync(path.join(root, 'sub', 'inner.js'), 'nested');
  writeFileSync(path.join(dir, 'outside.js'), 'outside the root');
  symlinkSync(path.join(dir, 'outside.js'), path.join(root, 'link.js'));
  const web = new StaticWeb(root);
  server = createServer((req, res) => {
    void web.handle(req, res).then((served) => {
      if (!served) res.writeHead(404).end('fallthrough');
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  base = `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
});
afterAll(async () => {
  await new Promise((resolve) => server.close(resolve));
  rmSync(dir, { recursive: true, force: true });
});

describe('StaticWeb', () => {
  it('serves index.html at / and by name, scripts as JavaScript, HEAD without a body', async () => {
    for (const p of ['/', '/index.html', '/index.html?x=1']) {
      const res = await fetch(base + p);
      expect(res.status).toBe(200);
      expect(res.headers.get('content-type')).toBe('text/html; charset=utf-8');
      expect(res.headers.get('x-content-type-options')).toBe('nosniff');
      expect(await res.text()).toContain('<title>page</title>');
    }
    const js = await fetch(`${base}/app.js`);
    expect(js.headers.get('content-type')).toBe('text/javascript; charset=utf-8');
    const head = await fetch(`${base}/app.js`, { method: 'HEAD' });
    expect(head.status).toBe(200);
    expect(head.headers.get('content-length')).toBe('14');
    expect(await head.text()).toBe('');
  });

  it.each([
    '/../outside.js',
    '/%2e%2e/outside.js',
    '/..%2Foutside.js',
    '/%2E%2E%5Coutside.js',
    '/link.js',
    '/.env',
    '/notes.txt',
    '/sub/inner.js',
    '/sub%2Finner.js',
    '/sub',
    '/missing.js',
    '/%E0%A4%A',
  ])('leaves %s to the caller (404 here)', async (p) => {
    const res = await fetch(base + p);
    expect(res.status).toBe(404);
    expect(await res.text()).toBe('fallthrough');
  });

  it('answers only GET and HEAD', async () => {
    expect((await fetch(`${base}/app.js`, { method: 'POST', body: 'x' })).status).toBe(404);
  });
});
