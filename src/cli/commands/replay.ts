import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import type { EventQuery } from '../../store/types.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb, openExistingDb, parseTime } from '../open-db.js';
import { positiveInt } from '../options.js';

interface ReplayOptions {
  db: string;
  id: number[];
  since?: string;
  until?: string;
  dead?: boolean;
  all?: boolean;
  pulls?: boolean;
}

const CHUNK = 500;

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description('Run stored events again with a fresh retry budget: by id, by time range, or every dead letter')
    .option('--db <location>', dbHelp, defaultDb())
    .option(
      '--id <n>',
      'an event id, repeatable',
      (v: string, prev: number[]) => [...prev, positiveInt('--id')(v)],
      [] as number[],
    )
    .option('--since <time>', 'events received at or after this time (ISO 8601 or Unix ms)')
    .option('--until <time>', 'events received before this time')
    .option('--dead', 'only dead letters (with --since/--until: dead letters in that range)')
    .option('--all', 'with --since/--until: every status, done events included')
    .option('--pulls', 'pull again what serve --pull gave up on (parked queues: a bot, an offline queue), now')
    .addHelpText(
      'after',
      '\nA running gateway picks replayed events up within a second.\nExamples:\n  b24-im-gateway replay --dead\n  b24-im-gateway replay --id 42 --id 43\n  b24-im-gateway replay --since 2026-11-22T08:00:00Z --until 2026-11-22T09:00:00Z --all\n',
    )
    .action(
      action(async (o: ReplayOptions) => {
        if (o.id.length === 0 && !o.dead && !o.pulls && o.since === undefined && o.until === undefined) {
          throw new GatewayError('B24GW_BAD_INPUT', 'Say what to replay: --id N, --dead, --since/--until, or --pulls');
        }
        const store = openExistingDb(o.db);
        try {
          if (o.pulls) {
            const parked = await store.listPullCursors({ status: 'parked' });
            const n = await store.requeuePullCursors(
              parked.map((c) => c.id),
              Date.now(),
            );
            console.log(`${n} parked pull${n === 1 ? '' : 's'} due again`);
            if (o.id.length === 0 && !o.dead && o.since === undefined && o.until === undefined) return;
          }
          let ids = o.id;
          if (ids.length === 0) {
            const q: EventQuery = {};
            if (o.since !== undefined) q.since = parseTime('--since', o.since);
            if (o.until !== undefined) q.until = parseTime('--until', o.until);
            if (o.dead || !o.all) q.status = 'dead';
            ids = (await store.listEvents(q)).map((e) => e.id);
          }
          const bar = new SingleBar(
            { format: 'replay |{bar}| {value}/{total} events', stream: process.stderr, noTTYOutput: false },
            Presets.shades_classic,
          );
          bar.start(ids.length, 0);
          let requeued = 0;
          for (let i = 0; i < ids.length; i += CHUNK) {
            requeued += await store.requeue(ids.slice(i, i + CHUNK));
            bar.update(Math.min(i + CHUNK, ids.length));
          }
          bar.stop();
          console.log(
            `${requeued} of ${ids.length} events put back to pending${requeued < ids.length ? ' (the rest are invalid, running now, or unknown ids)' : ''}`,
          );
        } finally {
          await store.close();
        }
      }),
    );
}
