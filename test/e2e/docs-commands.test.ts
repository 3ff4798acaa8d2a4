import { spawn } from 'node:child_process';
import { chmodSync, mkdirSync, symlinkSync, writeFileSync } from 'node:fs';
import { createServer, type Server } from 'node:http';
import { createServer as createNetServer } from 'node:net';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { guides, snippets, type Snippet } from './docs-snippets.js';

// Every shell block of the README and the guides is run here as a user would type it (with the
// built commands, in a fresh folder), unless it is marked `<!-- illustration -->`. What changes:
// `npx` runs the built commands, the documented ports become free ones, /tmp/ a folder of the
// test's own; a command that starts a server runs in the background until its port answers.

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = tempDir();
const bin = join(tmp.dir, 'bin');
const blocks = snippets(root, 'sh', guides(root));

/**
 * Blocks run in sessions, as in one terminal: a block that starts a server begins one, and the
 * blocks after it in the same file (which use that server, and variables such as $S) join it.
 */
function sessions(list: Snippet[]): Snippet[][] {
  const out: Snippet[][] = [];
  for (const b of list) {
    const last = out.at(-1);
    const startsServer = b.code.split('\n').some((l) => serverPort(l.replace(/^npx /, '')) !== undefined);
    if (last && last[0]!.file === b.file && !startsServer) last.push(b);
    else out.push([b]);
  }
  return out;
}
let helper: Server | undefined;

/** A port nobody listens on now. */
const freePort = () =>
  new Promise<number>((resolve) => {
    const s = createNetServer().listen(0, '127.0.0.1', () => {
      const { port } = s.address() as { port: number };
      s.close(() => resolve(port));
    });
  });

const documentedPorts = ['3000', '8090', '8091', '8080'];
const ports: Record<string, string> = {};

beforeAll(async () => {
  mkdirSync(bin);
  const shim = (name: string, target: string) => {
    writeFileSync(join(bin, name), `#!/bin/sh\nexec "${process.execPath}" "${join(root, target)}" "$@"\n`);
    chmodSync(join(bin, name), 0o755);
  };
  shim('b24-im-gateway', 'dist/cli/main.js');
  shim('b24-sandbox', 'packages/sandbox/dist/cli/main.js');
  for (const p of documentedPorts) ports[p] = String(await freePort());
  // The guide's stand-in for "your handler" (its Python server), answering 200 to every event.
  // It has the paths the guide and the gateway have, and no others.
  helper = createServer((req, res) =>
    req.resume().on('end', () => res.writeHead(['/b24', '/events'].includes(req.url ?? '') ? 200 : 404).end('ok')),
  ).listen(Number(ports['8091']), '127.0.0.1');
});
afterAll(() => {
  helper?.close();
  tmp.cleanup();
});

/** A server command: its port, or undefined when the line is not one. */
function serverPort(line: string): string | undefined {
  if (!/^(b24-im-gateway (serve|sandbox)|b24-sandbox)(\s|$)/.test(line) || /b24-sandbox (encode|decode)/.test(line))
    return undefined;
  return /--port (\d+)/.exec(line)?.[1] ?? ports['3000'];
}

