// @ts-check
/** Turns one run's results into the Markdown report, the stdout tables and the verdict. */

/**
 * @typedef {import('./load.js').CellResult & { target: string, rssMbAfter: number | null }} IntakeCell
 * @typedef {{ id: string, short: string, label: string, durability: string, color: string }} TargetInfo
 * @typedef {object} Results
 * @property {'quick' | 'full'} mode
 * @property {{ concurrency: number[], seconds: number, warmupSeconds: number, decodeRounds: number, decodeRoundMs: number, chats: number }} settings
 * @property {ReturnType<typeof import('./machine.js').describeMachine>} machine
 * @property {TargetInfo[]} targets
 * @property {IntakeCell[]} intake
 * @property {{ concurrency: number, gatewayVsBare: number | null, gatewayVsNaiveFull: number | null, gatewayVsNaiveNormal: number | null, intakeOnlyVsBare: number | null }[]} ratios
 * @property {Record<string, import('./memory.js').MemoryResult>} memory
 * @property {Record<string, { answered: number, stored: number | null, unprocessed: number | null, lost: boolean }>} integrity
 * @property {import('./decode.js').DecodeRow[]} decode
 * @property {string[]} flags
 * @property {string} verdict
 */

export const fmt = {
  int: (/** @type {number} */ n) => Math.round(n).toLocaleString('en-US'),
  /** autocannon measures latency in whole milliseconds */
  ms: (/** @type {number} */ n) => (n < 1 ? '<1' : Math.round(n).toLocaleString('en-US')),
  us: (/** @type {number} */ n) => (n < 100 ? n.toFixed(1) : Math.round(n).toLocaleString('en-US')),
  ratio: (/** @type {number | null} */ r) => (r === null || !Number.isFinite(r) ? '—' : `${r.toFixed(2)}×`),
  pct: (/** @type {number | null} */ p) => (p === null ? '—' : `${p >= 0 ? '+' : ''}${p.toFixed(1)}%`),
};

/**
 * @param {string[]} head
 * @param {(string | number)[][]} rows
 * @param {string} [align] one of l/r per column
 */
export function table(head, rows, align = '') {
  const sep = head.map((_, i) => (align[i] === 'r' ? '---:' : '---'));
  return [head, sep, ...rows].map((r) => `| ${r.join(' | ')} |`).join('\n');
}

/** @param {IntakeCell} c */
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
    ['conc.', 'gateway ÷ bare (events/s)', 'gateway ÷ naive FULL', 'gateway ÷ naive NORMAL', 'gateway --role intake ÷ bare'],
    r.ratios.map((x) => [x.concurrency, fmt.ratio(x.gatewayVsBare), fmt.ratio(x.gatewayVsNaiveFull), fmt.ratio(x.gatewayVsNaiveNormal), fmt.ratio(x.intakeOnlyVsBare)]),
    'rrrrr',
  );
}

/** @param {Results} r */
export function decodeTable(r) {
  const rows = r.decode.map((d) => {
    const ours = d.usPerEvent.decodeForm ?? NaN;
    const theirs = d.usPerEvent['qs.parse'] ?? NaN;
    return [d.name, d.bytes, d.params, fmt.us(ours), fmt.us(theirs), fmt.ratio(theirs / ours), d.equal ? 'yes' : `**NO**: ${d.differences.join('; ')}`];
  });
  const mean = (/** @type {string} */ id) => r.decode.reduce((a, d) => a + (d.usPerEvent[id] ?? 0), 0) / Math.max(1, r.decode.length);
  rows.push(['**mean**', '', '', fmt.us(mean('decodeForm')), fmt.us(mean('qs.parse')), fmt.ratio(mean('qs.parse') / mean('decodeForm')), '']);
  return table(['body', 'bytes', 'params', 'decodeForm µs/event', 'qs.parse µs/event', 'qs ÷ decodeForm', 'same result'], rows, 'lrrrrrl');
}

/** @param {Results} r */
export function memoryTable(r) {
  const rows = r.targets
    .filter((t) => r.memory[t.id])
    .map((t) => {
      const m = /** @type {import('./memory.js').MemoryResult} */ (r.memory[t.id]);
      const perCell = r.intake.filter((c) => c.target === t.id).map((c) => `c=${c.concurrency}: ${c.rssMbAfter ?? '—'}`);
      const flat = m.growthPct === null ? '—' : Math.abs(m.growthPct) <= 10 ? 'flat' : m.growthPct > 0 ? 'grows' : 'shrinks';
      return [t.id === 'gateway' ? `**${t.id}**` : t.id, m.peakMb ?? '—', m.firstThirdMb ?? '—', m.lastThirdMb ?? '—', `${fmt.pct(m.growthPct)} (${flat})`, perCell.join(', '), m.rssMb.length];
    });
  return table(['target', 'peak RSS MB (VmHWM)', 'RSS MB, first third', 'RSS MB, last third', 'change', 'RSS MB after each cell', 'samples'], rows, 'lrrrllr');
}

