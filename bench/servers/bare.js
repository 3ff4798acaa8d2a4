// @ts-check
/**
 * The ceiling: a bare node:http server that reads the whole body and answers 200.
 * No decoding, no verification, no storage. Usage: node bench/servers/bare.js --port P
 */
import { createServer } from 'node:http';
import { parseArgs } from 'node:util';
import { Buffer } from 'node:buffer';
import process from 'node:process';

const { values } = parseArgs({ options: { port: { type: 'string' }, host: { type: 'string', default: '127.0.0.1' } } });
const answer = Buffer.from('{"ok":true}');

const server = createServer((req, res) => {
  let bytes = 0;
  req.on('data', (/** @type {Buffer} */ chunk) => (bytes += chunk.length));
  req.on('end', () => {
    res
      .writeHead(200, { 'content-type': 'application/json', 'content-length': answer.length, 'x-body-bytes': bytes })
      .end(answer);
  });
});
server.keepAliveTimeout = 65_000;
server.listen(Number(values.port), values.host);
process.on('SIGTERM', () => {
  server.close(() => process.exit(0));
  server.closeIdleConnections();
});
