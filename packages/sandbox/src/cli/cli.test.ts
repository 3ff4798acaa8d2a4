import { Command } from 'commander';
import { setTimeout as sleep } from 'node:timers/promises';
import { describe, expect, it } from 'vitest';
import { registerSandboxCommand, runSandbox } from './serve.js';
import { startCapture } from '../index.js';
import { callRest } from '../testing.js';

describe('b24-im-gateway sandbox', () => {
  it('registers a documented command', () => {
    const program = new Command('b24-im-gateway');
    registerSandboxCommand(program);
    const cmd = program.commands.find((c) => c.name() === 'sandbox')!;
    const help = cmd.helpInformation();
    for (const flag of ['--host', '--port', '--handler', '--token-ttl', '--plan']) expect(help).toContain(flag);
    expect(cmd.options.find((o) => o.long === '--plan')?.argChoices).toEqual(['standard', 'enterprise']);
  });

  it('starts, prints endpoints and credentials, installs to --handler, logs traffic, and stops on abort', async () => {
    const cap = await startCapture();
    const lines: string[] = [];
    const stop = new AbortController();
    const running = runSandbox({ host: '127.0.0.1', port: 0, tokenTtl: 60, plan: 'enterprise', handler: `${cap.url}/install` }, stop.signal, (l) => lines.push(l));
    while (!lines.includes('Press Ctrl+C to stop.')) await sleep(10);
    const url = /listening on (\S+)/.exec(lines[0]!)![1]!;
    const text = lines.join('\n');
    expect(text).toContain(`${url}/oauth/token/`);
    expect(text).toMatch(/portal member_id\s+[0-9a-f]{32}/);
    expect(text).toMatch(/client_secret\s+\S+/);
    expect(text).toContain('enterprise (250 burst, 5/s), access tokens live 60 s');
    expect(text).toContain(`Installed: ONAPPINSTALL delivered to ${cap.url}/install`);
    expect(text).toContain(`event  200 ONAPPINSTALL -> ${cap.url}/install`);
    const [install] = await cap.waitFor(1);
    const token = new URLSearchParams(install!.text).get('auth[access_token]')!;
    expect((await callRest(`${url}/rest/`, 'app.info', { auth: token })).status).toBe(200);
    expect(lines).toContain('rest   200 app.info');
    stop.abort();
    await running;
    expect(lines.at(-1)).toBe('Sandbox stopped.');
    await expect(fetch(`${url}/sandbox`)).rejects.toThrow();
    await cap.close();
  });
});
