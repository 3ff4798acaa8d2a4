import { spawnSync } from 'node:child_process';
import { writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { describe, expect, it } from 'vitest';
import { Gateway } from '../../src/gateway.js';
import { formFixture } from '../fixtures.js';
import { tempDir } from '../helpers.js';

// A library user who gives no logger sees the gateway's log and the handlers' ctx.log on stdout.
const script = `
import { Gateway } from ${JSON.stringify(new URL('../../dist/index.js', import.meta.url).href)};
const gateway = new Gateway({ db: process.env.DB, appTokens: new Map([['bac1cd5c8940947a75e0d71b1a84e348', '831c76b092f9f135d9b6b36c3a720757']]) });
gateway.on('ONIMCONNECTORMESSAGEUPDATE', (event, ctx) => ctx.log.info({ line: event.data.LINE }, 'handler ran'));
await gateway.receive(process.env.BODY, 'application/x-www-form-urlencoded');
await gateway.drain();
await gateway.close();
`;

const runScript = (env: Record<string, string>) => {
  const tmp = tempDir();
  try {
    const { B24GW_LOG_LEVEL: _quiet, LOG_LEVEL: _level, ...rest } = process.env;
    // A file, not -e: the store's writer thread would inherit -e and run the script again.
    const file = join(tmp.dir, 'script.mjs');
    writeFileSync(file, script);
    const r = spawnSync(process.execPath, [file], {
      encoding: 'utf8',
      env: { ...rest, DB: join(tmp.dir, 'l.db'), BODY: formFixture('imconnector-message-update'), ...env },
    });
    expect(r.status, r.stderr).toBe(0);
    return r.stdout.split('\n').filter(Boolean);
  } finally {
    tmp.cleanup();
  }
};

describe('the library logs through pino by default', () => {
  it('writes JSON lines on stdout at info, a handler’s ctx.log included', () => {
    const lines = runScript({}).map((l) => JSON.parse(l) as { level: number; msg: string; line?: number });
    expect(lines).toContainEqual(expect.objectContaining({ level: 30, msg: 'handler ran', line: 107 }));
  });

  it('is quiet at the level B24GW_LOG_LEVEL gives', () => {
    expect(runScript({ B24GW_LOG_LEVEL: 'warn' })).toEqual([]);
  });

  it('takes false for none, or a level', async () => {
    const tmp = tempDir();
    const silent = new Gateway({ db: join(tmp.dir, 'a.db'), logger: false });
    const warn = new Gateway({ db: join(tmp.dir, 'b.db'), logger: 'warn' });
    try {
      expect(silent.logger.level).toBe('silent');
      expect(warn.logger.level).toBe('warn');
    } finally {
      await silent.close();
      await warn.close();
      tmp.cleanup();
    }
  });

  it('refuses a channel secret that is not whsec_ + base64 when the Gateway is made', () => {
    expect(
      () => new Gateway({ db: ':memory:', channel: { url: 'http://127.0.0.1:9/hook', secret: 'notbase64' } }),
    ).toThrow(expect.objectContaining({ code: 'B24GW_BAD_CONFIG' }));
    expect(
      () => new Gateway({ db: ':memory:', channel: { url: 'ftp://x', secret: `whsec_${'A'.repeat(44)}` } }),
    ).toThrow(expect.objectContaining({ code: 'B24GW_BAD_CONFIG' }));
  });
});
