// @ts-check
/** Turns one run's results into the Markdown report, the stdout tables and the verdict. */
import { STEADY_SKIP_SECONDS } from './e2e.js';

/**
 * @typedef {import('./load.js').CellResult & { target: string, instances: number, rssMbAfter: number | null, rssMbAfterEach: (number | null)[] }} IntakeCell
 *   rssMbAfter: all instances together; rssMbAfterEach: per instance
 * @typedef {{ id: string, short: string, label: string, durability: string, color: string, instances: number }} TargetInfo
 * @typedef {object} Results
 * @property {'quick' | 'full'} mode
 * @property {{ concurrency: number[], seconds: number, warmupSeconds: number, decodeRounds: number, decodeRoundMs: number, chats: number, e2e: import('./e2e.js').EndToEndLoad, customers?: import('./customers.js').CustomerLoad, pull?: import('./pull.js').PullLoad, memoryLimit?: MemoryLimitSetting | null }} settings
 * @property {ReturnType<typeof import('./machine.js').describeMachine> & { loadavg1AtStart: number | null, postgres: { url: string, version: string, settings: Record<string, string> } | null }} machine
 * @property {TargetInfo[]} targets
 * @property {IntakeCell[]} intake
 * @property {{ concurrency: number, gatewayVsBare: number | null, gatewayVsNaiveFull: number | null, gatewayVsNaiveNormal: number | null, intakeOnlyVsBare: number | null, noStoreVsBare: number | null }[]} ratios
 * @property {Record<string, import('./memory.js').MemoryResult>} memory  per server process (`<target>` or `<target> #n`)
 * @property {Record<string, { answered: number, stored: number | null, unprocessed: number | null, lost: boolean }>} integrity
 * @property {import('./decode.js').DecodeRow[]} decode
 * @property {import('./e2e.js').EndToEndResult[]} e2e
 * @property {import('./e2e.js').EndToEndResult | null} [soak]  the soak: one SQLite gateway under a steady load for minutes, its RSS each second
 * @property {import('./goals.js').GoalRow[]} [goals]  each performance goal, what was measured, met or not
 * @property {import('./customers.js').CustomerResult[]} [customers]  the customers' side: channel → gateway → Bitrix24
 * @property {import('./pull.js').PullResult[]} [pulls]  the pull modes: a backlog kept by the portal, taken by serve --pull
 * @property {import('./kill.js').KillResult[]} [kills]  kill and recover: one of two instances SIGKILLed under load
 * @property {{ id: string, error: string }[]} e2eErrors  end-to-end runs that could not run (install failed, a process did not start…)
 * @property {Record<string, import('./noise.js').NoiseResult | null>} noise  per phase (intake target or end-to-end run), and `before` (1 s before the run)
 * @property {string[]} skipped  cells not run, and why
 * @property {number} runSeconds  the whole `node bench/run.js`, build excluded
 * @property {string[]} flags
 * @property {string[]} notes   worth knowing, not failures (limits hit and retried, memory growth, a busy machine)
 * @property {string} verdict
 */

/**
 * `--memory-limit`: each end-to-end gateway process in a memory cgroup of `mb` MB (`cgroup` says
 * which), or, when none could be made, why not (`unavailable`; the runs went unlimited).
 * @typedef {{ mb: number, cgroup: string | null, unavailable: string | null }} MemoryLimitSetting
 */

