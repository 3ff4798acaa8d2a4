import { execFileSync, spawnSync } from 'node:child_process';
import { chmodSync, existsSync, mkdtempSync, readdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import pg from 'pg';
import { freePort } from '../process.js';

/**
 * A private, throwaway PostgreSQL cluster for tests that restart, stop or kill the database
 * server: never the machine's shared one. Its binaries refuse to run as root, so when the tests
 * run as root they run as the `postgres` user, with the data folder under the system's temp
 * folder owned by that user.
 */

/** The newest installed server's binaries (initdb, pg_ctl), or undefined when none is installed. */
export function pgBinDir(): string | undefined {
  const root = '/usr/lib/postgresql';
  if (!existsSync(root)) return undefined;
  const versions = readdirSync(root)
    .filter((v) => existsSync(join(root, v, 'bin', 'pg_ctl')))
    .sort((a, b) => Number(b) - Number(a));
  return versions[0] === undefined ? undefined : join(root, versions[0], 'bin');
}

const asRoot = process.getuid?.() === 0;

/** Why a private cluster cannot be started here, or undefined when it can. */
export const pgClusterUnavailable: string | undefined = (() => {
  if (!pgBinDir()) return 'no PostgreSQL server binaries under /usr/lib/postgresql/*/bin';
  if (asRoot && spawnSync('id', ['-u', 'postgres']).status !== 0) return 'no postgres user to run the server as';
  return undefined;
})();

export interface PgCluster {
  /** postgres://postgres@127.0.0.1:<port>/postgres */
  readonly adminUrl: string;
  readonly port: number;
  /** A fresh database's URL in this cluster. */
  createDatabase(name: string): Promise<string>;
  /** Stops the server (fast: connections are terminated with 57P01, as an administrator's restart does). */
  stop(): void;
  /** Starts it again on the same port and data. */
  start(): void;
  /** Stop then start, `downMs` apart. */
  restart(downMs?: number): Promise<void>;
  /** SIGKILL of the postmaster: the server vanishes without a word to its clients. */
  kill(): void;
  /** Stops the server and removes its data. */
  destroy(): void;
}

function asPostgres(bin: string, args: string[]): void {
  const cmd = asRoot ? 'runuser' : bin;
  const argv = asRoot ? ['-u', 'postgres', '--', bin, ...args] : args;
  const r = spawnSync(cmd, argv, { encoding: 'utf8', timeout: 60_000 });
  if (r.status !== 0) throw new Error(`${bin} ${args.join(' ')} failed: ${r.stderr || r.stdout || r.error?.message}`);
}

/** Creates and starts a cluster on a free port, trust authentication, listening on 127.0.0.1 only. */
export async function startPgCluster(): Promise<PgCluster> {
  if (pgClusterUnavailable) throw new Error(`no private PostgreSQL cluster: ${pgClusterUnavailable}`);
  const bin = pgBinDir()!;
  const dir = mkdtempSync(join(tmpdir(), 'b24gw-pgc-'));
  chmodSync(dir, 0o700);
  if (asRoot) execFileSync('chown', ['postgres:postgres', dir]);
  const data = join(dir, 'data');
  const port = await freePort();
  asPostgres(join(bin, 'initdb'), ['-D', data, '-U', 'postgres', '--auth=trust', '-E', 'UTF8', '--no-sync']);
  const options = `-p ${port} -c listen_addresses=127.0.0.1 -k ${dir} -c fsync=off -c max_connections=200 -c shared_buffers=32MB`;
  const ctl = (...args: string[]) => asPostgres(join(bin, 'pg_ctl'), ['-D', data, ...args]);
  const start = () => ctl('-o', options, '-l', join(dir, 'log'), '-w', '-t', '30', 'start');
  start();
  const adminUrl = `postgres://postgres@127.0.0.1:${port}/postgres`;
  let destroyed = false;
  const cluster: PgCluster = {
    adminUrl,
    port,
    async createDatabase(name) {
      const c = new pg.Client({ connectionString: adminUrl });
      await c.connect();
      try {
        await c.query(`CREATE DATABASE ${name}`);
      } finally {
        await c.end();
      }
      return adminUrl.replace(/\/postgres$/, `/${name}`);
    },
    stop: () => ctl('-m', 'fast', '-w', '-t', '30', 'stop'),
    start,
    async restart(downMs = 0) {
      cluster.stop();
      if (downMs > 0) await new Promise((r) => setTimeout(r, downMs));
      start();
    },
    kill() {
      const pid = Number(spawnSync('head', ['-1', join(data, 'postmaster.pid')], { encoding: 'utf8' }).stdout.trim());
      if (pid > 0) process.kill(pid, 'SIGKILL');
      // The postmaster's children end once they see it gone; pg_ctl start cleans the pid file.
      spawnSync('sleep', ['0.5']);
    },
    destroy() {
      if (destroyed) return;
      destroyed = true;
      try {
        ctl('-m', 'immediate', '-w', '-t', '30', 'stop');
      } catch {
        // already stopped
      }
      rmSync(dir, { recursive: true, force: true });
    },
  };
  return cluster;
}
