// A gateway process for the worker-fault scenarios: the built package (dist/) serving POST /events,
// with a handler that misbehaves on purpose. Plain JavaScript, run as its own process by the test.
// Its one argument is JSON: db, port, member, token, leaseMs, handlerTimeoutMs, schedule, log, slowMs.
// - message id "poison": the handler SIGKILLs its own process (a crash during the attempt);
// - message id "slow": on its first attempt the handler sleeps slowMs, deaf to ctx.signal;
// every run appends a line to `log` (one file shared by all processes, appends are atomic).
import { appendFileSync } from 'node:fs';
import { argv, kill, pid } from 'node:process';
import { setTimeout as sleep } from 'node:timers/promises';
import { Gateway, createLogger, startServer } from '../../dist/index.js';

const o = JSON.parse(argv[2]);
const gateway = new Gateway({
  db: o.db,
  appTokens: new Map([[o.member, o.token]]),
  state: false,
  defaultMetrics: false,
  logger: createLogger({ level: 'warn' }),
  worker: { leaseMs: o.leaseMs, handlerTimeoutMs: o.handlerTimeoutMs, schedule: o.schedule, pollMs: 50 },
});
const line = (text) => appendFileSync(o.log, `${text}\n`);

gateway.on('ONIMCONNECTORMESSAGEUPDATE', async (event, ctx) => {
  const id = event.data.MESSAGES[0].message.id[0];
  line(`start ${id} ${ctx.attempt} ${pid}`);
  if (id === 'poison') kill(pid, 'SIGKILL');
  if (id === 'slow' && ctx.attempt === 1) await sleep(o.slowMs);
  line(`end ${id} ${ctx.attempt} ${pid} ${ctx.signal.aborted}`);
});

// startServer listens before it starts the worker: the worker may take the poisoned event (and die) as soon as it starts.
await startServer(gateway, { port: o.port });
