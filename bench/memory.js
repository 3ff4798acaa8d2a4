// @ts-check
/** Memory of a server process under load, from /proc/<pid>/status (Linux). */
import { readFileSync } from 'node:fs';
import { clearInterval, setInterval } from 'node:timers';

/**
 * A field of /proc/<pid>/status in kB, or null when the process is gone.
 * @param {number} pid
 * @param {'VmRSS' | 'VmHWM'} field
 */
export function procStatusKb(pid, field) {
  try {
    const m = new RegExp(`^${field}:\\s+(\\d+) kB`, 'm').exec(readFileSync(`/proc/${pid}/status`, 'utf8'));
    return m ? Number(m[1]) : null;
  } catch {
    return null;
  }
}

/**
 * @typedef {object} MemoryResult
 * @property {number | null} peakMb        VmHWM at the end of the run
 * @property {number[]} rssMb              VmRSS, one sample a second
 * @property {number | null} firstThirdMb  average of the first third of the samples
 * @property {number | null} lastThirdMb   average of the last third
 * @property {number | null} growthPct     last third vs first third
 */

/** kB to MB, one decimal. */
export const mb = (/** @type {number} */ kb) => Math.round((kb / 1024) * 10) / 10;
/** @param {number[]} xs */
const mean = (xs) => (xs.length ? xs.reduce((a, b) => a + b, 0) / xs.length : null);

/**
 * Samples VmRSS every `intervalMs` until stop(), which also reads VmHWM.
 * @param {number} pid
 * @param {number} intervalMs
 */
export function sampleMemory(pid, intervalMs) {
  /** @type {number[]} */
  const samples = [];
  const take = () => {
    const kb = procStatusKb(pid, 'VmRSS');
    if (kb !== null) samples.push(kb);
  };
  take();
  const timer = setInterval(take, intervalMs);
  return {
    /** @returns {MemoryResult} */
    stop() {
      clearInterval(timer);
      take();
      const hwm = procStatusKb(pid, 'VmHWM');
      const third = Math.max(1, Math.floor(samples.length / 3));
      const first = mean(samples.slice(0, third));
      const last = mean(samples.slice(-third));
      return {
        peakMb: hwm === null ? null : mb(hwm),
        rssMb: samples.map(mb),
        firstThirdMb: first === null ? null : mb(first),
        lastThirdMb: last === null ? null : mb(last),
        growthPct: first && last ? Math.round(((last - first) / first) * 1000) / 10 : null,
      };
    },
  };
}

/**
 * CPU seconds (user + system) a process has used so far, from /proc/<pid>/stat; null when it is gone.
 * Clock ticks are taken as 100 per second (USER_HZ on Linux).
 * @param {number} pid
 */
export function procCpuSeconds(pid) {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Fields after the command name (which may hold spaces) start after the last ')'.
    const fields = stat.slice(stat.lastIndexOf(')') + 2).split(' ');
    return (Number(fields[11]) + Number(fields[12])) / 100;
  } catch {
    return null;
  }
}
