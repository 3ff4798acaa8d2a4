// @ts-check
/**
 * The minimal relay: what an event costs with nothing but passing it on. Reads the form body,
 * answers 200, then POSTs the body as it came to the channel on a kept-alive connection. It
 * decodes, verifies, stores and reports nothing, so its CPU per event is the floor the gateway's
 * end-to-end runs are compared with.
 * Usage: node bench/servers/relay.js --port P --channel-url http://127.0.0.1:C/bitrix
 */
import { Agent, createServer, request } from 'node:http';
import { parseArgs } from 'node:util';
import { Buffer } from 'node:buffer';
import process from 'node:process';
import { URL } from 'node:url';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    'channel-url': { type: 'string' },
  },
});
const channel = new URL(String(values['channel-url']));
const agent = new Agent({ keepAlive: true, maxSockets: 64 });
const answer = Buffer.from('{"ok":true}');
let next = 0;

/** @param {Buffer} body */
const forward = (body) => {
  const req = request(channel, {
    method: 'POST',
    agent,
    headers: {
      'content-type': 'application/x-www-form-urlencoded',
      'content-length': body.length,
      // The channel counts distinct deliveries by this header.
      'webhook-id': `relay-${process.pid}-${++next}`,
    },
  });
  req.on('response', (res) => res.resume());
  req.on('error', () => undefined);
  req.end(body);
};

const server = createServer((req, res) => {
  if (req.method === 'GET') {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer);
    return;
  }
  /** @type {Buffer[]} */
  const chunks = [];
  req.on('data', (/** @type {Buffer} */ c) => chunks.push(c));
  req.on('end', () => {
    res.writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length }).end(answer);
    forward(Buffer.concat(chunks));
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
