// @ts-check
/**
 * `npm run bench` (quick, about 3 minutes) and `npm run bench -- --full`.
 * Decoding first (no server running), then each intake target as its own process under
 * autocannon (SQLite and PostgreSQL), then the end-to-end runs (sandbox → gateway → channel →
 * delivery status back at the sandbox) on SQLite and PostgreSQL.
 * Writes bench/results/latest.{json,md,svg} and a dated copy of each. Options: see `usage`.
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { performance } from 'node:perf_hooks';
import { setTimeout as sleep } from 'node:timers/promises';
import { parseArgs } from 'node:util';
import { findMemoryCgroup, removeAllGroups } from './cgroup.js';
import { chartSvg, soakSvg } from './chart.js';
import { benchDecode } from './decode.js';
import { CONSOLE_GOAL_MS, consoleTable, runConsoleBench } from './console.js';
import { customerSetups, runCustomers } from './customers.js';
import { pullSetups, runPull } from './pull.js';
import { endToEndSetups, runEndToEnd, soakSetup } from './e2e.js';
import { judgeGoals } from './goals.js';
import { killSetups, runKillRecover } from './kill.js';
import { bodySource, loadFixtures, portalTokens, runCell } from './load.js';
import { describeMachine } from './machine.js';
import { mb, procStatusKb } from './memory.js';
import { machineLoadNow, startNoiseMeter } from './noise.js';
import { dropAllDatabases, pgAdminUrl, pgSettings, pgUnreachable, pgVersion } from './pg.js';
import {
  cellProblems,
  customerTable,
  e2eCpuTable,
  goalsTable,
  soakTable,
  decodeTable,
  killTable,
  e2eLatencyTable,
  e2eMemoryTable,
  e2eTable,
  fmt,
  integrityTable,
  intakeTable,
  markdown,
  memoryTable,
  noiseTable,
  pullTable,
  postgresTable,
  ratioTable,
  summarize,
} from './report.js';
import { instancesOf, startTarget, targets } from './targets.js';
import process from 'node:process';
import { URL } from 'node:url';

const usage = `Usage: npm run bench [-- options]

Intake throughput and latency (bare node:http, naive Express, the gateway), decoding, end to end
and memory, in one run. Writes bench/results/latest.{json,md,svg} and a dated copy of each.

Options:
  --full              longer cells, more concurrency levels (1, 10, 100, 256), 45 s end to end, a 600 s soak,
                      the servers in 256 MB memory cgroups
  --only <ids>        run only these targets and end-to-end runs, comma-separated
  --seconds <n>       measured seconds per intake cell (quick 5, full 20)
  --chats <n>         spread intake events over n chats (default: the fixtures' own 5)
  --e2e-rate <n>      events per second the sandbox offers end to end (1000; e2e-sqlite-500 stays at 500)
  --e2e-seconds <n>   seconds of end-to-end load (quick 10, full 45)
  --e2e-chats <n>     chats the end-to-end load spreads over (200)
  --soak <n>          a soak of n seconds: one SQLite gateway under the end-to-end load, RSS each second
                      (quick: none; full: 600)
  --soak-rate <n>     events per second offered in the soak (500)
  --memory-limit <n>  run each server of the intake cells, and each gateway end to end and in the soak, in a
                      memory cgroup of n MB, as in a container of that size (quick: none; full: 256;
                      needs root and cgroup v1 or v2)
  --customer-rate <n> customer actions per second the channel offers (300)
  --console-rows <n>  events stored for the console's list (1000000)
  --pull-events <n>   the backlog each pull-mode run takes (quick 3,000, full 20,000)
  --kill-rate <n>     messages per second offered in the kill-and-recover runs (300)
  -h, --help          this text
`;
const parse = () =>
  parseArgs({
    options: {
      help: { type: 'boolean', short: 'h', default: false },
      full: { type: 'boolean', default: false },
      only: { type: 'string' },
      seconds: { type: 'string' },
      chats: { type: 'string', default: '0' },
      'e2e-rate': { type: 'string' },
      'e2e-seconds': { type: 'string' },
      'e2e-chats': { type: 'string' },
      'customer-rate': { type: 'string' },
      'console-rows': { type: 'string', default: '1000000' },
      'pull-events': { type: 'string' },
      'kill-rate': { type: 'string' },
      soak: { type: 'string' },
      'soak-rate': { type: 'string', default: '500' },
      'memory-limit': { type: 'string' },
    },
  }).values;
/** @type {ReturnType<typeof parse>} */
let values;
try {
  values = parse();
} catch (e) {
  process.stderr.write(`B24GW_BAD_CONFIG: ${/** @type {Error} */ (e).message}\n\n${usage}`);
  process.exit(2);
}
if (values.help) {
  process.stdout.write(usage);
  process.exit(0);
}
const mode = /** @type {'quick' | 'full'} */ (values.full ? 'full' : 'quick');
const settings = values.full
  ? { concurrency: [1, 10, 100, 256], seconds: 20, warmupSeconds: 3, decodeRounds: 15, decodeRoundMs: 150 }
  : { concurrency: [10, 100], seconds: 5, warmupSeconds: 1.5, decodeRounds: 7, decodeRoundMs: 80 };
