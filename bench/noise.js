// @ts-check
/**
 * How busy the machine was during a phase, and how much of that was not the bench: other
 * people's tests, builds or servers on the same cores make every number lower. Machine-wide
 * busy time comes from /proc/stat; ours is this process, the servers it started and the
 * PostgreSQL backends serving the bench's own database (found by name in their command line).
 */
import { readdirSync, readFileSync } from 'node:fs';
import { availableParallelism } from 'node:os';
import { performance } from 'node:perf_hooks';
import process from 'node:process';
import { clearInterval, setInterval } from 'node:timers';
import { procCpuSeconds } from './memory.js';

/** Busy and total CPU seconds of the whole machine since boot (all cores), or null off Linux. */
function machineSeconds() {
  try {
    const line = readFileSync('/proc/stat', 'utf8').split('\n')[0] ?? '';
    const v = line.trim().split(/\s+/).slice(1).map(Number);
    // user nice system idle iowait irq softirq steal (guest time is already in user)
    const total = v.slice(0, 8).reduce((a, b) => a + b, 0);
    const idle = (v[3] ?? 0) + (v[4] ?? 0);
    return { busy: (total - idle) / 100, total: total / 100 };
  } catch {
    return null;
  }
}

/**
 * CPU seconds so far of every PostgreSQL backend whose command line names `database`.
 * @param {string} database
 * @returns {Map<number, number>}
 */
export function pgBackends(database) {
  /** @type {Map<number, number>} */
  const out = new Map();
  let pids;
  try {
    pids = readdirSync('/proc').filter((d) => /^\d+$/.test(d));
  } catch {
    return out;
  }
  for (const d of pids) {
    try {
      const cmd = readFileSync(`/proc/${d}/cmdline`, 'utf8');
      if (!cmd.startsWith('postgres') || !cmd.includes(` ${database} `)) continue;
      const cpu = procCpuSeconds(Number(d));
      if (cpu !== null) out.set(Number(d), cpu);
    } catch {
      // gone, or not ours to read
    }
  }
  return out;
}

/**
 * CPU the PostgreSQL backends of one database use from now to stop(). They are read each second,
 * so a backend that ends (a pool closing a connection) keeps what it had used by its last read;
 * one that starts later counts from zero.
 * @param {string} database
 */
export function startPgCpuMeter(database) {
  /** pid → [CPU seconds at the first read, at the last] */
  /** @type {Map<number, [number, number]>} */
  const seen = new Map();
  let first = true;
  const take = () => {
    for (const [pid, cpu] of pgBackends(database)) {
      const was = seen.get(pid);
      if (was) was[1] = cpu;
      else seen.set(pid, [first ? cpu : 0, cpu]);
    }
    first = false;
  };
  take();
  const timer = setInterval(take, 1000);
  return {
    /** @returns {{ seconds: number, backends: number }} */
    stop() {
      clearInterval(timer);
      take();
      let seconds = 0;
      for (const [a, b] of seen.values()) seconds += b - a;
      return { seconds, backends: seen.size };
    },
  };
}

/**
 * @typedef {object} NoiseResult
 * @property {number} seconds      wall time of the phase
 * @property {number} machineBusy  average cores busy, whole machine
 * @property {number} ours         average cores used by the bench, its servers and their PostgreSQL backends
 * @property {number} others       average cores used by everything else (machineBusy − ours, at least 0)
 * @property {number} cores
 */

/**
 * Starts measuring; stop() must be called while the phase's servers still run (it reads their CPU).
 * @param {() => number[]} pids  the servers of the phase (read at start and at stop)
 * @param {() => string[]} [databases]  PostgreSQL databases of the phase
 */
export function startNoiseMeter(pids, databases = () => []) {
  const t0 = performance.now();
  const m0 = machineSeconds();
  const self0 = process.cpuUsage();
  /** @type {Map<number, number>} */
  const servers0 = new Map();
  for (const pid of pids()) servers0.set(pid, procCpuSeconds(pid) ?? 0);
  /** @type {Map<number, number>} */
  const pg0 = new Map();
  for (const db of databases()) for (const [pid, cpu] of pgBackends(db)) pg0.set(pid, cpu);
  return {
    /** @returns {NoiseResult | null} */
    stop() {
      const m1 = machineSeconds();
      if (!m0 || !m1) return null;
      const seconds = (performance.now() - t0) / 1000;
      const self = process.cpuUsage(self0);
      let ours = (self.user + self.system) / 1e6;
      for (const pid of pids()) ours += (procCpuSeconds(pid) ?? 0) - (servers0.get(pid) ?? 0);
      for (const db of databases()) for (const [pid, cpu] of pgBackends(db)) ours += cpu - (pg0.get(pid) ?? 0);
      const busy = m1.busy - m0.busy;
      const r = (/** @type {number} */ x) => Math.round((x / Math.max(seconds, 0.001)) * 100) / 100;
      return {
        seconds: Math.round(seconds * 10) / 10,
        machineBusy: r(busy),
        ours: r(Math.min(ours, busy)),
        others: r(Math.max(0, busy - ours)),
        cores: availableParallelism(),
      };
    },
  };
}

/** The 1-minute load average, for the description of the run. */
export function machineLoadNow() {
  let loadavg = null;
  try {
    loadavg = Number(readFileSync('/proc/loadavg', 'utf8').split(' ')[0] ?? 'NaN');
  } catch {
    // not Linux
  }
  return { loadavg1: loadavg };
}
