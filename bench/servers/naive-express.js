// @ts-check
/**
 * The handler most Bitrix24 Node apps start from: Express, `express.urlencoded({ extended: true })`
 * (qs), a plain token check, and one synchronous better-sqlite3 insert per request, then 200.
 * Usage: node bench/servers/naive-express.js --port P --db FILE --synchronous FULL|NORMAL --app-token M=T ...
 */
import { parseArgs } from 'node:util';
import Database from 'better-sqlite3';
import express from 'express';
import process from 'node:process';

const { values } = parseArgs({
  options: {
    port: { type: 'string' },
    host: { type: 'string', default: '127.0.0.1' },
    db: { type: 'string' },
    synchronous: { type: 'string', default: 'FULL' },
    'app-token': { type: 'string', multiple: true, default: [] },
  },
});
if (!values.db || !['FULL', 'NORMAL'].includes(values.synchronous ?? ''))
  throw new Error('--db FILE and --synchronous FULL|NORMAL are required');

/** @type {Map<string, string>} */
const tokens = new Map(values['app-token'].map((pair) => /** @type {[string, string]} */ (pair.split('='))));

const db = new Database(values.db);
db.pragma('journal_mode = WAL');
db.pragma(`synchronous = ${values.synchronous}`);
db.exec(`CREATE TABLE IF NOT EXISTS events (
  id INTEGER PRIMARY KEY AUTOINCREMENT, event TEXT NOT NULL, member_id TEXT NOT NULL, ts INTEGER, body TEXT NOT NULL, received_at INTEGER NOT NULL)`);
const insert = db.prepare('INSERT INTO events (event, member_id, ts, body, received_at) VALUES (?, ?, ?, ?, ?)');

const app = express();
app.use(express.urlencoded({ extended: true }));
app.get('/healthz', (_req, res) => {
  res.json({ status: 'ok' });
});
app.post('/events', (req, res) => {
  const body = req.body ?? {};
  const auth = body.auth ?? {};
  if (typeof auth.member_id !== 'string' || tokens.get(auth.member_id) !== auth.application_token) {
    res.status(401).json({ error: 'bad application_token' });
    return;
  }
  const info = insert.run(
    String(body.event),
    auth.member_id,
    Number(body.ts) || null,
    JSON.stringify(body),
    Date.now(),
  );
  res.json({ ok: true, id: Number(info.lastInsertRowid) });
});

const server = app.listen(Number(values.port), values.host);
server.keepAliveTimeout = 65_000;
process.on('SIGTERM', () => {
  server.close(() => {
    db.close();
    process.exit(0);
  });
  server.closeIdleConnections();
});
