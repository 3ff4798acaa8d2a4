import { spawnSync } from 'node:child_process';
import { join } from 'node:path';
import Database from 'better-sqlite3';
import pg from 'pg';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway.js';
import { formFixture } from '../fixtures.js';
import { tempDir } from '../helpers.js';
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

  it('has --help on every command', () => {
    for (const cmd of ['serve', 'parse', 'events', 'replay', 'console', 'prune', 'migrate']) {
      const r = run([cmd, '--help']);
      expect(r.code).toBe(0);
      expect(r.stdout).toContain(`Usage: b24-im-gateway ${cmd}`);
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
});

describe('b24-im-gateway migrate', () => {
  const tables = ['events', 'portals', 'status_outbox', 'state_messages', 'state_chats', 'state_dialogs'];

  it('creates the event store and the connector state in a new SQLite file, and again is a no-op', () => {
    const tmp = tempDir();
    try {
      const file = join(tmp.dir, 'new.db');
      for (let i = 0; i < 2; i++) {
        const r = run(['migrate', '--db', file]);
        expect(r.stderr).toBe('');
        expect(r.stdout).toBe('schema is up to date (sqlite)\n');
      }
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
      expect(r.stdout).toBe('schema is up to date (postgres)\n');
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
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

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
    expect(run(['events', '--db', `${tmp.dir}/missing.db`]).stderr).toContain('No database at');
  });
});

describe('b24-im-gateway replay', () => {
  let tmp: ReturnType<typeof tempDir>;
  beforeEach(() => {
    tmp = tempDir();
  });
  afterEach(() => tmp.cleanup());

  it('puts dead letters back to pending, and events shows their attempts and last error', async () => {
    const db = `${tmp.dir}/r.db`;
    const gateway = new Gateway({
      db,
      appTokens: new Map([['bac1cd5c8940947a75e0d71b1a84e348', '831c76b092f9f135d9b6b36c3a720757']]),
      worker: { schedule: [] },
    });
    gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
      throw new Error('channel unreachable');
    });
    await gateway.receive(formFixture('imconnector-message-update'), 'application/x-www-form-urlencoded');
    await gateway.receive(formFixture('imconnector-message-delete'), 'application/x-www-form-urlencoded');
    await gateway.worker.drain();
    await gateway.close();

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