if (values.seconds) settings.seconds = Number(values.seconds);
/** @type {import('./e2e.js').EndToEndLoad} */
const e2eLoad = values.full
  ? {
      rate: 1000,
      warmupSeconds: 3,
      seconds: 45,
      chats: 200,
      updateEvery: 4,
      maxInFlight: 256,
      drainSeconds: 240,
      stallSeconds: 30,
    }
  : {
      rate: 1000,
      warmupSeconds: 1,
      seconds: 10,
      chats: 200,
      updateEvery: 4,
      maxInFlight: 256,
      drainSeconds: 60,
      stallSeconds: 20,
    };
if (values['e2e-rate']) e2eLoad.rate = Number(values['e2e-rate']);
if (values['e2e-seconds']) e2eLoad.seconds = Number(values['e2e-seconds']);
if (values['e2e-chats']) e2eLoad.chats = Number(values['e2e-chats']);
/** @type {import('./customers.js').CustomerLoad} */
const customerLoad = {
  rate: 300,
  warmupSeconds: e2eLoad.warmupSeconds,
  seconds: e2eLoad.seconds,
  chats: 200,
  editEvery: 4,
  maxInFlight: 256,
  drainSeconds: 60,
};
if (values['customer-rate']) customerLoad.rate = Number(values['customer-rate']);
/** @type {import('./kill.js').KillLoad} */
const killLoad = { rate: 300, seconds: 12, killAt: 5, restartAt: 7, chats: 100, waitSeconds: 60 };
if (values['kill-rate']) killLoad.rate = Number(values['kill-rate']);
/** @type {import('./pull.js').PullLoad} */
const pullLoad = {
  events: values.full ? 20_000 : 3_000,
  limit: 1_000,
  chats: 50,
  waitSeconds: values.full ? 300 : 120,
};
if (values['pull-events']) pullLoad.events = Number(values['pull-events']);
const chats = Number(values.chats);
const only = values.only?.split(',').map((s) => s.trim());
/** The console's events list at a million stored events, on each database. */
const consoleSetups = /** @type {const} */ ([
  { id: 'console-sqlite', db: 'sqlite' },
  { id: 'console-pg', db: 'postgres' },
]);
const consoleRows = Number(values['console-rows']);
const allIds = [
  ...targets.map((t) => t.id),
  ...endToEndSetups.map((s) => s.id),
  ...customerSetups.map((s) => s.id),
  ...consoleSetups.map((s) => s.id),
  ...pullSetups.map((s) => s.id),
  ...killSetups.map((s) => s.id),
  soakSetup.id,
];
if (only && !only.every((id) => allIds.includes(id))) {
  process.stderr.write(`B24GW_BAD_CONFIG: --only takes ${allIds.join(',')}; got ${values.only}\n`);
  process.exit(2);
}
const chosen = only ? targets.filter((t) => only.includes(t.id)) : targets;
const chosenE2e = only ? endToEndSetups.filter((s) => only.includes(s.id)) : endToEndSetups;
const chosenCustomers = only ? customerSetups.filter((s) => only.includes(s.id)) : customerSetups;
const chosenConsole = only ? consoleSetups.filter((s) => only.includes(s.id)) : consoleSetups;
const chosenPulls = only ? pullSetups.filter((s) => only.includes(s.id)) : pullSetups;
const chosenKills = only ? killSetups.filter((s) => only.includes(s.id)) : killSetups;
// The soak: --soak N; else 600 s with --full or `--only …,e2e-soak`; else none.
const soakSeconds = values.soak ? Number(values.soak) : (only ? only.includes(soakSetup.id) : values.full) ? 600 : 0;
/** @type {import('./e2e.js').EndToEndLoad} */
const soakLoad = {
  ...e2eLoad,
  rate: Number(values['soak-rate']),
  seconds: soakSeconds,
  drainSeconds: 60,
  stallSeconds: 20,
};

