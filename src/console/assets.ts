import { existsSync } from 'node:fs';
import { readFile } from 'node:fs/promises';
import { extname, join } from 'node:path';
import { fileURLToPath } from 'node:url';
import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';

/**
 * The page's files, built by `npm run build` (scripts/build-console.mjs) into dist/console/assets
 * and shipped in the package: nothing is fetched from elsewhere, so the console works offline.
 */
export function assetsDir(): string {
  const beside = fileURLToPath(new URL('./assets/', import.meta.url));
  // Run from the sources (tests), the built files are in dist.
  return existsSync(beside) ? beside : fileURLToPath(new URL('../../dist/console/assets/', import.meta.url));
}

const types: Record<string, string> = {
  '.html': 'text/html; charset=utf-8',
  '.js': 'text/javascript; charset=utf-8',
  '.css': 'text/css; charset=utf-8',
  '.svg': 'image/svg+xml',
  '.png': 'image/png',
};

/** Only what the page loads: same origin, no framing (an admin page clicked through another site's frame). */
const headers = {
  'content-security-policy':
    "default-src 'self'; style-src 'self' 'unsafe-inline'; img-src 'self' data:; frame-ancestors 'none'; base-uri 'none'; form-action 'self'",
  'x-content-type-options': 'nosniff',
  'referrer-policy': 'no-referrer',
};

/** GET /console/ (the page) and /console/<file>; the page's routes live after `#`, so every path is a file. */
export function serveAssets(dir = assetsDir()) {
  const cache = new Map<string, Buffer>();
  return async (req: IncomingMessage, res: ServerResponse): Promise<void> => {
    req.resume();
    if (req.method !== 'GET' && req.method !== 'HEAD') {
      const e = new GatewayError('B24GW_METHOD_NOT_ALLOWED', `${req.method} is not allowed here; use GET`);
      res.writeHead(e.status, { allow: 'GET', 'content-type': 'application/json' }).end(JSON.stringify(e.toJSON()));
      return;
    }
    const path = (req.url ?? '/').split('?')[0]!;
    const name = path === '/console/' || path === '/console' ? 'index.html' : path.slice('/console/'.length);
    if (!/^[a-z0-9][a-z0-9._-]*$/i.test(name) || !(extname(name) in types))
      throw new GatewayError('B24GW_NOT_FOUND', `No console file ${name.slice(0, 100)}`);
    let body = cache.get(name);
    if (!body) {
      try {
        body = await readFile(join(dir, name));
      } catch {
        throw new GatewayError(
          'B24GW_NOT_FOUND',
          name === 'index.html' ? 'The console was not built: run npm run build' : `No console file ${name}`,
        );
      }
      cache.set(name, body);
    }
    res
      .writeHead(200, {
        ...headers,
        'content-type': types[extname(name)]!,
        'content-length': body.length,
        'cache-control': name === 'index.html' ? 'no-cache' : 'max-age=300',
      })
      .end(req.method === 'HEAD' ? undefined : body);
  };
}
