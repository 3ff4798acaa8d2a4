import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { parseTime, replayEvents } from '../../console/events.js';
import { GatewayError } from '../../errors.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb, openExistingDb } from '../open-db.js';
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

export function registerReplayCommand(program: Command): void {
  program
    .command('replay')
    .description(
      'Run stored events again with a fresh retry budget: by id, by time range, or every dead letter (as the console replays)',
    )
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
          const bar = new SingleBar(
            { format: 'replay |{bar}| {value}/{total} events', stream: process.stderr, noTTYOutput: false },
            Presets.shades_classic,
          );
          const selection =
            o.id.length > 0
              ? { ids: o.id }
              : {
                  since: o.since === undefined ? undefined : parseTime('--since', o.since),
                  until: o.until === undefined ? undefined : parseTime('--until', o.until),
                  all: Boolean(o.all) && !o.dead,
                };
          const r = await replayEvents(store, selection, (done, total) =>
            done === 0 ? bar.start(total, 0) : bar.update(done),
          );
          bar.stop();
          console.log(
            `${r.requeued} of ${r.requested} events put back to pending${r.requeued < r.requested ? ' (the rest are invalid, running now, or unknown ids)' : ''}`,
          );
        } finally {
          await store.close();
        }
      }),
    );
}
