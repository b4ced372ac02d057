/**
 * The browser page (web/) served by the local gateway's HTTP server, so `npm start` gives a page to talk to on the
 * same port as the WebSocket stage and the token endpoint. On AWS the same files go to an S3 bucket
 * (lib/constructs/web-client.ts); this is the local stand-in, not an emulation of S3.
 *
 * Deliberately narrow: GET and HEAD of files directly in the web root (`/` is `index.html`), known content types
 * only, no dotfiles, no subdirectories, no listings. A name is one path segment of safe characters, so `..`,
 * encoded slashes and the like cannot name anything outside the root; the resolved path is checked anyway.
 */
import { readFile, realpath, stat } from 'node:fs/promises';
import type { IncomingMessage, ServerResponse } from 'node:http';
import path from 'node:path';

export const CONTENT_TYPES: Readonly<Record<string, string>> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.json': 'application/json',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
  '.ico': 'image/x-icon',
};

const NAME = /^[A-Za-z0-9_-][A-Za-z0-9._-]*$/;

export class StaticWeb {
  private readonly root: Promise<string>;

  constructor(root: string) {
    // realpath once: the containment check below compares real paths, so a symlink in web/ cannot lead out of it.
    this.root = realpath(root);
  }

  /** The file `pathname` names, or undefined when it names nothing this may serve. */
  async resolve(pathname: string): Promise<string | undefined> {
    let name: string;
    try {
      name = pathname === '/' ? 'index.html' : decodeURIComponent(pathname.slice(1));
    } catch {
      return undefined; // malformed percent-encoding
    }
    if (!pathname.startsWith('/') || !NAME.test(name) || name.includes('..') || !(path.extname(name) in CONTENT_TYPES)) return undefined;
    const root = await this.root;
    let file: string;
    try {
      file = await realpath(path.join(root, name));
      if (path.dirname(file) !== root || !(await stat(file)).isFile()) return undefined;
    } catch {
      return undefined; // no such file
    }
    return file;
  }

  /**
   * Answers `req` when it is a GET or HEAD of a file in the web root; resolves false otherwise (the caller answers).
   * Asynchronous: the caller must not touch `res` until this resolves false.
   */
  async handle(req: IncomingMessage, res: ServerResponse): Promise<boolean> {
    if (req.method !== 'GET' && req.method !== 'HEAD') return false;
    const pathname = new URL(req.url ?? '/', 'http://local').pathname;
    const file = await this.resolve(pathname);
    if (!file) return false;
    const body = await readFile(file);
    req.resume();
    res.writeHead(200, {
      'content-type': CONTENT_TYPES[path.extname(file)]!,
      'content-length': body.length,
      // Edited in place during development: always revalidate.
      'cache-control': 'no-cache',
      'x-content-type-options': 'nosniff',
    });
    res.end(req.method === 'HEAD' ? undefined : body);
    return true;
  }
}
