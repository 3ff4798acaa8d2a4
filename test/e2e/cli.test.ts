import { spawnSync } from 'node:child_process';
import { createServer, type AddressInfo } from 'node:net';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { describe, expect, it } from 'vitest';
import { storeWithDeadLetter } from '../dead-letters.js';
import { formFixture } from '../fixtures.js';
import { tempDir, tempDirEach } from '../helpers.js';
import { freshDatabase, pgAvailable } from '../pg.js';
import { cli, startGatewayProcess } from '../process.js';

const run = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, [cli, ...args], { input, encoding: 'utf8' });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('b24-im-gateway parse', () => {
  it('prints the typed event of a form body from a file', () => {
    const r = run([
      'parse',
      new URL('../../fixtures/events/imconnector-message-delete.form', import.meta.url).pathname,
    ]);
    expect(r.code).toBe(0);
    const e = JSON.parse(r.stdout) as { data: { LINE: number; MESSAGES: { message: { id: string } }[] } };
    expect(e.data.LINE).toBe(107);
    expect(e.data.MESSAGES[0]?.message.id).toBe('ext-msg-005');
  });

  it('reads stdin, JSON included', () => {
    const r = run(
      ['parse', '--content-type', 'json'],
      '{"event":"ONAPPTEST","ts":"1","auth":{"domain":"a.bitrix24.com","member_id":"m","application_token":"t"}}',
    );
    expect(r.code).toBe(0);
    expect(JSON.parse(r.stdout)).toMatchObject({ event: 'ONAPPTEST', ts: 1 });
  });

  it('gives a one-line reason and a non-zero exit on bad input, with no stack trace', () => {
    const bad = formFixture('imconnector-message-update').replace('data%5BLINE%5D=107', 'data%5BLINE%5D=x');
    const r = run(['parse', '--content-type', 'form'], bad);
    expect(r.code).not.toBe(0);
    expect(r.stderr.trim().split('\n')).toHaveLength(1);
    expect(r.stderr).toContain('B24GW_INVALID_EVENT');
    expect(r.stderr).toContain('data[LINE]');
    expect(r.stderr).not.toMatch(/\n\s+at /);
    expect(run(['parse', '/no/such/file']).stderr).toMatch(
      /^error B24GW_BAD_INPUT: Cannot read \/no\/such\/file: ENOENT\n$/,
    );
    expect(
      run(
        ['parse', '--content-type', 'form'],
        'a[b][c][d][e][f][g][h][i][j][k][l][m][n][o][p][q][r][s][t][u][v][w][x][y][z][a][b][c][d][e][f][g][h]=1',
      ).stderr,
    ).toContain('B24GW_TOO_DEEP');
  });

  it('has --help on every command, with at most one default per option', () => {
    const commands = ['serve', 'parse', 'events', 'replay', 'prune', 'migrate', 'console', 'doctor', 'demo'];
    for (const cmd of [...commands, 'connector setup', 'connector teardown', 'bot setup', 'bot teardown']) {
      const r = run([...cmd.split(' '), '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: b24-im-gateway ${cmd}`);
      // Each option starts a line with two spaces and a dash; its text runs until the next one.
      const options = r.stdout.split(/\n(?= {2}-)/).slice(1);
      for (const option of options)
        expect(option.match(/default/g)?.length ?? 0, `${cmd}: ${option}`).toBeLessThanOrEqual(1);
      expect(r.stdout, cmd).not.toContain('(default: [])');
    }
  });
});

describe('b24-im-gateway serve', () => {
  it('refuses a lease or handler time limit a timer cannot wait, before it starts', () => {
    expect(run(['serve', '--handler-timeout', '0s']).stderr).toBe(
      'error B24GW_BAD_CONFIG: --handler-timeout must be above 0 and at most 24 days, got "0s"\n',
    );
    expect(run(['serve', '--lease', '30d']).stderr).toBe(
      'error B24GW_BAD_CONFIG: --lease must be above 0 and at most 24 days, got "30d"\n',
    );
    expect(run(['serve', '--handler-timeout', 'soon']).stderr).toMatch(
      /^error B24GW_BAD_CONFIG: "soon" is not a duration/,
    );
  });

  it('refuses a channel secret that is not whsec_ + base64 at start, not at the first event', () => {
    const r = run(['serve', '--channel-url', 'http://127.0.0.1:9/hook', '--channel-secret', 'notbase64']);
    expect(r.code).toBe(1);
    expect(r.stderr).toMatch(/^error B24GW_BAD_CONFIG: --channel-secret: Channel secret must be "whsec_" \+ base64/);
  });

  it('reports a port already taken with its code', async () => {
    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const tmp = tempDir();
    try {
      const { port } = taken.address() as AddressInfo;
      const r = spawnSync(process.execPath, [cli, 'serve', '--port', String(port), '--db', join(tmp.dir, 'p.db')], {
        encoding: 'utf8',
        timeout: 20_000,
      });
      expect(r.status).toBe(1);
      expect(r.stderr).toBe(`error B24GW_LISTEN_FAILED: cannot listen on 127.0.0.1:${port}: EADDRINUSE\n`);
    } finally {
      taken.close();
      tmp.cleanup();
    }
  });
});

describe('b24-im-gateway migrate', () => {
  const tables = ['events', 'portals', 'status_outbox', 'state_messages', 'state_chats', 'state_dialogs'];

  it('creates the event store and the connector state in a new SQLite file, and again is a no-op', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'new.db');
      const first = run(['migrate', '--db', file]);
      expect(first.stderr).toBe('');
      expect(first.stdout).toMatch(/^created the schema \(sqlite\): \d+ migrations applied\n$/);
      const again = run(['migrate', '--db', file]);
      expect(again.stdout).toBe('schema is up to date (sqlite); nothing to do\n');
      const db = new Database(file, { readonly: true });
      const names = db.prepare("SELECT name FROM sqlite_master WHERE type = 'table'").pluck().all();
      db.close();
      expect(names).toEqual(expect.arrayContaining(tables));
    } finally {
      tmp.cleanup();
    }
  });

  it.skipIf(!pgAvailable)('does the same in a new PostgreSQL database', async () => {
    const fresh = await freshDatabase();
    try {
      const r = run(['migrate', '--db', fresh.url]);
      expect(r.stderr).toBe('');
      expect(r.stdout).toMatch(/^created the schema \(postgres\): \d+ migrations applied\n$/);
      const client = new pg.Client({ connectionString: fresh.url });
      await client.connect();
      const { rows } = await client.query<{ tablename: string }>(
        "SELECT tablename FROM pg_tables WHERE schemaname = 'public'",
      );
      await client.end();
      expect(rows.map((x) => x.tablename)).toEqual(expect.arrayContaining(tables));
    } finally {
      await fresh.drop();
    }
  });
});

