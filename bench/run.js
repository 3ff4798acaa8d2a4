// @ts-check
/**
 * `npm run bench` (quick, about 2 minutes) and `npm run bench -- --full`.
 * Decoding first (no server running), then each target as its own process under autocannon.
 * Writes bench/results/latest.{json,md,svg} and a dated copy of each.
 * Options: --full, --only bare,naive-full,naive-normal,gateway,gateway-intake,
 * --seconds N (measured seconds per cell), --chats N (spread events over N chats; default: the fixtures' own)
 */
import { existsSync, mkdirSync, mkdtempSync, rmSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parseArgs } from 'node:util';
import { chartSvg } from './chart.js';
import { benchDecode } from './decode.js';
import { bodySource, loadFixtures, portalTokens, runCell } from './load.js';
import { describeMachine } from './machine.js';
import { procStatusKb } from './memory.js';
import { decodeTable, fmt, integrityTable, intakeTable, markdown, memoryTable, ratioTable, summarize } from './report.js';
import { startTarget, targets } from './targets.js';
import process from 'node:process';
import { URL } from 'node:url';

const { values } = parseArgs({ options: { full: { type: 'boolean', default: false }, only: { type: 'string' }, seconds: { type: 'string' }, chats: { type: 'string', default: '0' } } });
const mode = /** @type {'quick' | 'full'} */ (values.full ? 'full' : 'quick');
const settings = values.full
  ? { concurrency: [1, 10, 100, 256], seconds: 20, warmupSeconds: 3, decodeRounds: 15, decodeRoundMs: 150 }
  : { concurrency: [10, 100], seconds: 8, warmupSeconds: 2, decodeRounds: 7, decodeRoundMs: 80 };
if (values.seconds) settings.seconds = Number(values.seconds);
const chats = Number(values.chats);
const only = values.only?.split(',').map((s) => s.trim());
const chosen = only ? targets.filter((t) => only.includes(t.id)) : targets;
if (only && chosen.length !== only.length) throw new Error(`--only takes ${targets.map((t) => t.id).join(',')}`);

const root = new URL('..', import.meta.url).pathname;
if (!existsSync(join(root, 'dist/cli/main.js'))) throw new Error('dist/ is missing: run `npm run build` (npm run bench does)');

const fixtures = loadFixtures();
const tokens = [...portalTokens(fixtures)].map(([member, token]) => `${member}=${token}`);
const dir = mkdtempSync(join(tmpdir(), 'b24gw-bench-'));
const machine = describeMachine(dir);
const log = (/** @type {string} */ line) => process.stdout.write(`${line}\n`);

const cellCount = chosen.length * settings.concurrency.length;
const estimate = Math.round(cellCount * (settings.warmupSeconds + settings.seconds + 0.5) + settings.decodeRounds * settings.decodeRoundMs * 10 / 1000);
log(`b24-im-gateway bench (${mode}): ${machine.cpu}, ${machine.cores} cores, Node ${machine.node}; SQLite files in ${dir} on ${machine.dbFilesystem}`);
log(`${cellCount} intake cells × (${settings.warmupSeconds} s warm-up + ${settings.seconds} s) plus decoding: about ${estimate} s\n`);

/** @type {(() => void)[]} */
const killers = [];
const abort = () => {
  for (const k of killers) k();
  rmSync(dir, { recursive: true, force: true });
  process.exit(130);
};
process.on('SIGINT', abort);
process.on('SIGTERM', abort);

