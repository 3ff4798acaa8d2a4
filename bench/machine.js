// @ts-check
/** What the numbers were measured on. */
import { readFileSync } from 'node:fs';
import { availableParallelism, release, totalmem } from 'node:os';
import { createRequire } from 'node:module';
import process from 'node:process';

const require = createRequire(import.meta.url);

/** @param {string} name */
const versionOf = (name) => {
  try {
    return /** @type {{ version: string }} */ (require(`${name}/package.json`)).version;
  } catch {
    return 'unknown';
  }
};

/**
 * The mount holding `dir` (longest mount point that prefixes it): fsync cost depends on it.
 * @param {string} dir
 */
function mountOf(dir) {
  try {
    let best = { point: '', device: '?', type: '?' };
    for (const line of readFileSync('/proc/mounts', 'utf8').split('\n')) {
      const [device, point, type] = line.split(' ');
      if (!device || !point || !type) continue;
      const covers = dir === point || dir.startsWith(point.endsWith('/') ? point : `${point}/`);
      if (covers && point.length > best.point.length) best = { point, device, type };
    }
    return `${best.device} on ${best.point} (${best.type})`;
  } catch {
    return 'unknown';
  }
}

/** @param {string} dbDir */
export function describeMachine(dbDir) {
  let cpu = 'unknown';
  try {
    cpu = /^model name\s*:\s*(.+)$/m.exec(readFileSync('/proc/cpuinfo', 'utf8'))?.[1]?.trim() ?? cpu;
  } catch {
    // not Linux
  }
  return {
    cpu,
    cores: availableParallelism(),
    memoryGb: Math.round(totalmem() / 2 ** 30),
    kernel: release(),
    node: process.version,
    date: new Date().toISOString(),
    dbDir,
    dbFilesystem: mountOf(dbDir),
    versions: {
      autocannon: versionOf('autocannon'),
      express: versionOf('express'),
      qs: versionOf('qs'),
      'better-sqlite3': versionOf('better-sqlite3'),
    },
  };
}