/** The blocks as one bash script: lines joined, npx and ports and /tmp/ replaced, servers in the background. */
function script(session: Snippet[], dir: string): string {
  let code = session
    .map((b) => b.code)
    .join('\n')
    .replace(/\\\n\s*/g, ' ');
  for (const [doc, real] of Object.entries(ports)) code = code.replace(new RegExp(`\\b${doc}\\b`, 'g'), real);
  code = code.replaceAll('/tmp/', `${dir}/`);
  const lines = code.split('\n').map((raw) => {
    const line = raw.replace(/^npx /, '').replace(/(^|[;&|]\s*)npx /g, '$1');
    const port = serverPort(line);
    if (port === undefined) return line;
    let command = line.replace(/\s*&\s*$/, '').replace(/\s+#.*$/, '');
    if (!/--port /.test(command)) command += ` --port ${ports['3000']}`;
    return `${command} >> servers.log 2>&1 &\nwait_port ${port}`;
  });
  return [
    'set -e',
    "trap 'kill $(jobs -p) 2>/dev/null; wait 2>/dev/null' EXIT",
    'wait_port() { for i in $(seq 150); do (echo > /dev/tcp/127.0.0.1/$1) 2>/dev/null && return 0; sleep 0.2; done; echo "port $1 never opened"; cat servers.log; exit 1; }',
    ...lines,
  ].join('\n');
}

/** Runs a session in a fresh folder holding the repository's fixtures; its output, servers' logs apart. */
function runSession(session: Snippet[]): Promise<{ code: number | null; out: string }> {
  const dir = join(tmp.dir, `${session[0]!.file.replace(/\W+/g, '-')}-${session[0]!.line}`);
  mkdirSync(dir);
  symlinkSync(join(root, 'fixtures'), join(dir, 'fixtures'));
  // Not spawnSync: the guide's stand-in handler answers from this process meanwhile.
  const child = spawn('bash', ['-c', script(session, dir)], {
    cwd: dir,
    env: { ...process.env, PATH: `${bin}:${process.env.PATH}`, NO_COLOR: '1' },
  });
  let out = '';
  child.stdout.on('data', (d: Buffer) => (out += d.toString()));
  child.stderr.on('data', (d: Buffer) => (out += d.toString()));
  const timer = setTimeout(() => child.kill('SIGKILL'), 120_000);
  return new Promise((resolve) =>
    child.on('close', (code) => {
      clearTimeout(timer);
      resolve({ code, out });
    }),
  );
}

describe('the shell commands of the README and the guides', () => {
  it('are all either run here or marked as illustrations', () => {
    expect(blocks.map((b) => `${b.file}:${b.line}`).length).toBeGreaterThanOrEqual(5);
  });

  for (const session of sessions(blocks)) {
    it(`${session[0]!.file}:${session.map((b) => b.line).join(',')} run as written`, async () => {
      const { code, out } = await runSession(session);
      expect(code, out).toBe(0);
      // No answer says it failed: not the gateway's refusals, not the sandbox's {"ok":false}.
      expect(out).not.toMatch(/"ok":\s*false|"error":\s*[{"]|error B24GW_/);
      // A JSON answer written in a comment under a command is what that command prints.
      for (const m of session
        .map((b) => b.code)
        .join('\n')
        .matchAll(/^# (\{.*\})$/gm))
        if (isJson(m[1]!)) expect(out.replaceAll(/\s/g, '')).toContain(m[1]!.replaceAll(/\s/g, ''));
    }, 150_000);
  }
});

describe("the sandbox's --help", () => {
  it('gives examples that run against the paths it has', async () => {
    const help = await new Promise<string>((resolve) => {
      const child = spawn(process.execPath, [join(root, 'packages/sandbox/dist/cli/main.js'), 'serve', '--help']);
      let text = '';
      child.stdout.on('data', (d: Buffer) => (text += d.toString()));
      child.on('close', () => resolve(text));
    });
    const examples = help.slice(help.indexOf('Examples:')).split('\n').slice(1);
    const code = examples
      .filter((l) => l.startsWith('  '))
      .map((l) => l.trim())
      .join('\n');
    expect(code).toContain('curl');
    // The example installs to a handler on port 3000: the guide's stand-in answers there.
    const { code: exit, out } = await runSession([
      { file: 'b24-sandbox --help', line: 0, lang: 'sh', code: code.replaceAll(':3000/events', ':8091/events') },
    ]);
    expect(exit, out).toBe(0);
    // Every path answered (the scenario's events go nowhere: the example binds no handler).
    expect(out).toContain('{"name":"conversation","ok":true');
    expect(out).not.toMatch(/NOT_FOUND|"error":\s*\{|"status":404/);
  });
});

const isJson = (text: string) => {
  try {
    JSON.parse(text);
    return true;
  } catch {
    return false;
  }
};
