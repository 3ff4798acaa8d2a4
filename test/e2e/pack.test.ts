import { execFile, spawn, type ChildProcess } from 'node:child_process';
import { cpSync, existsSync, mkdirSync, readdirSync, readFileSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import { fileURLToPath } from 'node:url';
import { startSandbox, type Sandbox } from '@b24-im-gateway/sandbox';
import { afterAll, beforeAll, describe, expect, it } from 'vitest';
import { tempDir } from '../helpers.js';
import { snippets } from './docs-snippets.js';

// The package as a user meets it: packed (with the sandbox, its dependency), installed from the
// tarballs into a fresh project, every TypeScript example of the docs and examples/ type-checked
// with `strict` and without `skipLibCheck`, and the connector example run against the sandbox.

const root = fileURLToPath(new URL('../../', import.meta.url));
const tmp = tempDir();
const project = join(tmp.dir, 'project');

/**
 * Runs a command to its end; throws with its output when it fails. Not spawnSync: a blocked test
 * process cannot answer vitest, and npm install or tsc take a while on a busy machine.
 */
function run(cmd: string, args: string[], cwd: string, timeoutMs = 240_000): Promise<string> {
  return new Promise((resolve, reject) => {
    execFile(
      cmd,
      args,
      { cwd, encoding: 'utf8', timeout: timeoutMs, maxBuffer: 16 << 20, env: { ...process.env, NO_COLOR: '1' } },
      (error, stdout, stderr) =>
        error
          ? reject(new Error(`${cmd} ${args.join(' ')} failed (${error.message}):\n${stdout}\n${stderr}`))
          : resolve(stdout),
    );
  });
}

/** The version installed here, so that the fresh project's install is served from npm's cache. */
const versionOf = (name: string): string =>
  (JSON.parse(readFileSync(join(root, 'node_modules', name, 'package.json'), 'utf8')) as { version: string }).version;

/** What snippets use without defining: values a reader has at hand where the docs say "your ...". */
const globals = `import type { Gateway } from 'b24-im-gateway';
declare global {
  const gateway: Gateway;
  const memberId: string;
  const rawBody: Buffer;
  const contentType: string;
  const myMessenger: {
    send(chatId: string, text: string | null): Promise<{ id: string }>;
    edit(id: string | undefined, text: string | null): Promise<void>;
    remove(id: string | undefined): Promise<void>;
    post(payload: unknown): Promise<unknown>;
  };
}
export {};
`;

let files: string[] = [];

beforeAll(async () => {
  for (const dir of ['dist', 'packages/sandbox/dist'])
    if (!existsSync(join(root, dir))) throw new Error(`${dir} is missing: run npm run build first`);
  // Packed as published; the build is the one made before the tests (npm test builds first).
  const packed = async (dir: string) =>
    join(
      tmp.dir,
      (await run('npm', ['pack', '--ignore-scripts', '--pack-destination', tmp.dir], join(root, dir))).trim(),
    );
  const gatewayTgz = await packed('.');
  const sandboxTgz = await packed('packages/sandbox');

  mkdirSync(join(project, 'snippets'), { recursive: true });
  writeFileSync(
    join(project, 'package.json'),
    JSON.stringify({
      name: 'pack-check',
      private: true,
      type: 'module',
      dependencies: {
        'b24-im-gateway': `file:${gatewayTgz}`,
        '@b24-im-gateway/sandbox': `file:${sandboxTgz}`,
        '@types/node': versionOf('@types/node'),
        '@types/express': versionOf('@types/express'),
        express: versionOf('express'),
        hono: versionOf('hono'),
      },
    }),
  );
  // Install scripts off: better-sqlite3 would compile SQLite; the binary built here is copied instead.
  await run('npm', ['install', '--prefer-offline', '--ignore-scripts', '--no-audit', '--no-fund'], project);
  cpSync(join(root, 'node_modules/better-sqlite3/build'), join(project, 'node_modules/better-sqlite3/build'), {
    recursive: true,
  });

  writeFileSync(join(project, 'globals.d.ts'), globals);
  for (const s of snippets(root)) {
    const name = `${s.file.replace(/[^a-z0-9]+/gi, '-')}-${s.line}.ts`;
    // `export {}` makes each a module of its own, whose names shadow the globals above.
    writeFileSync(join(project, 'snippets', name), `${s.code}\nexport {};\n`);
  }
  cpSync(join(root, 'examples'), join(project, 'examples'), { recursive: true });
  writeFileSync(
    join(project, 'tsconfig.json'),
    JSON.stringify({
      compilerOptions: {
        strict: true,
        target: 'ES2022',
        module: 'NodeNext',
        moduleResolution: 'NodeNext',
        types: ['node'],
        outDir: 'out',
        rootDir: '.',
      },
      include: ['globals.d.ts', 'snippets', 'examples'],
    }),
  );
  files = readdirSync(join(project, 'snippets'));
}, 300_000);

afterAll(() => tmp.cleanup());

describe('the packed package in a fresh project', () => {
  it('ships what its README links to, and its LICENSE', async () => {
    const tarball = readdirSync(tmp.dir).find((f) => /^b24-im-gateway-\d.*\.tgz$/.test(f))!;
    const list = await run('tar', ['-tzf', join(tmp.dir, tarball)], tmp.dir);
    const shipped = new Set(list.split('\n').map((f) => f.replace(/^package\//, '')));
    expect(shipped.has('LICENSE')).toBe(true);
    const readme = readFileSync(join(root, 'README.md'), 'utf8');
    const links = [...readme.matchAll(/\]\(([^)#\s]+)(?:#[^)]*)?\)/g)]
      .map((m) => m[1]!)
      .filter((l) => !/^[a-z]+:/.test(l));
    expect(links.length).toBeGreaterThan(3);
    const missing = links.filter(
      (l) => !shipped.has(l) && ![...shipped].some((f) => f.startsWith(`${l.replace(/\/$/, '')}/`)),
    );
    expect(missing).toEqual([]);
  });

  it('type-checks every TypeScript example of the README, the guides and examples/ (strict, no skipLibCheck)', async () => {
    expect(files.length).toBeGreaterThanOrEqual(8);
    // tsc prints its diagnostics on stdout and fails: the message then lists them.
    const out = await run(process.execPath, [join(root, 'node_modules/typescript/bin/tsc'), '-p', project], project);
    expect(out).toBe('');
  }, 240_000);

  describe('the connector example against the sandbox', () => {
    let sb: Sandbox;
    let child: ChildProcess | undefined;
    afterAll(async () => {
      child?.kill('SIGTERM');
      await sb?.stop();
    });

    it('takes the install, delivers an operator message to the messenger and reports its id to Bitrix24', async () => {
      sb = await startSandbox({ clientId: 'local.example.1', clientSecret: 'example-secret-0123' });
      let out = '';
      child = spawn(process.execPath, [join(project, 'out/examples/connector.js')], {
        cwd: project,
        env: {
          ...process.env,
          DB: join(tmp.dir, 'connector.db'),
          PORT: '0',
          B24_CLIENT_ID: 'local.example.1',
          B24_CLIENT_SECRET: 'example-secret-0123',
          B24_OAUTH_SERVER: sb.url,
          B24_ALLOW_DOMAINS: '127.0.0.1:*',
        },
        stdio: ['ignore', 'pipe', 'pipe'],
      });
      child.stdout!.on('data', (d: Buffer) => (out += d.toString()));
      child.stderr!.on('data', (d: Buffer) => (out += d.toString()));
      const url = await new Promise<string>((resolve, reject) => {
        const timer = setTimeout(() => reject(new Error(`the example did not start:\n${out}`)), 20_000);
        child!.stdout!.on('data', () => {
          const m = /listening on (\S+)/.exec(out);
          if (m) resolve((clearTimeout(timer), m[1]!));
        });
        child!.on('exit', (code) => reject(new Error(`the example exited (${code}):\n${out}`)));
      });

      const installed = await sb.install(sb.portal, url);
      expect(installed.ok, out).toBe(true);
      sb.portal.ensureConnector('my_connector', 1);
      sb.portal.bind('ONIMCONNECTORMESSAGEADD', url);
      const m = await sb.act.operatorWrites(sb.portal, {
        connector: 'my_connector',
        line: 1,
        externalChatId: 'chat-1',
        text: 'Hello from the operator',
      });
      const status = await sb.recorder.waitFor('status', (s) => s.messageId === m.message.id, 20_000);
      expect(status).toMatchObject({ kind: 'delivery', externalIds: ['my-msg-1'], known: true });
      expect(out).toContain('to chat-1: ');
      expect(out).toContain('Hello from the operator');
    });
  });
});