export const fmt = {
  int: (/** @type {number} */ n) => Math.round(n).toLocaleString('en-US'),
  /** autocannon measures latency in whole milliseconds */
  ms: (/** @type {number} */ n) => (n < 1 ? '<1' : Math.round(n).toLocaleString('en-US')),
  us: (/** @type {number} */ n) => (n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')),
  ratio: (/** @type {number | null} */ r) => (r === null || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`),
  pct: (/** @type {number | null} */ p) => (p === null ? '—' : `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`),
  /** latency we measured ourselves (sub-millisecond precision) */
  msExact: (/** @type {number | null | undefined} */ n) =>
    n === null || n === undefined ? '—' : n < 10 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US'),
};

/** Within ±15% first third vs last third: what the end-to-end memory check calls flat. */
export const E2E_FLAT_PCT = 15;

/**
 * @param {string[]} head
 * @param {(string | number)[][]} rows
 * @param {string} [align] one of l/r per column
 */
export function table(head, rows, align = '') {
  const sep = head.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** Answers other than 2xx, socket errors and timeouts, warm-up included. @param {Pick<IntakeCell, 'non2xx' | 'errors' | 'timeouts' | 'warmupBad'>} c */
export const cellProblems = (c) => c.non2xx + c.errors + c.timeouts + c.warmupBad;

/** @param {IntakeCell} c */
const statusNote = (c) => {
  if (cellProblems(c) === 0) return 'ok';
  const codes = Object.entries(c.statusCodes)
    .filter(([code]) => !code.startsWith('2'))
    .map(([code, n]) => `${n}×${code}`);
  return `**FLAGGED** ${[...codes, c.errors ? `${c.errors} errors` : '', c.timeouts ? `${c.timeouts} timeouts` : '', c.warmupBad ? `${c.warmupBad} bad in warm-up` : ''].filter(Boolean).join(', ')}`;
};

/** @param {Results} r */
export function intakeTable(r) {
  const byId = new Map(r.targets.map((t) => [t.id, t]));
  return table(
    ['target', 'durability', 'conc.', 'events/s', 'p50 ms', 'p99 ms', 'max ms', 'non-2xx', 'errors', 'check'],
    r.intake.map((c) => [
      c.target === 'gateway' ? `**${c.target}**` : c.target,
      byId.get(c.target)?.durability ?? '',
      c.concurrency,
      fmt.int(c.eventsPerSec),
      fmt.ms(c.p50),
      fmt.ms(c.p99),
      fmt.ms(c.max),
      c.non2xx,
      c.errors + c.timeouts,
      statusNote(c),
    ]),
    'llrrrrrrrl',
  );
}

/** @param {Results} r */
export function ratioTable(r) {
  return table(
    [
      'conc.',
      'gateway ÷ bare (events/s)',
      'gateway ÷ naive FULL',
      'gateway ÷ naive NORMAL',
      'gateway --role intake ÷ bare',
      'intake without storage ÷ bare (bound)',
    ],
    r.ratios.map((x) => [
      x.concurrency,
      fmt.ratio(x.gatewayVsBare),
      fmt.ratio(x.gatewayVsNaiveFull),
      fmt.ratio(x.gatewayVsNaiveNormal),
      fmt.ratio(x.intakeOnlyVsBare),
      fmt.ratio(x.noStoreVsBare),
    ]),
    'rrrrrr',
  );
}

/** @param {Results} r */
export function decodeTable(r) {
  const rows = r.decode.map((d) => {
    const ours = d.usPerEvent.decodeForm ?? NaN;
    const theirs = d.usPerEvent['qs.parse'] ?? NaN;
    return [
      d.name,
      d.bytes,
      d.params,
      fmt.us(ours),
      fmt.us(theirs),
      fmt.ratio(theirs / ours),
      d.equal ? 'yes' : `**NO**: ${d.differences.join('; ')}`,
    ];
  });
  const mean = (/** @type {string} */ id) =>
    r.decode.reduce((a, d) => a + (d.usPerEvent[id] ?? 0), 0) / Math.max(1, r.decode.length);
  rows.push([
    '**mean**',
    '',
    '',
    fmt.us(mean('decodeForm')),
    fmt.us(mean('qs.parse')),
    fmt.ratio(mean('qs.parse') / mean('decodeForm')),
    '',
  ]);
  return table(
    ['body', 'bytes', 'params', 'decodeForm µs/event', 'qs.parse µs/event', 'qs ÷ decodeForm', 'same result'],
    rows,
    'lrrrrrl',
  );
}

/** @param {Results} r */
export function memoryTable(r) {
  const rows = Object.entries(r.memory).map(([name, m]) => {
    const [, id = name, nth] = /^(.*?)(?: #(\d+))?$/.exec(name) ?? [];
    const perCell = r.intake
      .filter((c) => c.target === id)
      .map((c) => `c=${c.concurrency}: ${(nth ? c.rssMbAfterEach?.[Number(nth) - 1] : c.rssMbAfter) ?? '—'}`);
    const flat =
      m.growthPct === null ? '—' : Math.abs(m.growthPct) <= 10 ? 'flat' : m.growthPct > 0 ? 'grows' : 'shrinks';
    return [
      id === 'gateway' ? `**${name}**` : name,
      m.peakMb ?? '—',
      m.firstThirdMb ?? '—',
      m.lastThirdMb ?? '—',
      `${fmt.pct(m.growthPct)} (${flat})`,
      perCell.join(', '),
      m.rssMb.length,
    ];
  });
  return table(
    [
      'process',
      'peak RSS MB (VmHWM)',
      'RSS MB, first third',
      'RSS MB, last third',
      'change',
      'RSS MB after each cell',
      'samples',
    ],
    rows,
    'lrrrllr',
  );
}

/**
 * The gateway on PostgreSQL beside the gateway on SQLite, per concurrency (the same cells).
 * @param {Results} r
 */
export function postgresTable(r) {
  const cell = (/** @type {string} */ id, /** @type {number} */ c) =>
    r.intake.find((x) => x.target === id && x.concurrency === c);
  if (!r.intake.some((x) => x.target === 'gateway-pg' || x.target === 'gateway-pg2')) return '';
  const show = (/** @type {IntakeCell | undefined} */ x) =>
    x ? `${fmt.int(x.eventsPerSec)} (p99 ${fmt.ms(x.p99)} ms)${cellProblems(x) ? ' **FLAGGED**' : ''}` : '—';
  const div = (/** @type {IntakeCell | undefined} */ a, /** @type {IntakeCell | undefined} */ b) =>
    a && b && b.eventsPerSec ? a.eventsPerSec / b.eventsPerSec : null;
  return table(
    [
      'conc. (total)',
      'SQLite, 1 instance: events/s',
      'PostgreSQL, 1 instance',
      'PostgreSQL, 2 instances (sum)',
      'PG 1 ÷ SQLite',
      'PG 2 ÷ PG 1',
    ],
    r.settings.concurrency.map((c) => [
      c,
      show(cell('gateway', c)),
      show(cell('gateway-pg', c)),
      show(cell('gateway-pg2', c)),
      fmt.ratio(div(cell('gateway-pg', c), cell('gateway', c))),
      fmt.ratio(div(cell('gateway-pg2', c), cell('gateway-pg', c))),
    ]),
    'rrrrrr',
  );
}

const e2eName = (/** @type {import('./e2e.js').EndToEndResult} */ x) =>
  `${x.id === 'e2e-sqlite' ? `**${x.id}**` : x.id}`;
const gatewaysOf = (/** @type {import('./e2e.js').EndToEndResult} */ x) =>
  x.relay
    ? 'the minimal relay (stores and reports nothing)'
    : `${x.db === 'postgres' ? 'PostgreSQL' : 'SQLite'}, ${x.instances === 1 ? '1 × `serve`' : `${x.instances} × \`serve --role all\`, one database`}`;

/**
 * End to end: what was sent, answered, delivered, confirmed, and how fast.
 * @param {Results} r
 */
export function e2eTable(r) {
  if (!r.e2e?.length) return '';
  return table(
    [
      'run',
      'gateway',
      'offered events/s',
      'sent (achieved/s)',
      '2xx answers',
      'delivered to channel',
      'statuses at sandbox',
      'missing',
      '**end-to-end events/s**',
      '**steady confirmed/s**',
      'first send → last status, s',
      'check',
    ],
    r.e2e.map((x) => [
      e2eName(x),
      gatewaysOf(x),
      fmt.int(x.load.rate),
      `${fmt.int(x.sent)} (${fmt.int(x.sendRate)})`,
      fmt.int(x.acknowledged),
      x.channel ? fmt.int(x.channel.unique) : '—',
      fmt.int(x.confirmed),
      `${fmt.int(x.missing)}${x.lost ? ` (**${fmt.int(x.lost)} lost**)` : ''}`,
      `**${fmt.int(x.eventsPerSec)}**`,
      x.steadyPerSec === null ? '—' : `**${fmt.int(x.steadyPerSec)}**`,
      x.e2eSeconds.toFixed(1),
      x.problems.length
        ? `**FLAGGED** ${x.problems.join('; ')}`
        : x.missing
          ? 'backlog left at the end of the wait, nothing lost (see Notes)'
          : 'ok',
    ]),
    'llrrrrrrrrrl',
  );
}

/**
 * End to end: CPU per finished event of the gateway (every thread of its process; both
 * processes of a two-instance run together), beside the minimal relay's under the same load,
 * and the PostgreSQL backends' of the run's database.
 * @param {Results} r
 */
export function e2eCpuTable(r) {
  if (!r.e2e?.length) return '';
  const relay = r.e2e.find((x) => x.relay)?.cpuUsPerEvent ?? null;
  return table(
    [
      'run',
      'events done',
      'CPU s (gateway processes)',
      '**CPU µs per event**',
      '÷ minimal relay',
      'PostgreSQL backends: CPU s',
      'PostgreSQL µs per event',
      'gateway + PostgreSQL µs per event',
      'the bench process (sandbox, sender) µs per event',
    ],
    r.e2e.map((x) => {
      const cpu = Object.entries(x.cpuSeconds)
        .filter(([k]) => !k.startsWith('bench'))
        .reduce((a, [, v]) => a + v, 0);
      return [
        e2eName(x),
        fmt.int(x.done),
        cpu.toFixed(1),
        x.cpuUsPerEvent === null ? '—' : `**${fmt.int(x.cpuUsPerEvent)}**`,
        x.relay ? '1.00×' : fmt.ratio(x.cpuUsPerEvent !== null && relay ? x.cpuUsPerEvent / relay : null),
        x.pgCpu ? `${x.pgCpu.seconds.toFixed(1)} (${x.pgCpu.backends} backends)` : '—',
        x.pgCpu?.usPerEvent === null || x.pgCpu?.usPerEvent === undefined ? '—' : fmt.int(x.pgCpu.usPerEvent),
        x.pgCpu?.usPerEvent != null && x.cpuUsPerEvent !== null ? fmt.int(x.cpuUsPerEvent + x.pgCpu.usPerEvent) : '—',
        x.done > 0 ? fmt.int(((x.cpuSeconds['bench (sandbox + sender)'] ?? 0) * 1e6) / x.done) : '—',
      ];
    }),
    'lrrrrrrrr',
  );
}

/**
 * Each performance goal: what was measured and whether it was met.
 * @param {Results} r
 */
export function goalsTable(r) {
  if (!r.goals?.length) return '';
  return table(
    ['goal', 'measured', 'verdict'],
    r.goals.map((g) => [g.goal, g.figure, g.verdict === 'NOT met' ? '**NOT met**' : g.verdict]),
    'lll',
  );
}

/**
 * The soak: one gateway's RSS through minutes of steady load.
 * @param {Results} r
 */
export function soakTable(r) {
  const x = r.soak;
  if (!x) return '';
  const m = Object.values(x.memory)[0];
  if (!m) return '';
  const flat = m.growthPct === null ? '—' : Math.abs(m.growthPct) <= SOAK_FLAT_PCT ? 'flat' : '**not flat**';
  return table(
    [
      'run',
      'offered events/s × s',
      'statuses',
      'missing',
      'samples (1/s)',
      'peak RSS MB (VmHWM)',
      'RSS MB, first third',
      'RSS MB, last third',
      'change',
      `flat (±${SOAK_FLAT_PCT}%)?`,
      'CPU µs per event',
      'check',
    ],
    [
      [
        x.id,
        `${fmt.int(x.load.rate)} × ${fmt.int(x.load.seconds)}`,
        fmt.int(x.confirmed),
        `${fmt.int(x.missing)}${x.lost ? ` (**${fmt.int(x.lost)} lost**)` : ''}`,
        m.rssMb.length,
        m.peakMb ?? '—',
        m.firstThirdMb ?? '—',
        m.lastThirdMb ?? '—',
        fmt.pct(m.growthPct),
        flat,
        x.cpuUsPerEvent === null ? '—' : fmt.int(x.cpuUsPerEvent),
        x.problems.length ? `**FLAGGED** ${x.problems.join('; ')}` : 'ok',
      ],
    ],
    'lrrrrrrrrlrl',
  );
}

/** The soak's RSS is called flat within ±this % (last third of the samples against the first). */
export const SOAK_FLAT_PCT = 10;

/**
 * End to end: latencies, REST calls back to Bitrix24, what was left in the database.
 * @param {Results} r
 */
export function e2eLatencyTable(r) {
  if (!r.e2e?.length) return '';
  return table(
    [
      'run',
      'send → status p50 ms',
      'p99 ms',
      'max ms',
      'gateway answer p50 ms',
      'p99 ms',
      'REST requests',
      '**REST per 1,000 events**',
      'commands (batched)',
      '503 QUERY_LIMIT',
      'left in database',
    ],
    r.e2e.map((x) => {
      const limited = x.rest.errorsByCode['503 QUERY_LIMIT_EXCEEDED'] ?? 0;
      const left = x.stored
        ? `${fmt.int(x.stored.unprocessed ?? 0)} events unfinished, ${fmt.int(x.stored.outbox?.unsent ?? 0)} statuses unsent`
        : '—';
      return [
        e2eName(x),
        fmt.msExact(x.latencyMs?.p50),
        fmt.msExact(x.latencyMs?.p99),
        fmt.msExact(x.latencyMs?.max),
        fmt.msExact(x.intakeMs?.p50),
        fmt.msExact(x.intakeMs?.p99),
        fmt.int(x.rest.requests),
        `**${x.rest.per1000 ?? '—'}**`,
        fmt.int(x.rest.commands),
        limited,
        left,
      ];
    }),
    'lrrrrrrrrrl',
  );
}

/**
 * End to end: each gateway process's RSS, one sample a second from the first send to the end of the wait.
 * @param {Results} r
 */
export function e2eMemoryTable(r) {
  if (!r.e2e?.length) return '';
  // With --memory-limit: each process's cgroup (page cache counts there, not in RSS).
  const limited = r.e2e.some((x) => x.memoryLimit);
  const rows = r.e2e.flatMap((x) =>
    Object.entries(x.memory).map(([name, m]) => {
      const g = x.memoryLimit?.[name];
      const cgroup = !limited
        ? []
        : g
          ? [g.limitMb, g.peakMb ?? '—', g.failcnt ?? '—', g.oomKills ? `**${g.oomKills}**` : (g.oomKills ?? '—')]
          : ['none', '—', '—', '—'];
      const verdict =
        m.growthPct === null
          ? '—'
          : Math.abs(m.growthPct) <= E2E_FLAT_PCT
            ? 'flat'
            : m.growthPct > 0
              ? '**grows**'
              : 'shrinks';
      return [
        name,
        m.rssMb.length,
        m.peakMb ?? '—',
        m.firstThirdMb ?? '—',
        m.lastThirdMb ?? '—',
        fmt.pct(m.growthPct),
        verdict,
        x.cpuSeconds[name] ?? '—',
        ...cgroup,
      ];
    }),
  );
  return table(
    [
      'gateway process',
      'samples (1/s)',
      'peak RSS MB (VmHWM)',
      'RSS MB, first third',
      'RSS MB, last third',
      'change',
      `flat (±${E2E_FLAT_PCT}%)?`,
      'CPU s used',
      ...(limited ? ['cgroup limit MB', 'cgroup peak MB', 'failcnt', 'OOM kills'] : []),
    ],
    rows,
    limited ? 'lrrrrrlrrrrr' : 'lrrrrrlr',
  );
}

/**
 * The customers' side end to end, beside the other direction: what the channel sent, what reached Bitrix24, how fast, how many REST requests.
 * @param {Results} r
 */
export function customerTable(r) {
  if (!r.customers?.length) return '';
  return table(
    [
      'run',
      'offered actions/s',
      'sent (achieved/s)',
      '200 answers',
      'in Bitrix24',
      'missing',
      'seen twice',
      '**customer actions/s end to end**',
      'send → Bitrix24 p50 ms',
      'p99 ms',
      'answer p50 ms',
      'REST requests',
      '**REST per 1,000 actions**',
      'check',
    ],
    r.customers.map((x) => [
      x.id,
      fmt.int(x.load.rate),
      `${fmt.int(x.sent)} (${fmt.int(x.sendRate)})`,
      fmt.int(x.acknowledged),
      fmt.int(x.seen),
      fmt.int(x.missing),
      fmt.int(x.twice),
      `**${fmt.int(x.actionsPerSec)}**`,
      fmt.msExact(x.latencyMs?.p50),
      fmt.msExact(x.latencyMs?.p99),
      fmt.msExact(x.answerMs?.p50),
      fmt.int(x.rest.requests),
      `**${x.rest.per1000 ?? '—'}**`,
      x.problems.length ? `**FLAGGED** ${x.problems.join('; ')}` : 'ok',
    ]),
    'lrrrrrrrrrrrrl',
  );
}

/**
 * Kill and recover: how long after the kill everything acknowledged before it had its status.
 * @param {Results} r
 */
export function killTable(r) {
  if (!r.kills?.length) return '';
  const s = (/** @type {number | null} */ x) => (x === null ? '—' : x.toFixed(1));
  return table(
    [
      'run',
      'offered messages/s',
      'sent',
      '2xx answers',
      'refused (in flight at the kill)',
      'statuses at sandbox',
      'no status by the end of the wait',
      'lease takeovers',
      '**recovery, s**',
      'slowest send → status, s',
      'end of load → last status, s',
    ],
    r.kills.map((x) => [
      x.id,
      fmt.int(x.load.rate),
      fmt.int(x.sent),
      fmt.int(x.acknowledged),
      fmt.int(x.refused),
      fmt.int(x.confirmed),
      x.lost ? `**${fmt.int(x.lost)}**` : '0',
      fmt.int(x.takeovers),
      `**${s(x.recoverySeconds)}**`,
      s(x.slowestSeconds),
      s(x.afterEndSeconds),
    ]),
    'lrrrrrrrrrr',
  );
}

/** @param {Results} r */
function killBlock(r) {
  if (!r.kills?.length) return '';
  return `## Kill and recover

Two \`serve\` instances on one PostgreSQL database behind a load balancer that sends a request to the next instance when one
refuses the connection; the sandbox's operators write at a steady rate in ${fmt.int(r.kills[0]?.load.chats ?? 0)} chats. One instance is
SIGKILLed ${r.kills[0]?.load.killAt} s in: *kill-restart* starts it again ${(r.kills[0]?.load.restartAt ?? 0) - (r.kills[0]?.load.killAt ?? 0)} s later (its store, as it opens, takes back
the claims of the dead process of this machine), *kill-only* leaves it dead (the survivor takes the claims over once their 10 s
leases run out, as another machine would).

- **recovery** — from the kill to the last delivery status of the messages acknowledged before it.
- **lease takeovers** — attempts that ended with no outcome (the killed process's), run again by another.

${killTable(r)}

`;
}

/**
 * How busy the machine was in each phase, and with what.
 * @param {Results} r
 */
export function noiseTable(r) {
  const entries = Object.entries(r.noise ?? {}).filter(([, n]) => n);
  if (!entries.length) return '';
  return table(
    ['phase', 'wall s', 'machine busy (cores)', 'bench + its servers + their PG backends', 'other processes', 'quiet?'],
    entries.map(([phase, n]) => {
      const x = /** @type {import('./noise.js').NoiseResult} */ (n);
      return [
        phase === 'before' ? '1 s before the run' : phase,
        x.seconds,
        `${x.machineBusy.toFixed(2)} of ${x.cores}`,
        x.ours.toFixed(2),
        x.others.toFixed(2),
        x.others <= NOISY_CORES ? 'yes' : '**no**',
      ];
    }),
    'lrrrrl',
  );
}

/** Other processes using more than this many cores on average make a phase "not quiet". */
export const NOISY_CORES = 0.25;

/** @param {Results} r */
export function integrityTable(r) {
  return table(
    ['target', '200 answers (warm-up included)', 'rows in its database', 'not yet processed at stop', 'check'],
    Object.entries(r.integrity).map(([id, x]) => [
      id,
      fmt.int(x.answered),
      x.stored === null ? '—' : fmt.int(x.stored),
      x.unprocessed === null ? '—' : fmt.int(x.unprocessed),
      x.stored === null
        ? 'stores nothing'
        : x.lost
          ? '**FLAGGED: fewer rows than 200 answers**'
          : 'ok (≥ answers; extra rows are requests cut off at the end of a run)',
    ]),
    'lrrrl',
  );
}

/**
 * Ratios per concurrency, the problems found, notes, and the verdict.
 * @param {Omit<Results, 'ratios' | 'flags' | 'notes' | 'verdict'>} r
 * @returns {Pick<Results, 'ratios' | 'flags' | 'notes' | 'verdict'>}
 */
export function summarize(r) {
  const eps = (/** @type {string} */ id, /** @type {number} */ c) =>
    r.intake.find((x) => x.target === id && x.concurrency === c)?.eventsPerSec;
  const div = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) =>
    a !== undefined && b ? a / b : null;
  const ratios = r.settings.concurrency.map((c) => ({
    concurrency: c,
    gatewayVsBare: div(eps('gateway', c), eps('bare', c)),
    gatewayVsNaiveFull: div(eps('gateway', c), eps('naive-full', c)),
    gatewayVsNaiveNormal: div(eps('gateway', c), eps('naive-normal', c)),
    intakeOnlyVsBare: div(eps('gateway-intake', c), eps('bare', c)),
    noStoreVsBare: div(eps('intake-no-store', c), eps('bare', c)),
  }));
  const flags = [];
  for (const c of r.intake)
    if (cellProblems(c) > 0) flags.push(`${c.target} c=${c.concurrency}: ${statusNote(c).replace('**FLAGGED** ', '')}`);
  for (const [id, x] of Object.entries(r.integrity))
    if (x.lost) flags.push(`${id}: ${x.stored} rows stored for ${x.answered} answers of 200`);
  for (const d of r.decode) if (!d.equal) flags.push(`decode ${d.name}: decodeForm and qs.parse differ`);
  for (const x of r.e2e ?? []) for (const p of x.problems) flags.push(`${x.id}: ${p}`);
  for (const p of r.soak?.problems ?? []) flags.push(`${r.soak?.id}: ${p}`);
  for (const x of r.customers ?? []) for (const p of x.problems) flags.push(`${x.id}: ${p}`);
  for (const x of r.pulls ?? []) for (const p of x.problems) flags.push(`${x.id}: ${p}`);
  for (const x of r.kills ?? []) if (x.lost) flags.push(`${x.id}: ${x.lost} acknowledged messages without a status`);
  for (const x of r.e2eErrors ?? []) flags.push(`${x.id}: could not run: ${x.error.slice(0, 500)}`);
  /** @type {string[]} */
  const notes = [];
  for (const x of r.customers ?? []) for (const n of x.notes) notes.push(`${x.id}: ${n}`);
  for (const n of r.soak?.notes ?? []) notes.push(`${r.soak?.id}: ${n}`);
  for (const x of r.e2e ?? []) {
    for (const n of x.notes) notes.push(`${x.id}: ${n}`);
    for (const [name, m] of Object.entries(x.memory)) {
      if (m.growthPct !== null && Math.abs(m.growthPct) > E2E_FLAT_PCT)
        notes.push(
          `${name}: RSS ${m.growthPct > 0 ? 'grew' : 'shrank'} ${fmt.pct(m.growthPct)} from the first to the last third of the end-to-end run (${m.firstThirdMb} → ${m.lastThirdMb} MB, ${m.rssMb.length} samples)`,
        );
    }
    if (x.sendRate < x.load.rate * 0.9)
      notes.push(
        `${x.id}: the sandbox sent ${fmt.int(x.sendRate)} events/s of the ${fmt.int(x.load.rate)} offered: ${x.load.maxInFlight} POSTs were open at once, waiting for the ${x.relay ? 'relay' : 'gateway'}'s answers`,
      );
  }
  const noisy = Object.entries(r.noise ?? {}).filter(([, n]) => n && n.others > NOISY_CORES);
  if (noisy.length)
    notes.push(
      `other processes used the machine during ${noisy.map(([p, n]) => `${p === 'before' ? 'the check before the run' : p} (${n?.others.toFixed(2)} cores)`).join(', ')}: those numbers are lower than on a quiet machine`,
    );
  for (const s of r.skipped ?? []) notes.push(s);
  /**
   * One sentence comparing a gateway target with the bare ceiling at every concurrency.
   * @param {string} id
   * @param {string} name
   */
  const versusBare = (id, name) => {
    const cells = r.settings.concurrency.filter((c) => eps(id, c) !== undefined && eps('bare', c));
    if (cells.length === 0) return '';
    const share = (/** @type {number} */ c) =>
      /** @type {number} */ (eps(id, c)) / /** @type {number} */ (eps('bare', c));
    const parts = cells.map(
      (c) =>
        `${Math.round(share(c) * 100)}% at c=${c} (${fmt.int(eps(id, c) ?? 0)} vs ${fmt.int(eps('bare', c) ?? 0)} events/s)`,
    );
    const slow = cells.some((c) => share(c) < 0.5);
    return `${name} is ${slow ? 'SLOWER THAN HALF' : 'at least half'} the bare ceiling: ${parts.join('; ')}.`;
  };
  const e2e = (r.e2e ?? [])
    .filter((x) => !x.relay)
    .map(
      (x) =>
        `${x.label}: ${fmt.int(x.eventsPerSec)} events/s, ${fmt.int(x.steadyPerSec ?? 0)}/s steady (send → status p50 ${fmt.msExact(x.latencyMs?.p50)} ms, p99 ${fmt.msExact(x.latencyMs?.p99)} ms, ${x.rest.per1000 ?? '—'} REST requests per 1,000 events)${x.problems.length ? ' FLAGGED' : ''}`,
    )
    .join('; ');
  const customers = (r.customers ?? [])
    .map(
      (x) =>
        `${x.label}: ${fmt.int(x.actionsPerSec)} customer actions/s (send → Bitrix24 p50 ${fmt.msExact(x.latencyMs?.p50)} ms, p99 ${fmt.msExact(x.latencyMs?.p99)} ms, ${x.rest.per1000 ?? '—'} REST requests per 1,000 actions)${x.problems.length ? ' FLAGGED' : ''}`,
    )
    .join('; ');
  const verdict =
    [
      versusBare('gateway', 'The gateway (`serve`)'),
      versusBare('gateway-intake', '`serve --role intake` (no worker)'),
      versusBare('intake-no-store', 'The intake with a store that keeps nothing (a bound, not a product mode)'),
      e2e ? `End to end, from the sandbox's send to the delivery status back at it: ${e2e}.` : '',
      customers ? `The customers' side, from the channel's send to the message at the sandbox: ${customers}.` : '',
    ]
      .filter(Boolean)
      .join(' ') || 'gateway or bare target not run: no verdict';
  return { ratios, flags, notes, verdict };
}

/**
 * The pull modes: a backlog the portal kept, taken by serve --pull; beside the webhook figures.
 * @param {Results} r
 */
export function pullTable(r) {
  if (!r.pulls?.length) return '';
  return table(
    [
      'run',
      'backlog',
      'per pull',
      'stored',
      'stored twice',
      '**events/s pulled**',
      '**events/s processed**',
      'pull requests',
      'REST per 1,000 events',
      'left in the portal',
      'check',
    ],
    r.pulls.map((x) => [
      x.id,
      fmt.int(x.load.events),
      fmt.int(x.load.limit),
      fmt.int(x.stored),
      fmt.int(x.twice),
      `**${fmt.int(x.pulledPerSec)}**`,
      `**${fmt.int(x.processedPerSec)}**`,
      fmt.int(x.rest.requests),
      String(x.rest.per1000 ?? '—'),
      fmt.int(x.leftInPortal),
      x.problems.length ? `**FLAGGED** ${x.problems.join('; ')}` : 'ok',
    ]),
  );
}

/** @param {Results} r */
function pullBlock(r) {
  const p = r.settings.pull;
  if (!r.pulls?.length || !p) return '';
  return `## The pull modes: a backlog kept by Bitrix24, taken by \`serve --pull\`

The sandbox keeps ${fmt.int(p.events)} events while the gateway is down: a Chatbots 2.0 bot's \`imbot.v2.Event.get\` queue (fetch mode,
${fmt.int(p.chats)} group chats), or the portal's offline queue (\`event.bind\` with \`event_type=offline\`, connector messages in
${fmt.int(p.chats)} chats). Then the gateway starts (\`serve --pull --pull-limit ${p.limit}\`) and takes them: each page committed with the
cursor's position, then confirmed (the next Event.get's \`offset\`; \`event.offline.clear\`).

- **events/s pulled** — events stored ÷ time from the gateway's start to the last one stored.
- **events/s processed** — events done ÷ time from the start to the last one done (the worker runs while the pulls go on).
- Fetch mode is paced as the docs ask: while events come, one Event.get of a bot every 2 s at most, so ${fmt.int(p.limit)} events every 2 s is its ceiling.

${pullTable(r)}

`;
}

/** @param {Results} r */
function customersBlock(r) {
  const c = r.settings.customers;
  if (!r.customers?.length || !c) return '';
  return `## The customers' side: channel → gateway → Bitrix24

The other direction. A channel (in the bench's process) posts what its customers do to the gateway's \`POST /channel/events\`,
each request signed with the channel's secret (Standard Webhooks) on a connection of its own: new messages in ${fmt.int(c.chats)} chats,
round-robin, and every ${c.editEvery}th an edit of a message Bitrix24 already has; ${fmt.int(c.rate)} actions/s offered, ${c.warmupSeconds} s
of warm-up (awaited, not counted), then ${c.seconds} s measured, at most ${c.maxInFlight} open at once. The gateway (\`serve --role all\`)
keeps each before it answers 200, then sends them to the sandbox with imconnector.send.messages / update.messages, a chat's in
order, many chats in one command and the commands of a round in one \`batch\`.

- **customer actions/s end to end** — actions seen at the sandbox (the message's id in a command it ran) ÷ time from the first send to the last seen.
- **send → Bitrix24** — per action, from the channel starting its POST to the sandbox running the command that carries it.
- **REST per 1,000 actions** — HTTP requests to the sandbox's REST API during the load and the wait (a \`batch\` is one) ÷ actions sent × 1,000.
- **seen twice** — new messages the sandbox got more than once (must be 0).

${customerTable(r)}

`;
}

/** @param {Results} r */
export function markdown(r) {
  const m = r.machine;
  const e = r.settings.e2e;
  const pg = m.postgres;
  const pgLine = pg
    ? `\n· PostgreSQL ${pg.version} at ${pg.url} (${Object.entries(pg.settings)
        .map(([k, v]) => `${k}=${v}`)
        .join(', ')}), a fresh database per target, dropped after it`
    : '';
  const soakBlock = r.soak
    ? `## Soak: RSS of \`serve\` (SQLite) through ${fmt.int(r.soak.load.seconds)} s at ${fmt.int(r.soak.load.rate)} events/s

The end-to-end load (the same sandbox, channel and options) held for longer; VmRSS read each second from the first measured
send to the end of the wait, plotted in \`soak.svg\`. Flat: the last third of the samples within ±${SOAK_FLAT_PCT}% of the first third.

${soakTable(r)}

`
    : '';
  const goals = goalsTable(r);
  const goalsBlock = goals
    ? `## Goals

Each goal judged from this run: *not run* when the run did not measure it, or measured it under other conditions than the
goal names (another offered rate, a shorter soak). A goal not met does not flag the run.

${goals}
`
    : '';
  const skippedBlock = r.skipped?.length ? `\n${r.skipped.map((s) => `- ${s}`).join('\n')}\n` : '';
  const pgTable = postgresTable(r);
  const e2eBlock = r.e2e?.length
    ? `## End to end: sandbox → gateway → channel → delivery status back at the sandbox

The sandbox (a fake Bitrix24, in the bench's process) installs the application on the gateway (ONAPPINSTALL,
confirmed by the gateway's app.info call, so it holds real OAuth tokens) and the application binds the connector's
events (one REST batch: imconnector.register, imconnector.activate, event.bind ×7). Then operators write new messages
(ONIMCONNECTORMESSAGEADD) in ${fmt.int(e.chats)} Open Lines chats, round-robin, and every ${e.updateEvery}th event is an edit
(ONIMCONNECTORMESSAGEUPDATE) of a message whose delivery was already confirmed: ${fmt.int(e.rate)} events/s offered, first for
${e.warmupSeconds} s as a warm-up (its statuses awaited, nothing of it counted), then for ${e.seconds} s measured,
each POSTed form-encoded as Bitrix24 does (the sandbox's encoder, fresh tokens, a new connection each, never re-sent),
at most ${e.maxInFlight} open at once. The gateway (\`serve --role all\`, channel and OAuth options pointed at the fake channel
and the sandbox, worker concurrency 8, the default) delivers each to a fake channel that answers 200 at once, then reports
it with imconnector.send.status.delivery, which the sandbox's recorder sees. With two instances the sandbox sends event *i*
to instance *i* mod 2 (as a round-robin load balancer would) and both run intake and worker on one PostgreSQL database.
The wait for statuses after the last send ends when all have come, after ${e.drainSeconds} s, or after ${e.stallSeconds} s without one.

- **end-to-end events/s** — statuses confirmed ÷ time from the first send to the last status. When the sandbox could not
  send at the offered rate (*achieved/s* below *offered*), the gateway was the limit and this is its capacity end to end.
- **steady confirmed/s** — statuses confirmed from ${STEADY_SKIP_SECONDS} s after the first send to the last send, ÷ that window. Statuses go
  out in batches, at most 2 REST requests a second per portal, so the last ones come about a second after the last send;
  over a ${e.seconds} s run that tail alone holds the figure above near ${fmt.int((e.rate * e.seconds) / (e.seconds + 1))}/s at ${fmt.int(e.rate)} offered. The steady window
  leaves out the pipeline filling and the tail: a gateway that keeps up confirms about the offered rate in it, one that
  falls behind confirms what it can. The goals are judged on this figure.
- **e2e-relay** — the same load against a minimal relay (\`node:http\`: read the form body, answer 200, POST it to the channel on a
  kept-alive connection; it stores, checks and reports nothing): an event is done when it answered. Its CPU per event is what
  the gateway's is compared with.
- **CPU per event** — user + system time of the gateway's process (every thread; both processes of a two-instance run) from
  the measured phase's first send to the end of the wait (/proc/<pid>/stat), ÷ events done. **PostgreSQL** beside it: the
  backends of the run's own database (found by name, read each second, so one that closes keeps what it had used).
- **send → status** — per event, from the sandbox starting its POST to the sandbox recording the delivery status of that
  message (each message has at most one event in flight, so statuses match events exactly). Includes queueing.
- **gateway answer** — the sandbox's POST time: connect, send, the gateway's 200.
- **REST per 1,000 events** — HTTP requests the gateway made to the sandbox's REST API during the load and the wait
  (a \`batch\` is one request; *commands* counts the calls inside), ÷ events sent × 1,000. Setup calls excluded.
- **missing** — acknowledged events whose status had not come when the wait ended. If the wait ended because the
  longest wait passed while statuses were still coming, that is a backlog (a note); if no status came for ${e.stallSeconds} s,
  or an event has neither a status nor anything left for it in the database after the stop (**lost**), it is flagged.
- **left in database** — events not finished and statuses not sent when the gateway stopped.

${e2eTable(r)}

${e2eLatencyTable(r)}

### CPU per event

${e2eCpuTable(r)}

### Memory of the gateway during the end-to-end run

${e2eMemoryTable(r)}

`
    : '';
  return `# b24-im-gateway benchmark (${r.mode})

${m.date} · ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GiB · Node ${m.node} · Linux ${m.kernel}
· SQLite files on ${m.dbFilesystem} · autocannon ${m.versions.autocannon}, express ${m.versions.express}, qs ${m.versions.qs}, better-sqlite3 ${m.versions['better-sqlite3']}${pgLine}
· run took ${r.runSeconds} s (\`npm run build\` not included) · load average at start ${m.loadavg1AtStart ?? '—'}

Each intake cell: ${r.settings.warmupSeconds} s warm-up, then ${r.settings.seconds} s measured, keep-alive connections = concurrency, one request in flight per connection.
Bodies: 5 seed events (form-encoded, 0.8–3.4 kB), round-robin, every request with its own \`ts\` and message id; ${r.settings.chats > 0 ? `chat ids spread over ${r.settings.chats} chats` : "each fixture's chat id kept, so all events fall in 5 chats (5 ordering keys)"}.
The load generator and every server run as separate processes on the same ${m.cores} cores.
${skippedBlock}
${goalsBlock}
## Intake

${intakeTable(r)}

${ratioTable(r)}
${pgTable ? `\n### PostgreSQL beside SQLite\n\nThe same cells. Two instances: two \`serve\` processes (both intake + worker) on one database; one autocannon with both URLs\nin its target list, so the connections are split evenly between them and the answers summed.\n\n${pgTable}\n` : ''}
**Verdict:** ${r.verdict}

## Nothing answered is lost

${integrityTable(r)}

## Memory of each server process during its intake run

${memoryTable(r)}

${e2eBlock}${soakBlock}${customersBlock(r)}${pullBlock(r)}${killBlock(r)}## Machine load during each phase

Other processes on the same cores (tests, builds) lower every number. *machine busy* is from /proc/stat; *bench* is this
process (load generator, sandbox), the servers it started and the PostgreSQL backends of its databases; *other* is the rest.

${noiseTable(r)}

## Decoding (µs per event, median of ${r.settings.decodeRounds} rounds of ${r.settings.decodeRoundMs} ms)

qs.parse runs with the options \`express.urlencoded({ extended: true })\` gives it (body-parser 2: depth 32, arrayLimit max(100, params), allowPrototypes, strictDepth).
Results compared as JSON (after a JSON round trip).

${decodeTable(r)}

## Notes

${r.notes?.length ? r.notes.map((f) => `- ${f}`).join('\n') : 'None.'}

## Flags

${r.flags.length ? r.flags.map((f) => `- ${f}`).join('\n') : 'None: every answer was 200, every answered event was stored, both decoders agreed, and end to end every event was delivered and confirmed.'}
`;
}