/** @param {Results} r */
export function integrityTable(r) {
  return table(
    ['target', '200 answers (warm-up included)', 'rows in its SQLite table', 'not yet processed at stop', 'check'],
    Object.entries(r.integrity).map(([id, x]) => [
      id,
      fmt.int(x.answered),
      x.stored === null ? '—' : fmt.int(x.stored),
      x.unprocessed === null ? '—' : fmt.int(x.unprocessed),
      x.stored === null ? 'stores nothing' : x.lost ? '**FLAGGED: fewer rows than 200 answers**' : 'ok (≥ answers; extra rows are requests cut off at the end of a run)',
    ]),
    'lrrrl',
  );
}

/**
 * Ratios per concurrency, the problems found, and the one-line verdict.
 * @param {Omit<Results, 'ratios' | 'flags' | 'verdict'>} r
 * @returns {Pick<Results, 'ratios' | 'flags' | 'verdict'>}
 */
export function summarize(r) {
  const eps = (/** @type {string} */ id, /** @type {number} */ c) => r.intake.find((x) => x.target === id && x.concurrency === c)?.eventsPerSec;
  const div = (/** @type {number | undefined} */ a, /** @type {number | undefined} */ b) => (a !== undefined && b ? a / b : null);
  const ratios = r.settings.concurrency.map((c) => ({
    concurrency: c,
    gatewayVsBare: div(eps('gateway', c), eps('bare', c)),
    gatewayVsNaiveFull: div(eps('gateway', c), eps('naive-full', c)),
    gatewayVsNaiveNormal: div(eps('gateway', c), eps('naive-normal', c)),
    intakeOnlyVsBare: div(eps('gateway-intake', c), eps('bare', c)),
  }));
  const flags = [];
  for (const c of r.intake) if (cellProblems(c) > 0) flags.push(`${c.target} c=${c.concurrency}: ${statusNote(c).replace('**FLAGGED** ', '')}`);
  for (const [id, x] of Object.entries(r.integrity)) if (x.lost) flags.push(`${id}: ${x.stored} rows stored for ${x.answered} answers of 200`);
  for (const d of r.decode) if (!d.equal) flags.push(`decode ${d.name}: decodeForm and qs.parse differ`);
  /**
   * One sentence comparing a gateway target with the bare ceiling at every concurrency.
   * @param {string} id
   * @param {string} name
   */
  const versusBare = (id, name) => {
    const cells = r.settings.concurrency.filter((c) => eps(id, c) !== undefined && eps('bare', c));
    if (cells.length === 0) return '';
    const share = (/** @type {number} */ c) => /** @type {number} */ (eps(id, c)) / /** @type {number} */ (eps('bare', c));
    const parts = cells.map((c) => `${Math.round(share(c) * 100)}% at c=${c} (${fmt.int(eps(id, c) ?? 0)} vs ${fmt.int(eps('bare', c) ?? 0)} events/s)`);
    const slow = cells.some((c) => share(c) < 0.5);
    return `${name} is ${slow ? 'SLOWER THAN HALF' : 'at least half'} the bare ceiling: ${parts.join('; ')}.`;
  };
  const verdict =
    [versusBare('gateway', 'The gateway (`serve`)'), versusBare('gateway-intake', '`serve --role intake` (no worker)')].filter(Boolean).join(' ') ||
    'gateway or bare target not run: no verdict';
  return { ratios, flags, verdict };
}

/** @param {Results} r */
export function markdown(r) {
  const m = r.machine;
  return `# b24-im-gateway benchmark (${r.mode})

${m.date} · ${m.cpu}, ${m.cores} cores, ${m.memoryGb} GiB · Node ${m.node} · Linux ${m.kernel}
· SQLite files on ${m.dbFilesystem} · autocannon ${m.versions.autocannon}, express ${m.versions.express}, qs ${m.versions.qs}, better-sqlite3 ${m.versions['better-sqlite3']}

Each cell: ${r.settings.warmupSeconds} s warm-up, then ${r.settings.seconds} s measured, keep-alive connections = concurrency, one request in flight per connection.
Bodies: 5 seed events (form-encoded, 0.8–3.4 kB), round-robin, every request with its own \`ts\` and message id; ${r.settings.chats > 0 ? `chat ids spread over ${r.settings.chats} chats` : "each fixture's chat id kept, so all events fall in 5 chats (5 ordering keys)"}.
The load generator and every server run as separate processes on the same ${m.cores} cores.

## Intake

${intakeTable(r)}

${ratioTable(r)}

**Verdict:** ${r.verdict}

## Nothing answered is lost

${integrityTable(r)}

## Memory of each server process during its intake run

${memoryTable(r)}

## Decoding (µs per event, median of ${r.settings.decodeRounds} rounds of ${r.settings.decodeRoundMs} ms)

qs.parse runs with the options \`express.urlencoded({ extended: true })\` gives it (body-parser 2: depth 32, arrayLimit max(100, params), allowPrototypes, strictDepth).
Results compared as JSON (after a JSON round trip).

${decodeTable(r)}

## Flags

${r.flags.length ? r.flags.map((f) => `- ${f}`).join('\n') : 'None: every answer was 200, every answered event was stored, both decoders agreed.'}
`;
}
