// @ts-check
/**
 * Not a product mode: the gateway's intake (decode, validate, verify, and the record it would
 * keep) on node:http as `serve --role intake` runs it, with a store that keeps nothing and
 * answers at once. What it reaches is the bound the intake's own work sets on this machine,
 * before any storage. Usage: node bench/servers/no-store.js --port P --app-token M=T ...
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import process from 'node:process';
import { Intake } from '../../dist/intake/intake.js';
import { createNodeHandler } from '../../dist/intake/node.js';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'app-token': { type: 'string', multiple: true, default: [] },
  },
});
const appTokens = new Map(values['app-token'].map((pair) => /** @type {[string, string]} */ (pair.split('='))));
let id = 0;
const store = /** @type {import('../../dist/store/types.js').Store} */ (
  /** @type {unknown} */ ({ append: async () => ({ id: ++id, duplicate: false }), getPortal: async () => undefined })
);
const events = createNodeHandler(new Intake({ store, appTokens }));
const server = createServer((req, res) => {
  if (req.url === '/healthz')
    return void res.writeHead(200, { 'content-type': 'application/json' }).end('{"status":"ok"}');
  void events(req, res);
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