try {
  log('decoding: decodeForm vs qs.parse');
  const decode = benchDecode(fixtures, { rounds: settings.decodeRounds, roundMs: settings.decodeRoundMs, warmupCalls: 2000 });
  for (const d of decode) {
    log(`  ${d.name.padEnd(28)} decodeForm ${fmt.us(d.usPerEvent.decodeForm ?? NaN).padStart(6)} µs   qs.parse ${fmt.us(d.usPerEvent['qs.parse'] ?? NaN).padStart(6)} µs   ${d.equal ? 'same result' : `DIFFERENT: ${d.differences.join('; ')}`}`);
  }

  log('\nintake');
  const nextBody = bodySource(fixtures, chats);
  /** @type {import('./report.js').IntakeCell[]} */
  const intake = [];
  /** @type {import('./report.js').Results['memory']} */
  const memory = {};
  /** @type {import('./report.js').Results['integrity']} */
  const integrity = {};
  let done = 0;
  for (const target of chosen) {
    const server = await startTarget(target, { dir, tokens });
    killers.push(() => server.kill());
    let answered = 0;
    try {
      for (const concurrency of settings.concurrency) {
        const head = `  [${String(++done).padStart(String(cellCount).length)}/${cellCount}] ${target.id.padEnd(14)} c=${String(concurrency).padEnd(3)}`;
        if (process.stdout.isTTY) process.stdout.write(`${head} running ${settings.warmupSeconds} + ${settings.seconds} s…`);
        const cell = await runCell({ url: server.url, concurrency, seconds: settings.seconds, warmupSeconds: settings.warmupSeconds, nextBody });
        const rss = procStatusKb(server.pid, 'VmRSS');
        intake.push({ target: target.id, ...cell, rssMbAfter: rss === null ? null : Math.round(rss / 102.4) / 10 });
        answered += cell.ok + cell.warmupOk;
        const bad = cell.non2xx + cell.errors + cell.timeouts + cell.warmupBad;
        process.stdout.write(
          `${process.stdout.isTTY ? '\r\x1b[K' : ''}${head} ${fmt.int(cell.eventsPerSec).padStart(7)} events/s  p50 ${fmt.ms(cell.p50).padStart(6)} ms  p99 ${fmt.ms(cell.p99).padStart(6)} ms  max ${fmt.ms(cell.max).padStart(6)} ms  ${bad ? `FLAGGED: ${cell.non2xx} non-2xx ${JSON.stringify(cell.statusCodes)}, ${cell.errors} errors, ${cell.timeouts} timeouts, ${cell.warmupBad} bad in warm-up` : 'all 200'}\n`,
        );
      }
    } finally {
      const stopped = await server.stop();
      memory[target.id] = stopped.memory;
      const stored = stopped.stored?.rows ?? null;
      integrity[target.id] = { answered, stored, unprocessed: stopped.stored?.unprocessed ?? null, lost: stored !== null && stored < answered };
      const said = server.output().trim();
      if (said) log(`  ${target.id} printed (last lines):\n${said.split('\n').slice(-5).join('\n')}`);
    }
  }

  const base = { mode, settings: { ...settings, chats }, machine, targets: chosen.map(({ id, short, label, durability, color }) => ({ id, short, label, durability, color })), intake, memory, integrity, decode };
  /** @type {import('./report.js').Results} */
  const results = /** @type {import('./report.js').Results} */ ({ ...base, ...summarize(base) });

  const out = join(root, 'bench/results');
  mkdirSync(out, { recursive: true });
  const stamp = `${machine.date.replace(/[:]/g, '').slice(0, 17)}Z-${mode}`;
  const files = { json: `${JSON.stringify(results, null, 2)}\n`, md: markdown(results), svg: chartSvg(results) };
  for (const [ext, text] of Object.entries(files)) {
    writeFileSync(join(out, `latest.${ext}`), text);
    writeFileSync(join(out, `${stamp}.${ext}`), text);
  }

  log(`\n${intakeTable(results)}\n\n${ratioTable(results)}\n\n${integrityTable(results)}\n\n${memoryTable(results)}\n\n${decodeTable(results)}\n`);
  log(`Verdict: ${results.verdict}`);
  if (results.flags.length) log(`\nFLAGGED:\n${results.flags.map((f) => `  - ${f}`).join('\n')}`);
  log(`\nWrote bench/results/latest.{json,md,svg} and bench/results/${stamp}.{json,md,svg}`);
  process.exitCode = results.flags.length ? 1 : 0;
} finally {
  for (const k of killers) k();
  rmSync(dir, { recursive: true, force: true });
}