/** @type {import('./report.js').MemoryLimitSetting | null} */
let memoryLimitSetting = null;
/** @type {import('./e2e.js').MemoryLimit | null} */
let memoryLimit = null;
const memoryLimitMb = values['memory-limit'] ? Number(values['memory-limit']) : values.full ? 256 : 0;
if (!Number.isFinite(memoryLimitMb) || memoryLimitMb < 0) {
  process.stderr.write(`B24GW_BAD_CONFIG: --memory-limit takes megabytes; got ${values['memory-limit']}\n`);
  process.exit(2);
}
if (memoryLimitMb > 0) {
  const found = findMemoryCgroup();
  if ('reason' in found) memoryLimitSetting = { mb: memoryLimitMb, cgroup: null, unavailable: found.reason };
  else {
    memoryLimit = { mb: memoryLimitMb, root: found };
    memoryLimitSetting = { mb: memoryLimitMb, cgroup: `v${found.version} under ${found.parent}`, unavailable: null };
  }
}

const root = new URL('..', import.meta.url).pathname;
if (!existsSync(join(root, 'dist/cli/main.js')))
  throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');

const runStarted = performance.now();
const fixtures = loadFixtures();
const tokens = [...portalTokens(fixtures)].map(([member, token]) => `${member}=${token}`);
const dir = mkdtempSync(join(tmpdir(), 'b24gw-bench-'));
const machine = describeMachine(dir);
const log = (/** @type {string} */ line) => process.stdout.write(`${line}\n`);
/** One end-to-end run's line, its notes, and the gateway's last lines when it was flagged. */
const logEndToEnd = (/** @type {string} */ head, /** @type {import('./e2e.js').EndToEndResult} */ r) => {
  const cpu =
    r.cpuUsPerEvent === null
      ? ''
      : `  CPU ${fmt.int(r.cpuUsPerEvent)} µs/event${r.pgCpu ? ` (+ PostgreSQL ${fmt.int(r.pgCpu.usPerEvent ?? 0)})` : ''}`;
  const latency = r.relay
    ? ''
    : `  send→status p50 ${fmt.ms(r.latencyMs?.p50 ?? 0)} ms p99 ${fmt.ms(r.latencyMs?.p99 ?? 0)} ms  REST ${r.rest.per1000 ?? '—'}/1,000 events`;
  log(
    `${head} ${fmt.int(r.eventsPerSec).padStart(5)} events/s end to end (${fmt.int(r.steadyPerSec ?? 0)}/s steady)  sent ${r.sent} (${r.sendRate}/s), 2xx ${r.acknowledged}, channel ${r.channel?.unique ?? '?'}, ${r.relay ? 'done' : 'statuses'} ${r.confirmed}${latency}${cpu}  ${r.problems.length ? `FLAGGED: ${r.problems.join('; ')}` : 'ok'}`,
  );
  for (const [name, m] of Object.entries(r.memoryLimit ?? {}))
    log(
      `${' '.repeat(head.length)} ${name} in ${m.limitMb} MB: peak RSS ${r.memory[name]?.peakMb ?? '—'} MB, cgroup peak ${m.peakMb ?? '—'} MB, failcnt ${m.failcnt ?? '—'}, OOM kills ${m.oomKills ?? '—'}${m.ended ? `, ended during the run (${m.ended})` : ''}`,
    );
  for (const n of r.notes) log(`${' '.repeat(head.length)} note: ${n}`);
  if (r.problems.length && r.output)
    log(`  ${r.id} gateway printed (last lines):\n${r.output.split('\n').slice(-6).join('\n')}`);
};

/** @type {(() => void)[]} */
const killers = [];
let aborting = false;
const abort = () => {
  if (aborting) return;
  aborting = true;
  for (const k of killers) k();
  void dropAllDatabases().finally(() => {
    removeAllGroups();
    rmSync(dir, { recursive: true, force: true });
    process.exit(130);
  });
};
process.on('SIGINT', abort);
process.on('SIGTERM', abort);

const pgNeeded =
  chosen.some((t) => t.db === 'postgres') ||
  chosenE2e.some((s) => s.db === 'postgres') ||
  chosenCustomers.some((s) => s.db === 'postgres') ||
  chosenConsole.some((s) => s.db === 'postgres') ||
  chosenPulls.some((s) => s.db === 'postgres') ||
  chosenKills.length > 0;
