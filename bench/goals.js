// @ts-check
/**
 * The performance goals, each judged from one run's figures: `met`, `NOT met`, or `not run`
 * (the run did not measure it, or measured it under other conditions than the goal names).
 * A goal not met does not flag the run: flags are for lost or wrong answers.
 */
import { fmt, SOAK_FLAT_PCT } from './report.js';

export const GOALS = {
  /** events/s offered end to end */
  offered: 1000,
  sqlitePerSec: 950,
  pgPerSec: 800,
  /** the send → status goal's load */
  latencyRate: 500,
  latencyP99Ms: 2000,
  cpuVsRelaySqlite: 1.3,
  cpuVsRelayPg: 1.6,
  servePeakMb: 160,
  /** `--memory-limit` (256 in `--full`): the container `serve` must fit */
  containerMb: 256,
  soakSeconds: 600,
  soakFlatPct: SOAK_FLAT_PCT,
  intakePeakMb: 100,
  intakeVsNaive: 2,
};

/**
 * @typedef {{ goal: string, figure: string, verdict: 'met' | 'NOT met' | 'not run' }} GoalRow
 */

/**
 * @param {import('./report.js').Results} r
 * @returns {GoalRow[]}
 */
export function judgeGoals(r) {
  const e2e = r.e2e ?? [];
  const run = (/** @type {string} */ id) => e2e.find((x) => x.id === id);
  /** @type {GoalRow[]} */
  const rows = [];
  const add = (/** @type {string} */ goal, /** @type {string} */ figure, /** @type {boolean | null} */ ok) =>
    rows.push({ goal, figure, verdict: ok === null ? 'not run' : ok ? 'met' : 'NOT met' });
  const rate = (/** @type {import('./e2e.js').EndToEndResult} */ x) =>
    `${fmt.int(x.steadyPerSec ?? 0)} confirmed/s over the steady window (${fmt.int(x.eventsPerSec)}/s first send → last status), ${fmt.int(x.load.rate)} offered`;

  for (const [id, name, min] of /** @type {const} */ ([
    ['e2e-sqlite', 'SQLite', GOALS.sqlitePerSec],
    ['e2e-pg', 'PostgreSQL', GOALS.pgPerSec],
  ])) {
    const x = run(id);
    const goal = `end to end on ${name}: ≥ ${fmt.int(min)} confirmed/s at ${fmt.int(GOALS.offered)} offered`;
    if (!x) add(goal, '—', null);
    else if (x.load.rate !== GOALS.offered) add(goal, `${rate(x)}: not the goal's load`, null);
    else add(goal, rate(x), x.steadyPerSec !== null && x.steadyPerSec >= min);
  }

  const gatewayRuns = e2e.filter((x) => !x.relay);
  const soak = r.soak ?? null;
  const judged = soak ? [...gatewayRuns, soak] : gatewayRuns;
  if (!judged.length) add('nothing lost end to end', '—', null);
  else {
    const missing = judged.reduce((a, x) => a + x.missing, 0);
    const lost = judged.reduce((a, x) => a + x.lost, 0);
    const flagged = judged.filter((x) => x.problems.length);
    add(
      'nothing lost end to end (every acknowledged event confirmed, none flagged)',
      `${fmt.int(missing)} without a status, ${fmt.int(lost)} lost in ${judged.length} run${judged.length === 1 ? '' : 's'}${flagged.length ? `; flagged: ${flagged.map((x) => x.id).join(', ')}` : ''}`,
      missing === 0 && lost === 0 && flagged.length === 0,
    );
  }

  {
    const x = run('e2e-sqlite-500');
    const goal = `send → status p99 ≤ ${fmt.int(GOALS.latencyP99Ms)} ms at ${GOALS.latencyRate} events/s offered (SQLite)`;
    if (!x?.latencyMs) add(goal, '—', null);
    else if (x.load.rate !== GOALS.latencyRate)
      add(goal, `p99 ${fmt.int(x.latencyMs.p99)} ms at ${x.load.rate}/s`, null);
    else
      add(
        goal,
        `p99 ${fmt.int(x.latencyMs.p99)} ms (p50 ${fmt.int(x.latencyMs.p50)})`,
        x.latencyMs.p99 <= GOALS.latencyP99Ms,
      );
  }

  const relay = run('e2e-relay');
  const pgBeside = (/** @type {import('./e2e.js').EndToEndResult} */ x) =>
    x.pgCpu ? `; PostgreSQL server ${fmt.int(x.pgCpu.usPerEvent ?? 0)} µs/event beside it` : '';
  for (const [id, name, max] of /** @type {const} */ ([
    ['e2e-sqlite', 'SQLite', GOALS.cpuVsRelaySqlite],
    ['e2e-pg', 'PostgreSQL', GOALS.cpuVsRelayPg],
  ])) {
    const x = run(id);
    const goal = `CPU per event, every thread of the gateway, on ${name}: ≤ ${max}× the minimal relay's`;
    if (!x?.cpuUsPerEvent || !relay?.cpuUsPerEvent) add(goal, '—', null);
    else {
      const ratio = x.cpuUsPerEvent / relay.cpuUsPerEvent;
      add(
        goal,
        `${fmt.int(x.cpuUsPerEvent)} µs vs ${fmt.int(relay.cpuUsPerEvent)} µs: ${fmt.ratio(ratio)}${pgBeside(x)}`,
        ratio <= max,
      );
    }
  }

  {
    const goal = `\`serve\` peak RSS ≤ ${GOALS.servePeakMb} MB under the end-to-end load`;
    const peaks = judged.flatMap((x) => Object.entries(x.memory).map(([name, m]) => ({ name, mb: m.peakMb })));
    const known = peaks.filter((p) => p.mb !== null);
    if (!known.length) add(goal, '—', null);
    else
      add(
        goal,
        known.map((p) => `${p.name} ${p.mb}`).join(', ') + ' MB',
        known.every((p) => /** @type {number} */ (p.mb) <= GOALS.servePeakMb),
      );
  }

  {
    const goal = `\`serve\` fits a ${GOALS.containerMb} MB container under the end-to-end load (no OOM, nothing lost)`;
    const limit = r.settings.memoryLimit ?? null;
    // Runs that could not run at all (an OOM kill while starting or installing) fail the goal too.
    const failedToRun = (r.e2eErrors ?? []).filter((x) => x.id.startsWith('e2e-') && x.id !== 'e2e-relay');
    const limitedRuns = judged.filter((x) => x.memoryLimit);
    if (!limit) add(goal, '— (run with --memory-limit or --full)', null);
    else if (limit.unavailable) add(goal, `no memory cgroup: ${limit.unavailable}`, null);
    else if (!limitedRuns.length && !failedToRun.length) add(goal, '—', null);
    else {
      const groups = limitedRuns.flatMap((x) =>
        Object.entries(x.memoryLimit ?? {}).map(([name, g]) => ({ name, g, rss: x.memory[name]?.peakMb ?? null })),
      );
      const killed = groups.filter((p) => p.g.oomKills || p.g.ended);
      const flagged = limitedRuns.filter((x) => x.problems.length || x.lost || x.missing);
      const figure = [
        `${limit.mb} MB cgroup` +
          (groups.length ? ': ' : '') +
          groups
            .map(
              (p) =>
                `${p.name} peak RSS ${p.rss ?? '—'} MB, cgroup peak ${p.g.peakMb ?? '—'} MB, failcnt ${p.g.failcnt ?? '—'}`,
            )
            .join('; '),
        ...(killed.length
          ? [`ended by it: ${killed.map((p) => `${p.name} (${p.g.oomKills ? 'OOM kill' : p.g.ended})`).join(', ')}`]
          : []),
        ...(failedToRun.length ? [`could not run: ${failedToRun.map((x) => x.id).join(', ')}`] : []),
        ...(flagged.length ? [`flagged: ${flagged.map((x) => x.id).join(', ')}`] : []),
      ].join('; ');
      const ok = !killed.length && !failedToRun.length && !flagged.length;
      if (limit.mb !== GOALS.containerMb) add(goal, `${figure}: not the goal's limit`, null);
      else add(goal, figure, ok);
    }
  }

  {
    const goal = `\`serve\` RSS flat (±${GOALS.soakFlatPct}%) over a ${GOALS.soakSeconds / 60}-minute soak`;
    const m = soak ? Object.values(soak.memory)[0] : undefined;
    if (!soak || !m || m.growthPct === null) add(goal, '—', null);
    else {
      const figure = `${fmt.pct(m.growthPct)} (first third ${m.firstThirdMb} MB → last third ${m.lastThirdMb} MB, peak ${m.peakMb} MB) over ${soak.load.seconds} s at ${soak.load.rate}/s`;
      if (soak.load.seconds < GOALS.soakSeconds) add(goal, `${figure}: shorter than the goal's soak`, null);
      else add(goal, figure, Math.abs(m.growthPct) <= GOALS.soakFlatPct);
    }
  }

  {
    const goal = `\`serve --role intake\` peak RSS ≤ ${GOALS.intakePeakMb} MB`;
    const m = r.memory['gateway-intake'];
    if (!m || m.peakMb === null) add(goal, '—', null);
    else
      add(
        goal,
        `${m.peakMb} MB (intake cells, up to c=${Math.max(...r.settings.concurrency)}; ${
          r.settings.memoryLimit?.cgroup ? `in a ${r.settings.memoryLimit.mb} MB memory cgroup` : 'no memory limit'
        })`,
        m.peakMb <= GOALS.intakePeakMb,
      );
  }

  {
    const one = run('e2e-pg');
    const two = run('e2e-pg2');
    const goal = 'two instances on one PostgreSQL: gateway CPU per event ≤ one instance';
    if (!one?.cpuUsPerEvent || !two?.cpuUsPerEvent) add(goal, '—', null);
    else
      add(
        goal,
        `${fmt.int(two.cpuUsPerEvent)} µs (both together) vs ${fmt.int(one.cpuUsPerEvent)} µs${one.pgCpu && two.pgCpu ? `; PostgreSQL server ${fmt.int(two.pgCpu.usPerEvent ?? 0)} vs ${fmt.int(one.pgCpu.usPerEvent ?? 0)} µs/event` : ''}`,
        two.cpuUsPerEvent <= one.cpuUsPerEvent,
      );
  }

  {
    const goal = `the intake alone (\`--role intake\`) ≥ ${GOALS.intakeVsNaive}× the naive handler (sync=FULL) at every concurrency`;
    const eps = (/** @type {string} */ id, /** @type {number} */ c) =>
      r.intake.find((x) => x.target === id && x.concurrency === c)?.eventsPerSec;
    const cells = r.settings.concurrency
      .map((c) => ({ c, a: eps('gateway-intake', c), b: eps('naive-full', c) }))
      .filter((x) => x.a !== undefined && x.b);
    if (!cells.length) add(goal, '—', null);
    else
      add(
        goal,
        cells
          .map((x) => `c=${x.c}: ${fmt.ratio(/** @type {number} */ (x.a) / /** @type {number} */ (x.b))}`)
          .join(', '),
        cells.length < r.settings.concurrency.length
          ? null
          : cells.every((x) => /** @type {number} */ (x.a) / /** @type {number} */ (x.b) >= GOALS.intakeVsNaive),
      );
  }
  return rows;
}
