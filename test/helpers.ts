import { mkdtempSync, rmSync } from 'node:fs';
import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/** A fresh folder for one test's database files, removed by the returned function. */
export function tempDir(): { dir: string; cleanup: () => void } {
  const dir = mkdtempSync(join(tmpdir(), 'b24gw-'));
  return { dir, cleanup: () => rmSync(dir, { recursive: true, force: true }) };
}

/** A stand-in for a portal's REST API: answers app.info for the tokens it issued. */
export async function fakePortal(validTokens: Set<string>) {
  const calls: { path: string; body: string }[] = [];
  const server = createServer((req: IncomingMessage, res: ServerResponse) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      calls.push({ path: req.url ?? '', body });
      const auth = (JSON.parse(body || '{}') as { auth?: string }).auth;
      const ok = req.url === '/rest/app.info' && auth !== undefined && validTokens.has(auth);
      res.writeHead(ok ? 200 : 401, { 'content-type': 'application/json' });
      res.end(JSON.stringify(ok ? { result: { ID: '7', CODE: 'local.test', VERSION: 1, STATUS: 'L', INSTALLED: true } } : { error: 'invalid_token', error_description: 'The access token provided is invalid.' }));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return { domain: `127.0.0.1:${port}`, calls, close: () => new Promise<void>((r) => server.close(() => r())) };
}