const pgDown = pgNeeded ? await pgUnreachable() : null;
const redactedPgUrl = (() => {
  const u = new URL(pgAdminUrl);
  if (u.password) u.password = '***';
  return u.toString();
})();
const postgres =
  pgNeeded && !pgDown ? { url: redactedPgUrl, version: await pgVersion(), settings: await pgSettings() } : null;
/** @type {string[]} */
const skipped = [];
const intakeTargets = chosen.filter((t) => {
  if (t.db !== 'postgres' || !pgDown) return true;
  skipped.push(
    `${t.id}: SKIPPED, PostgreSQL is not reachable at ${redactedPgUrl} (${pgDown}); set B24GW_TEST_PG to a server to run it`,
  );
  return false;
});
const e2eSetups = chosenE2e.filter((s) => {
  if (s.db !== 'postgres' || !pgDown) return true;
  skipped.push(
    `${s.id}: SKIPPED, PostgreSQL is not reachable at ${redactedPgUrl} (${pgDown}); set B24GW_TEST_PG to a server to run it`,
  );
  return false;
});

const customerRuns = chosenCustomers.filter((s) => {
  if (s.db !== 'postgres' || !pgDown) return true;
  skipped.push(
    `${s.id}: SKIPPED, PostgreSQL is not reachable at ${redactedPgUrl} (${pgDown}); set B24GW_TEST_PG to a server to run it`,
  );
  return false;
});
const consoleRuns = chosenConsole.filter((s) => {
  if (s.db !== 'postgres' || !pgDown) return true;
  skipped.push(
    `${s.id}: SKIPPED, PostgreSQL is not reachable at ${redactedPgUrl} (${pgDown}); set B24GW_TEST_PG to a server to run it`,
  );
  return false;
});
const pullRuns = chosenPulls.filter((s) => {
  if (s.db !== 'postgres' || !pgDown) return true;
  skipped.push(
    `${s.id}: SKIPPED, PostgreSQL is not reachable at ${redactedPgUrl} (${pgDown}); set B24GW_TEST_PG to a server to run it`,
  );
  return false;
});
const killRuns = chosenKills.filter((s) => {
  if (!pgDown) return true;
  skipped.push(
    `${s.id}: SKIPPED, PostgreSQL is not reachable at ${redactedPgUrl} (${pgDown}); set B24GW_TEST_PG to a server to run it`,
  );
  return false;
});
const cellCount = intakeTargets.length * settings.concurrency.length;
const e2eEstimate = e2eSetups.reduce(
  (a, s) => a + (e2eLoad.warmupSeconds + e2eLoad.seconds) * (s.db === 'postgres' ? 2.2 : 1.2) + 3,
  0,
);
const customerEstimate = customerRuns.length * (customerLoad.warmupSeconds + customerLoad.seconds + 4);
const estimate = Math.round(
  cellCount * (settings.warmupSeconds + settings.seconds + 0.5) +
    intakeTargets.length +
    (settings.decodeRounds * settings.decodeRoundMs * 10) / 1000 +
    e2eEstimate +
    customerEstimate +
    consoleRuns.length * Math.ceil(consoleRows / 25_000) +
    killRuns.length * (killLoad.seconds + 15) +
    (soakSeconds ? soakSeconds + 10 : 0),
);
log(
  `b24-im-gateway bench (${mode}): ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; SQLite files in ${dir} on ${machine.dbFilesystem}`,
);
if (postgres) log(`PostgreSQL ${postgres.version} at ${postgres.url} (a fresh database per target, dropped after it)`);
log(
  `${cellCount} intake cells × (${settings.warmupSeconds} s warm-up + ${settings.seconds} s), decoding, ${e2eSetups.length} end-to-end runs (${e2eLoad.rate} events/s offered for ${e2eLoad.seconds} s each, then the wait for statuses), ${soakSeconds ? `a ${soakSeconds} s soak at ${soakLoad.rate} events/s, ` : ''}${customerRuns.length} customer-side runs (${customerLoad.rate} actions/s for ${customerLoad.seconds} s): about ${estimate} s`,
);
for (const s of skipped) log(`  ${s}`);
if (memoryLimitSetting?.unavailable)
  log(
    `  --memory-limit ${memoryLimitSetting.mb}: NOT applied, ${memoryLimitSetting.unavailable}; the gateways run unlimited`,
  );
