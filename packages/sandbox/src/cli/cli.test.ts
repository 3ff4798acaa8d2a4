import { Command } from 'commander';
import { spawnSync } from 'node:child_process';
import { createServer } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';
import { fileURLToPath } from 'node:url';
import { describe, expect, it } from 'vitest';
import { registerSandboxCommand, runSandbox } from './serve.js';
import { startCapture } from '../index.js';
import { callRest } from '../testing.js';

describe('the sandbox command', () => {
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
    const running = runSandbox(
      { host: '127.0.0.1', port: 0, tokenTtl: 60, plan: 'enterprise', handler: `${cap.url}/install` },
      stop.signal,
      (l) => lines.push(l),
    );
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

/** The built bin (npm run build makes it), run to its end. */
const bin = fileURLToPath(new URL('../../dist/cli/main.js', import.meta.url));
const b24Sandbox = (args: string[], input?: string) => {
  const r = spawnSync(process.execPath, [bin, ...args], {
    encoding: 'utf8',
    timeout: 20_000,
    ...(input === undefined ? {} : { input }),
  });
  return { code: r.status, stdout: r.stdout, stderr: r.stderr };
};

describe('b24-sandbox', () => {
  it('has --help on every command', () => {
    expect(b24Sandbox(['--help']).stdout).toMatch(/serve \[options\][\s\S]*encode \[file\][\s\S]*decode \[file\]/);
    for (const command of ['serve', 'encode', 'decode']) {
      const { code, stdout } = b24Sandbox([command, '--help']);
      expect(code).toBe(0);
      expect(stdout).toContain(`Usage: b24-sandbox ${command}`);
    }
    expect(b24Sandbox(['serve', '--help']).stdout).toContain(
      'b24-sandbox --port 8090 --handler http://127.0.0.1:3000/events',
    );
  });

  it('encodes as http_build_query and decodes as parse_str, PHP’s warnings on stderr', () => {
    expect(b24Sandbox(['encode'], '{"event":"ONAPPTEST","data":{"QUERY":{"a b":[1,true]}}}\n')).toEqual({
      code: 0,
      stdout: 'event=ONAPPTEST&data%5BQUERY%5D%5Ba+b%5D%5B0%5D=1&data%5BQUERY%5D%5Ba+b%5D%5B1%5D=1\n',
      stderr: '',
    });
    expect(b24Sandbox(['decode'], 'MESSAGES[0][message][id][]=42&a.b=1\n')).toEqual({
      code: 0,
      stdout: '{"MESSAGES":[{"message":{"id":["42"]}}],"a_b":"1"}\n',
      stderr: '',
    });
    const deep = b24Sandbox(['decode'], `a${'[x]'.repeat(65)}=1&z=2`);
    expect(deep.stdout).toBe('{"z":"2"}\n');
    expect(deep.stderr).toContain('warning: Input variable nesting level exceeded 64');
  });

  it('fails with one line and a code: bad input, bad options, a port in use', async () => {
    const missing = b24Sandbox(['decode', '/no/such/file']);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toMatch(/^error B24SB_BAD_INPUT: Cannot read \/no\/such\/file: ENOENT[^\n]*\n$/);
    expect(b24Sandbox(['encode'], '[1]').stderr).toBe(
      'error B24SB_NOT_AN_OBJECT: JSON body is not an object of parameters\n',
    );
    const option = b24Sandbox(['--port', 'abc']);
    expect(option.code).toBe(1);
    expect(option.stderr).toContain(
      "error B24SB_BAD_OPTION: option '--port <port>' argument 'abc' is invalid. --port must be a whole number",
    );
    expect(b24Sandbox(['serve', '--nope']).stderr).toContain("error B24SB_BAD_OPTION: unknown option '--nope'");

    const taken = createServer();
    await new Promise<void>((resolve) => taken.listen(0, '127.0.0.1', resolve));
    const { port } = taken.address() as { port: number };
    const busy = b24Sandbox(['--port', String(port)]);
    taken.close();
    expect(busy.code).toBe(1);
    expect(busy.stderr).toMatch(
      new RegExp(`^error B24SB_LISTEN_FAILED: Cannot listen on 127\\.0\\.0\\.1:${port}: listen EADDRINUSE[^\\n]*\\n$`),
    );
  });
});
