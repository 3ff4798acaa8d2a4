import { SingleBar, Presets } from 'cli-progress';
import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import { finishedOnly, pruneAll } from '../../store/prune.js';
import { FINISHED_STATUSES } from '../../store/types.js';
import { parseDuration } from '../../queue/schedule.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb, openExistingDb } from '../open-db.js';

interface PruneOptions {
  db: string;
  olderThan?: string;
  status: string;
  dryRun?: boolean;
}

export function registerPruneCommand(program: Command): void {
  program
    .command('prune')
    .description(
      'Remove finished events (with their attempts and delivery statuses) received longer ago than a given age; never pending, retry or processing ones',
    )
    .option('--db <location>', dbHelp, defaultDb())
    .option('--older-than <duration>', 'events received longer ago than this, e.g. 30d, 12h (required)')
    .option(
      '--status <list>',
      `which finished events, comma-separated: ${FINISHED_STATUSES.join(', ')}`,
      FINISHED_STATUSES.join(','),
    )
    .option('--dry-run', 'only say how many would go')
    .addHelpText(
      'after',
      '\nSafe while the server runs: events go 100 per short transaction. serve --retain does the same on its own.\n' +
        'Examples:\n  b24-im-gateway prune --older-than 30d --dry-run\n  b24-im-gateway prune --older-than 7d --status done\n',
    )
    .action(
      action(async (o: PruneOptions) => {
        if (o.olderThan === undefined) throw new GatewayError('B24GW_BAD_INPUT', 'Say how old: --older-than 30d');
        let ageMs: number;
        try {
          ageMs = parseDuration(o.olderThan);
        } catch (e) {
          throw new GatewayError('B24GW_BAD_INPUT', `--older-than: ${(e as Error).message}`);
        }
        const statuses = finishedOnly(
          o.status
            .split(',')
            .map((s) => s.trim())
            .filter(Boolean),
        );
        const before = Date.now() - ageMs;
        const which = `${statuses.join(', ')} events received before ${new Date(before).toISOString()}`;
        const store = openExistingDb(o.db);
        try {
          const total = await store.pruneEvents({ before, statuses, limit: 0, dryRun: true });
          if (o.dryRun) {
            console.log(`${total} ${which} would be pruned`);
            return;
          }
          const bar = new SingleBar(
            { format: 'prune |{bar}| {value}/{total} events', stream: process.stderr, noTTYOutput: false },
            Presets.shades_classic,
          );
          bar.start(total, 0);
          let done = 0;
          const removed = await pruneAll(
            store,
            { before, statuses },
            { onBatch: (n) => bar.update(Math.min((done += n), total)) },
          );
          bar.stop();
          console.log(`${removed} ${which} pruned`);
        } finally {
          await store.close();
        }
      }),
    );
}