else if (memoryLimitSetting)
  log(
    `  each server of the intake cells, each gateway end to end and in the soak in a memory cgroup of ${memoryLimitSetting.mb} MB (cgroup ${memoryLimitSetting.cgroup}), as in a container of that size`,
  );

// Is anything else busy on this machine? Other people's tests make every number here lower.
const quiet = startNoiseMeter(() => []);
await sleep(1000);
const before = quiet.stop();
const load = machineLoadNow();
if (before)
  log(
    `machine before the run: ${before.others.toFixed(2)} of ${before.cores} cores busy with other processes, load average ${load.loadavg1 ?? '?'}`,
  );
if (before && before.others > 0.3)
  log(
    '  WARNING: the machine is not quiet; numbers will be lower than on an idle machine (see "Machine load" in the report)',
  );
log('');

try {
  log('decoding: decodeForm vs qs.parse');
  const decode = benchDecode(fixtures, {
    rounds: settings.decodeRounds,
    roundMs: settings.decodeRoundMs,
    warmupCalls: 2000,
  });
  for (const d of decode) {
    log(
      `  ${d.name.padEnd(28)} decodeForm ${fmt.us(d.usPerEvent.decodeForm ?? NaN).padStart(6)} µs   qs.parse ${fmt.us(d.usPerEvent['qs.parse'] ?? NaN).padStart(6)} µs   ${d.equal ? 'same result' : `DIFFERENT: ${d.differences.join('; ')}`}`,
    );
  }

  if (intakeTargets.length) log('\nintake');
  const nextBody = bodySource(fixtures, chats);
  /** @type {import('./report.js').IntakeCell[]} */
  const intake = [];
  /** @type {import('./report.js').Results['memory']} */
  const memory = {};
  /** @type {import('./report.js').Results['integrity']} */
  const integrity = {};
  /** @type {import('./report.js').Results['noise']} */
  const noise = { before };
  let done = 0;
  for (const target of intakeTargets) {
    const server = await startTarget(target, { dir, tokens, memoryLimit });
    killers.push(() => server.kill());
    const meter = startNoiseMeter(
      () => server.pids,
      () => server.databases,
    );
    let answered = 0;
    try {
      for (const concurrency of settings.concurrency) {
        const head = `  [${String(++done).padStart(String(cellCount).length)}/${cellCount}] ${target.id.padEnd(14)} c=${String(concurrency).padEnd(3)}`;
        if (process.stdout.isTTY)
          process.stdout.write(`${head} running ${settings.warmupSeconds} + ${settings.seconds} s…`);
        const cell = await runCell({
          urls: server.urls,
          concurrency,
          seconds: settings.seconds,
          warmupSeconds: settings.warmupSeconds,
          nextBody,
        });
        const rss = server.pids.map((pid) => procStatusKb(pid, 'VmRSS'));
        const mbOf = (/** @type {number | null} */ kb) => (kb === null ? null : mb(kb));
        const total = rss.every((x) => x !== null) ? mbOf(rss.reduce((a, b) => (a ?? 0) + (b ?? 0), 0)) : null;
        intake.push({
          target: target.id,
          instances: instancesOf(target),
          ...cell,
          rssMbAfter: total,
          rssMbAfterEach: rss.map(mbOf),
        });
        answered += cell.ok + cell.warmupOk;
        const bad = cellProblems(cell);
        process.stdout.write(
          `${process.stdout.isTTY ? '\r\x1b[K' : ''}${head} ${fmt.int(cell.eventsPerSec).padStart(7)} events/s  p50 ${fmt.ms(cell.p50).padStart(6)} ms  p99 ${fmt.ms(cell.p99).padStart(6)} ms  max ${fmt.ms(cell.max).padStart(6)} ms  ${bad ? `FLAGGED: ${cell.non2xx} non-2xx ${JSON.stringify(cell.statusCodes)}, ${cell.errors} errors, ${cell.timeouts} timeouts, ${cell.warmupBad} bad in warm-up` : 'all 200'}\n`,
        );
      }
    } finally {
      noise[target.id] = meter.stop();
      const said = server.output();
      const stopped = await server.stop();
      Object.assign(memory, stopped.memory);
      const stored = stopped.stored?.rows ?? null;
      integrity[target.id] = {
        answered,
        stored,
        unprocessed: stopped.stored?.unprocessed ?? null,
        lost: stored !== null && stored < answered,
      };
      if (said) log(`  ${target.id} printed (last lines):\n${said.split('\n').slice(-5).join('\n')}`);
    }
  }

  /** @type {import('./e2e.js').EndToEndResult[]} */
  const e2e = [];
  if (e2eSetups.length) {
    log(`\nend to end: sandbox (Bitrix24) → gateway → channel → imconnector.send.status.delivery back at the sandbox`);
    log(
      `  ${e2eLoad.rate} events/s offered for ${e2eLoad.warmupSeconds} s (warm-up, not counted) then ${e2eLoad.seconds} s over ${e2eLoad.chats} chats, every ${e2eLoad.updateEvery}th an edit of a delivered message; at most ${e2eLoad.maxInFlight} POSTs open${
        e2eSetups.some((s) => s.rate)
          ? ` (${e2eSetups
              .filter((s) => s.rate)
              .map((s) => `${s.id} at ${s.rate}/s`)
              .join(', ')})`
          : ''
      }`,
    );
  }
  /** @type {{ id: string, error: string }[]} */
  const e2eErrors = [];
  for (const [i, setup] of e2eSetups.entries()) {
    const head = `  [${i + 1}/${e2eSetups.length}] ${setup.id.padEnd(14)}`;
    let r;
    try {
      r = await runEndToEnd(setup, setup.rate ? { ...e2eLoad, rate: setup.rate } : e2eLoad, {
        dir,
        progress: (line) => log(`${head} … ${line}`),
        onKill: (k) => killers.push(k),
        memoryLimit,
      });
    } catch (e) {
      const error = /** @type {Error} */ (e).message || String(e);
      e2eErrors.push({ id: setup.id, error });
      log(`${head} FLAGGED: could not run: ${error.slice(0, 2000)}`);
      continue;
    }
    e2e.push(r);
    noise[setup.id] = r.noise;
    logEndToEnd(head, r);
  }

  /** @type {import('./e2e.js').EndToEndResult | null} */
  let soak = null;
  if (soakSeconds > 0) {
    const head = `  ${soakSetup.id.padEnd(14)}`;
    log(`\nsoak: ${soakLoad.rate} events/s for ${soakSeconds} s on one SQLite gateway, its RSS each second`);
    try {
      soak = await runEndToEnd(soakSetup, soakLoad, {
        dir,
        progress: (line) => log(`${head} … ${line}`),
        onKill: (k) => killers.push(k),
        memoryLimit,
      });
      noise[soakSetup.id] = soak.noise;
      logEndToEnd(head, soak);
      const m = Object.values(soak.memory)[0];
      if (m)
        log(
          `${head} RSS peak ${m.peakMb} MB, first third ${m.firstThirdMb} MB → last third ${m.lastThirdMb} MB (${fmt.pct(m.growthPct)})`,
        );
    } catch (e) {
      const error = /** @type {Error} */ (e).message || String(e);
      e2eErrors.push({ id: soakSetup.id, error });
      log(`${head} FLAGGED: could not run: ${error.slice(0, 2000)}`);
    }
  }

  /** @type {import('./customers.js').CustomerResult[]} */
  const customers = [];
  if (customerRuns.length) {
    log(
      `\nthe customers' side: channel → POST /channel/events → gateway → imconnector.send.messages / update.messages at the sandbox`,
    );
    log(
      `  ${customerLoad.rate} customer actions/s offered for ${customerLoad.warmupSeconds} s (warm-up) then ${customerLoad.seconds} s over ${customerLoad.chats} chats, every ${customerLoad.editEvery}th an edit`,
    );
  }
  for (const [i, setup] of customerRuns.entries()) {
    const head = `  [${i + 1}/${customerRuns.length}] ${setup.id.padEnd(16)}`;
    try {
      const r = await runCustomers(setup, customerLoad, {
        dir,
        progress: (line) => log(`${head} … ${line}`),
        onKill: (k) => killers.push(k),
      });
      customers.push(r);
      log(
        `${head} ${fmt.int(r.actionsPerSec).padStart(5)} customer actions/s end to end  sent ${r.sent} (${r.sendRate}/s), 200 ${r.acknowledged}, in Bitrix24 ${r.seen}  send→Bitrix24 p50 ${fmt.ms(r.latencyMs?.p50 ?? 0)} ms p99 ${fmt.ms(r.latencyMs?.p99 ?? 0)} ms  REST ${r.rest.per1000 ?? '—'}/1,000 actions  ${r.problems.length ? `FLAGGED: ${r.problems.join('; ')}` : 'ok'}`,
      );
      for (const n of r.notes) log(`${' '.repeat(head.length)} note: ${n}`);
    } catch (e) {
      const error = /** @type {Error} */ (e).message || String(e);
      e2eErrors.push({ id: setup.id, error });
      log(`${head} FLAGGED: could not run: ${error.slice(0, 2000)}`);
    }
  }

  /** @type {import('./console.js').ConsoleBenchResult[]} */
  const consoleResults = [];
  if (consoleRuns.length)
    log(
      `\nthe console's events list at ${fmt.int(consoleRows)} stored events (bulk SQL fill, then GET /api/events over HTTP; goal under ${CONSOLE_GOAL_MS} ms)`,
    );
  for (const [i, setup] of consoleRuns.entries()) {
    const head = `  [${i + 1}/${consoleRuns.length}] ${setup.id.padEnd(15)}`;
    try {
      const r = await runConsoleBench(setup.db, {
        dir,
        rows: consoleRows,
        rounds: values.full ? 25 : 9,
        progress: (line) => process.stdout.isTTY && process.stdout.write(`\r\x1b[K${head} ${line}`),
      });
      consoleResults.push(r);
      const slowest = r.lists.reduce((a, b) => (b.p50 > a.p50 ? b : a));
      if (process.stdout.isTTY) process.stdout.write('\r\x1b[K');
      log(
        `${head} filled in ${r.fillSeconds} s; lists p50 ${Math.min(...r.lists.map((l) => l.p50))}–${slowest.p50} ms (slowest: ${slowest.name}), overview ${r.overviewMs} ms  ${slowest.p50 > CONSOLE_GOAL_MS ? `FLAGGED: over ${CONSOLE_GOAL_MS} ms` : 'ok'}`,
      );
    } catch (e) {
      const error = /** @type {Error} */ (e).message || String(e);
      e2eErrors.push({ id: setup.id, error });
      log(`${head} FLAGGED: could not run: ${error.slice(0, 2000)}`);
    }
  }

  /** @type {import('./pull.js').PullResult[]} */
  const pulls = [];
  if (pullRuns.length)
    log(
      `\nthe pull modes: a backlog of ${pullLoad.events} events kept by the sandbox (a fetch-mode bot's queue, the offline queue), taken by serve --pull --pull-limit ${pullLoad.limit}`,
    );
  for (const [i, setup] of pullRuns.entries()) {
    const head = `  [${i + 1}/${pullRuns.length}] ${setup.id.padEnd(19)}`;
    try {
      const r = await runPull(setup, pullLoad, {
        dir,
        progress: (line) => log(`${head} … ${line}`),
        onKill: (k) => killers.push(k),
      });
      pulls.push(r);
      log(
        `${head} ${fmt.int(r.pulledPerSec).padStart(5)} events/s pulled, ${fmt.int(r.processedPerSec)} events/s processed  stored ${r.stored}, done ${r.done}, twice ${r.twice}, left in the portal ${r.leftInPortal}  REST ${r.rest.per1000 ?? '—'}/1,000 events  ${r.problems.length ? `FLAGGED: ${r.problems.join('; ')}` : 'ok'}`,
      );
    } catch (e) {
      const error = /** @type {Error} */ (e).message || String(e);
      e2eErrors.push({ id: setup.id, error });
      log(`${head} FLAGGED: could not run: ${error.slice(0, 2000)}`);
    }
  }

  /** @type {import('./kill.js').KillResult[]} */
  const kills = [];
  if (killRuns.length)
    log(
      `\nkill and recover: two instances on PostgreSQL behind a load balancer, ${killLoad.rate} messages/s for ${killLoad.seconds} s, one SIGKILLed at ${killLoad.killAt} s`,
    );
  for (const [i, setup] of killRuns.entries()) {
    const head = `  [${i + 1}/${killRuns.length}] ${setup.id.padEnd(13)}`;
    try {
      const r = await runKillRecover(setup, killLoad, {
        progress: (line) => log(`${head} … ${line}`),
        onKill: (k) => killers.push(k),
      });
      kills.push(r);
      log(
        `${head} recovery ${r.recoverySeconds?.toFixed(1) ?? '—'} s (kill → last status of what was acknowledged before it), slowest send→status ${r.slowestSeconds?.toFixed(1) ?? '—'} s, 2xx ${r.acknowledged} of ${r.sent}, statuses ${r.confirmed}, lost ${r.lost}, takeovers ${r.takeovers}  ${r.lost ? 'FLAGGED' : 'ok'}`,
      );
    } catch (e) {
      const error = /** @type {Error} */ (e).message || String(e);
      e2eErrors.push({ id: setup.id, error });
      log(`${head} FLAGGED: could not run: ${error.slice(0, 2000)}`);
    }
  }

  const runSeconds = Math.round((performance.now() - runStarted) / 100) / 10;
  const base = {
    mode,
    settings: {
      ...settings,
      chats,
      e2e: e2eLoad,
      customers: customerLoad,
      pull: pullLoad,
      memoryLimit: memoryLimitSetting,
    },
    machine: { ...machine, loadavg1AtStart: load.loadavg1, postgres },
    targets: intakeTargets.map((t) => ({
      id: t.id,
      short: t.short,
      label: t.label,
      durability: t.durability,
      color: t.color,
      instances: instancesOf(t),
    })),
    intake,
    memory,
    integrity,
    decode,
    e2e,
    soak,
    customers,
    console: consoleResults,
    pulls,
    kills,
    e2eErrors,
    noise,
    skipped,
    runSeconds,
  };
  /** @type {import('./report.js').Results} */
  const results = /** @type {import('./report.js').Results} */ ({ ...base, ...summarize(base) });
  results.goals = judgeGoals(results);
  for (const r of consoleResults)
    for (const l of r.lists)
      if (l.p50 > CONSOLE_GOAL_MS)
        results.flags.push(`console-${r.db}: the list "${l.name}" took ${l.p50} ms (p50), over ${CONSOLE_GOAL_MS} ms`);
  const consoleBlock = consoleResults.length
    ? `\n## The console's events list at ${fmt.int(consoleRows)} stored events\n\nThe events table filled by bulk SQL (20 portals, 10,000 chats, six codes, one event in 1,000 dead), then each list the console asks for read ${values.full ? 25 : 9} times over HTTP (\`GET /api/events?…\` on an admin listener serving the console), after one unmeasured read. Goal: under ${CONSOLE_GOAL_MS} ms.\n\n${consoleTable(consoleResults)}\n`
    : '';

  const out = join(root, 'bench/results');
  mkdirSync(out, { recursive: true });
  const stamp = `${machine.date.replace(/[:]/g, '').slice(0, 17)}Z-${mode}`;
  const files = {
    json: `${JSON.stringify(results, null, 2)}\n`,
    md: `${markdown(results)}${consoleBlock}`,
    svg: chartSvg(results),
  };
  for (const [ext, text] of Object.entries(files)) {
    writeFileSync(join(out, `latest.${ext}`), text);
    writeFileSync(join(out, `${stamp}.${ext}`), text);
  }
  if (soak) {
    writeFileSync(join(out, 'soak.svg'), soakSvg(results));
    writeFileSync(join(out, `${stamp}-soak.svg`), soakSvg(results));
  }

  const tables = [
    intakeTable(results),
    ratioTable(results),
    postgresTable(results),
    integrityTable(results),
    memoryTable(results),
    e2eTable(results),
    e2eLatencyTable(results),
    e2eCpuTable(results),
    e2eMemoryTable(results),
    soakTable(results),
    customerTable(results),
    consoleTable(consoleResults),
    pullTable(results),
    killTable(results),
    noiseTable(results),
    decodeTable(results),
  ];
  log(`\n${tables.filter(Boolean).join('\n\n')}\n`);
  for (const s of skipped) log(s);
  log(`Verdict: ${results.verdict}`);
  if (results.notes.length) log(`\nNotes:\n${results.notes.map((f) => `  - ${f}`).join('\n')}`);
  if (results.flags.length) log(`\nFLAGGED:\n${results.flags.map((f) => `  - ${f}`).join('\n')}`);
  const goals = goalsTable(results);
  if (goals) log(`\nGoals:\n\n${goals}`);
  log(
    `\nWrote bench/results/latest.{json,md,svg} and bench/results/${stamp}.{json,md,svg}${soak ? ', soak.svg' : ''} (run took ${runSeconds} s)`,
  );
  process.exitCode = results.flags.length ? 1 : 0;
} finally {
  for (const k of killers) k();
  await dropAllDatabases();
  removeAllGroups();
  rmSync(dir, { recursive: true, force: true });
}
