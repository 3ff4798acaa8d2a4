import { execFileSync, spawnSync } from 'node:child_process';
import { readFileSync, writeFileSync } from 'node:fs';
import { afterEach, expect, it } from 'vitest';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { tempDir } from '../helpers.js';

/*
 * An answered event must survive a power cut, which a SIGKILL cannot tell apart from a crash: the
 * proof is the system calls. Appends are made one after another by a process of the built store
 * under strace; each commit must sync the write-ahead log before its append resolves.
 */

const hasStrace = spawnSync('strace', ['-V']).status === 0;
const storeModule = new URL('../../dist/store/sqlite/store.js', import.meta.url).href;
const APPENDS = 30;

const appendOneByOne = `
const { SqliteStore } = await import(${JSON.stringify(storeModule)});
const store = new SqliteStore(process.argv[2]);
for (let i = 0; i < ${APPENDS}; i++)
  await store.append({
    dedupKey: 'k' + i, memberId: 'm1', code: 'ONIMCONNECTORMESSAGEUPDATE', known: true, status: 'pending',
    handlerId: 1, ts: i, orderKey: null, receivedAt: 1000, event: '{}', rawBody: 'event=x', contentType: 'form', error: null,
  });
await store.close();
`;

const tmp = tempDir();
afterEach(() => tmp.cleanup());

it.skipIf(!hasStrace)(
  'syncs the write-ahead log once per commit before the append resolves (synchronous FULL)',
  async () => {
    const file = `${tmp.dir}/durable.db`;
    // Made and migrated beforehand, so that the traced process only appends.
    await new SqliteStore(file).close();
    const trace = `${tmp.dir}/trace.txt`;
    const script = `${tmp.dir}/append.mjs`;
    writeFileSync(script, appendOneByOne);
    execFileSync('strace', ['-f', '-y', '-e', 'trace=fsync,fdatasync', '-o', trace, process.execPath, script, file]);
    const walSyncs = readFileSync(trace, 'utf8')
      .split('\n')
      .filter((line) => /\b(?:fsync|fdatasync)\(\d+<[^>]*durable\.db-wal>\)/.test(line));
    // NORMAL syncs the log only at a checkpoint, OFF never: a few at most, against one per append.
    expect(walSyncs.length).toBeGreaterThanOrEqual(APPENDS);
    const store = new SqliteStore(file);
    try {
      expect((await store.countEvents()).pending).toBe(APPENDS);
      // The connection that keeps tokens and replays syncs every commit too.
      expect(store.db.pragma('synchronous', { simple: true })).toBe(2);
    } finally {
      await store.close();
    }
  },
);
