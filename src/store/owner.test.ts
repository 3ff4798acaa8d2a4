import { spawnSync } from 'node:child_process';
import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { newOwner, ownerIsDead } from './owner.js';

/** The parts of this process's own owner name: `host:pid:random:namespace.start`. */
const [host, , random, nsStart] = newOwner().split(':') as [string, string, string, string];
const [ns, start] = nsStart.split('.') as [string, string];
const ownerOf = (pid: number | string, processStart: string, namespace = ns, on = host) =>
  `${on}:${pid}:${random}:${namespace}.${processStart}`;
const startOf = (pid: number) => {
  const stat = readFileSync(`/proc/${pid}/stat`, 'utf8');
  return stat.slice(stat.lastIndexOf(')') + 2).split(' ')[19]!;
};

describe.runIf(process.platform === 'linux')('ownerIsDead', () => {
  it('this process, and a live process of this machine, are alive', () => {
    expect(ownerIsDead(newOwner())).toBe(false);
    expect(ownerIsDead(ownerOf(process.ppid, startOf(process.ppid)))).toBe(false);
  });

  it('a process that exited, this PID with another start, or a reused PID are dead', () => {
    const gone = spawnSync('true').pid!;
    expect(ownerIsDead(ownerOf(gone, start))).toBe(true);
    expect(ownerIsDead(ownerOf(process.pid, `${start}1`))).toBe(true);
    expect(ownerIsDead(ownerOf(process.ppid, `${startOf(process.ppid)}1`))).toBe(true);
  });

  it('cannot judge, so takes for alive: another host or PID namespace, or a name it cannot read', () => {
    expect(ownerIsDead(ownerOf(process.pid, `${start}1`, ns, `${host}x`))).toBe(false);
    expect(ownerIsDead(ownerOf(process.pid, `${start}1`, `${ns}1`))).toBe(false);
    expect(ownerIsDead(ownerOf(process.pid, `${start}1`, ''))).toBe(false);
    expect(ownerIsDead(ownerOf(process.pid, ''))).toBe(false);
    for (const pid of [0, -1, 'x', 1.5]) expect(ownerIsDead(ownerOf(pid, `${start}1`))).toBe(false);
    expect(ownerIsDead(`${host}:${process.pid}`)).toBe(false);
    expect(ownerIsDead('worker-1')).toBe(false);
  });
});
