// @ts-check
/**
 * A fake external channel for the end-to-end run: takes the gateway's signed JSON deliveries,
 * answers 200 at once (for `message.created` with its own id for the new message, as a real
 * channel would: {"externalMessageIds": ["ch-<n>"]}), and counts what came.
 * The signature is not checked (the gateway's tests do that); the body is parsed for its id and type
 * (a form-encoded body, from the minimal relay, counts as type `form`).
 * GET /stats: { requests, unique, repeats, byType, badJson }. GET /healthz: 200.
 * Usage: node bench/servers/channel.js --port P
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Buffer } from 'node:buffer';
import process from 'node:process';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } } });

/** webhook-id → the answer given, so a repeat gets the same answer (and the same new id) */
const seen = new Map();
const stats = { requests: 0, unique: 0, repeats: 0, badJson: 0, byType: /** @type {Record<string, number>} */ ({}) };
const empty = Buffer.from('{}');
let next = 1;

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    const body = req.url === '/stats' ? JSON.stringify(stats) : '{"ok":true}';
    res.writeHead(200, { 'content-type': 'application/json' }).end(body);
    return;
  }
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (/** @type {Buffer} */ c) => chunks.push(c));
  req.on('end', () => {
    stats.requests++;
    let answer = empty;
    try {
      // The minimal relay (servers/relay.js) passes Bitrix24's form body on as it came.
      const form = String(req.headers['content-type']).startsWith('application/x-www-form-urlencoded');
      const payload = /** @type {{ id?: string, type?: string }} */ (
        form ? { type: 'form' } : JSON.parse(Buffer.concat(chunks).toString('utf8'))
      );
      const id = String(req.headers['webhook-id'] ?? payload.id);
      const before = seen.get(id);
      if (before) {
        stats.repeats++;
        answer = before;
      } else {
        stats.unique++;
        const type = String(payload.type);
        stats.byType[type] = (stats.byType[type] ?? 0) + 1;
        if (type === 'message.created') answer = Buffer.from(JSON.stringify({ externalMessageIds: [`ch-${next++}`] }));
        seen.set(id, answer);
      }
    } catch {
      stats.badJson++;
    }
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
