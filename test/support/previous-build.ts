import { spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, rmSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';

/**
 * The gateway as an earlier commit built it, for tests that run the previous release beside the
 * current one: the commit's files (git archive) in a folder under the system's temp folder, with
 * this checkout's node_modules hard-linked in, built with `npm run build`. Kept between runs by
 * commit. Gives the built CLI's path, or why it could not be built.
 */
export function previousBuild(commit: string): { cli: string } | { unavailable: string } {
  const root = new URL('../..', import.meta.url).pathname;
  const run = (cmd: string, args: string[], cwd: string) =>
    spawnSync(cmd, args, { cwd, encoding: 'utf8', timeout: 300_000, maxBuffer: 64 * 1024 * 1024 });
  const sha = run('git', ['rev-parse', '--verify', `${commit}^{commit}`], root);
  if (sha.status !== 0) return { unavailable: `commit ${commit} is not in this repository` };
  const dir = join(tmpdir(), `b24gw-release-${sha.stdout.trim().slice(0, 12)}`);
  const cli = join(dir, 'dist', 'cli', 'main.js');
  if (existsSync(cli)) return { cli };
  rmSync(dir, { recursive: true, force: true });
  mkdirSync(dir, { recursive: true });
  const steps: [string, string[], string][] = [
    ['sh', ['-c', `git archive ${sha.stdout.trim()} | tar -x -C "${dir}"`], root],
    ['cp', ['-al', join(root, 'node_modules'), join(dir, 'node_modules')], root],
    ['npm', ['run', 'build'], dir],
  ];
  for (const [cmd, args, cwd] of steps) {
    const r = run(cmd, args, cwd);
    if (r.status !== 0) {
      rmSync(dir, { recursive: true, force: true });
      return {
        unavailable: `${cmd} ${args.join(' ')} failed: ${(r.stderr || r.stdout || r.error?.message || '').slice(-500)}`,
      };
    }
  }
  return existsSync(cli) ? { cli } : { unavailable: `the build of ${commit} made no ${cli}` };
}
