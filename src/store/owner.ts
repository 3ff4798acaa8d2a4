import { randomBytes } from 'node:crypto';
import { readFileSync, readlinkSync } from 'node:fs';
import { hostname } from 'node:os';

/*
 * Who holds a lease. An owner names its process so that a store can tell, at open, that the
 * process which held some leases on this machine is gone (a crash, a restart) and take its
 * units back at once instead of waiting for the leases to run out. Only a process of the same
 * machine and PID namespace can be judged; any other owner is taken for alive.
 */

/** The process's start time since boot, in clock ticks (Linux /proc): with the PID, it tells a reused PID apart. */
function startTicks(pid: number | 'self'): string | undefined {
  try {
    const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
    // Field 22; the command in field 2 may hold spaces, so count from after its closing parenthesis.
    return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19];
  } catch {
    return undefined;
  }
}

function pidNamespace(): string {
  try {
    return /\[(\d+)\]/.exec(readlinkSync('/proc/self/ns/pid'))?.[1] ?? '';
  } catch {
    return '';
  }
}

const self = { host: hostname(), ns: pidNamespace(), start: startTicks('self') ?? '' };

/** A new owner name: `host:pid:random:namespace.start`. */
export const newOwner = (): string =>
  `${self.host}:${process.pid}:${randomBytes(3).toString('hex')}:${self.ns}.${self.start}`;

/** True only when `owner` names a process of this machine (and PID namespace) that is no longer running. */
export function ownerIsDead(owner: string): boolean {
  const [host, pidText, , process_] = owner.split(':');
  if (host !== self.host || process_ === undefined) return false;
  const [ns, start] = process_.split('.');
  const pid = Number(pidText);
  if (ns !== self.ns || !ns || !start || !Number.isInteger(pid) || pid <= 0) return false;
  if (pid === process.pid) return start !== self.start;
  const now = startTicks(pid);
  return now === undefined || now !== start;
}
