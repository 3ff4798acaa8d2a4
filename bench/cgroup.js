// @ts-check
/**
 * A memory cgroup per gateway process (`--memory-limit <MB>`), so a run shows whether the gateway
 * fits a memory-limited container: Node sizes V8's heap to the cgroup's limit, so RSS on a big
 * machine says little about a small container. cgroup v1 (`memory.limit_in_bytes`) or v2
 * (`memory.max`), whichever this process is in; a child group is made under the bench's own.
 */
import { existsSync, mkdirSync, readFileSync, rmdirSync, writeFileSync } from 'node:fs';
import { join } from 'node:path';
import process from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';

/**
 * Where child groups can be made: the bench's own memory cgroup.
 * @typedef {{ version: 1 | 2, parent: string }} CgroupRoot
 */

/**
 * What one limited process's group saw.
 * @typedef {object} CgroupUsage
 * @property {number} limitMb
 * @property {number | null} peakMb     memory.max_usage_in_bytes (v1) or memory.peak (v2): page cache included
 * @property {number | null} failcnt    times usage hit the limit (v1 memory.failcnt, v2 memory.events `max`)
 * @property {number | null} oomKills   processes the kernel's OOM killer ended in the group
 */

/** @param {string} file */
const readNumber = (file) => {
  try {
    const n = Number(readFileSync(file, 'utf8').trim());
    return Number.isFinite(n) ? n : null;
  } catch {
    return null;
  }
};
/**
 * A `key value` line of a flat-keyed file (memory.oom_control, memory.events).
 * @param {string} file
 * @param {string} key
 */
const readKey = (file, key) => {
  try {
    const m = new RegExp(`^${key} (\\d+)$`, 'm').exec(readFileSync(file, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
};
const toMb = (/** @type {number | null} */ bytes) => (bytes === null ? null : Math.round((bytes / 2 ** 20) * 10) / 10);

/**
 * Finds the bench's memory cgroup and checks a child group can be made and limited there.
 * @returns {CgroupRoot | { reason: string }}
 */
export function findMemoryCgroup() {
  let lines;
  try {
    lines = readFileSync('/proc/self/cgroup', 'utf8').trim().split('\n');
  } catch (e) {
    return { reason: `no /proc/self/cgroup (${/** @type {Error} */ (e).message})` };
  }
  const v1 = lines.map((l) => l.split(':')).find((f) => f[1]?.split(',').includes('memory'));
  const v2 = lines.map((l) => l.split(':')).find((f) => f[0] === '0' && f[1] === '');
  /** @type {CgroupRoot | null} */
  let root = null;
  if (v1 && existsSync('/sys/fs/cgroup/memory/memory.limit_in_bytes'))
    root = { version: 1, parent: join('/sys/fs/cgroup/memory', v1.slice(2).join(':')) };
  else if (v2 && existsSync('/sys/fs/cgroup/cgroup.controllers'))
    root = { version: 2, parent: join('/sys/fs/cgroup', v2.slice(2).join(':')) };
  if (!root) return { reason: 'no memory cgroup controller mounted at /sys/fs/cgroup' };
  try {
    const probe = makeGroup(root, `b24gw-bench-probe-${process.pid}`, 1024);
    rmdirSync(probe);
  } catch (e) {
    return { reason: `cannot make a limited child of ${root.parent} (${/** @type {Error} */ (e).message})` };
  }
  return root;
}

/**
 * Makes a child group limited to `limitMb` (swap off, so the limit is the limit) and returns its folder.
 * @param {CgroupRoot} root
 * @param {string} name
 * @param {number} limitMb
 */
function makeGroup(root, name, limitMb) {
  const dir = join(root.parent, name);
  const bytes = String(Math.round(limitMb * 2 ** 20));
  mkdirSync(dir);
  try {
    if (root.version === 1) {
      writeFileSync(join(dir, 'memory.limit_in_bytes'), bytes);
      // memsw (memory + swap) must be ≥ the memory limit; absent when swap accounting is off.
      if (existsSync(join(dir, 'memory.memsw.limit_in_bytes')))
        writeFileSync(join(dir, 'memory.memsw.limit_in_bytes'), bytes);
    } else {
      if (!existsSync(join(dir, 'memory.max'))) writeFileSync(join(root.parent, 'cgroup.subtree_control'), '+memory');
      writeFileSync(join(dir, 'memory.max'), bytes);
      if (existsSync(join(dir, 'memory.swap.max'))) writeFileSync(join(dir, 'memory.swap.max'), '0');
    }
  } catch (e) {
    rmdirSync(dir);
    throw e;
  }
  return dir;
}

let made = 0;
/** Groups not yet removed, for removeAllGroups. */
const live = new Set();

/** Removes every group still there (after the processes were killed: on Ctrl+C, at the end). */
export function removeAllGroups() {
  for (const dir of live) {
    try {
      rmdirSync(dir);
      live.delete(dir);
    } catch {
      // a process still in it; nothing more to do from here
    }
  }
}

/**
 * A limited group for one process: `procs` is the file its pid goes into before node starts
 * (see startServer), `usage()` reads what the group saw, `remove()` deletes it once the process is gone.
 * @param {CgroupRoot} root
 * @param {number} limitMb
 */
export function limitedGroup(root, limitMb) {
  const dir = makeGroup(root, `b24gw-bench-${process.pid}-${++made}`, limitMb);
  live.add(dir);
  return {
    procs: join(dir, 'cgroup.procs'),
    /** @returns {CgroupUsage} */
    usage() {
      if (root.version === 1)
        return {
          limitMb,
          peakMb: toMb(readNumber(join(dir, 'memory.max_usage_in_bytes'))),
          failcnt: readNumber(join(dir, 'memory.failcnt')),
          oomKills: readKey(join(dir, 'memory.oom_control'), 'oom_kill'),
        };
      return {
        limitMb,
        peakMb: toMb(readNumber(join(dir, 'memory.peak'))),
        failcnt: readKey(join(dir, 'memory.events'), 'max'),
        oomKills: readKey(join(dir, 'memory.events'), 'oom_kill'),
      };
    },
    /** rmdir fails while a process is still in the group: the kernel takes a moment after its exit. */
    async remove() {
      for (let i = 0; i < 50; i++) {
        try {
          rmdirSync(dir);
          live.delete(dir);
          return;
        } catch (e) {
          if (/** @type {NodeJS.ErrnoException} */ (e).code === 'ENOENT') return void live.delete(dir);
          await sleep(100);
        }
      }
    },
  };
}