describe('b24-im-gateway events', () => {
  const tmp = tempDirEach();

  it('lists stored events as JSON while the server runs', async () => {
    const db = `${tmp.dir}/e.db`;
    const gw = await startGatewayProcess([
      '--db',
      db,
      '--app-token',
      'bac1cd5c8940947a75e0d71b1a84e348=831c76b092f9f135d9b6b36c3a720757',
      '--log-level',
      'error',
    ]);
    try {
      for (const name of ['imconnector-message-update', 'imconnector-message-delete']) {
        const res = await fetch(`${gw.url}/events`, {
          method: 'POST',
          headers: { 'content-type': 'application/x-www-form-urlencoded' },
          body: formFixture(name),
        });
        expect(res.status).toBe(200);
      }
      const r = run(['events', '--db', db, '--json']);
      expect(r.code).toBe(0);
      const rows = JSON.parse(r.stdout) as { id: number; event: string; memberId: string; status: string }[];
      expect(rows.map((x) => x.event)).toEqual(['ONIMCONNECTORMESSAGEUPDATE', 'ONIMCONNECTORMESSAGEDELETE']);
      expect(rows[0]?.memberId).toBe('bac1cd5c8940947a75e0d71b1a84e348');
      // The serving gateway's worker may already have run it (no handlers: done at once).
      expect(['pending', 'processing', 'done']).toContain(rows[0]?.status);
    } finally {
      await gw.kill();
    }
    const table = run(['events', '--db', db]).stdout.split('\n');
    expect(table[0]).toMatch(/^id +event +memberId +status +delivery +receivedAt +attempts +lastError +duplicates$/);
    expect(table[1]).toMatch(/^1 +ONIMCONNECTORMESSAGEUPDATE +bac1cd5c8940947a75e0d71b1a84e348 /);
    expect(table.join('\n')).not.toContain('(index)');
    expect(run(['events', '--db', `${tmp.dir}/missing.db`]).stderr).toContain('No database at');
  });
});

describe('b24-im-gateway replay', () => {
  const tmp = tempDirEach();

  it('puts dead letters back to pending, and events shows their attempts and last error', async () => {
    const db = `${tmp.dir}/r.db`;
    await storeWithDeadLetter(db, ['imconnector-message-update', 'imconnector-message-delete']);

    const before = JSON.parse(run(['events', '--db', db, '--json']).stdout) as {
      status: string;
      attempts: number;
      lastError: string | null;
    }[];
    expect(before.map((e) => e.status)).toEqual(['dead', 'done']);
    expect(before[0]).toMatchObject({ attempts: 1, lastError: expect.stringContaining('channel unreachable') });

    const r = run(['replay', '--db', db, '--dead']);
    expect(r.code).toBe(0);
    expect(r.stdout).toContain('1 of 1 events put back to pending');
    const after = JSON.parse(run(['events', '--db', db, '--json']).stdout) as { status: string }[];
    expect(after.map((e) => e.status)).toEqual(['pending', 'done']);
    expect(run(['replay', '--db', db]).stderr).toContain('Say what to replay');
  });
});
