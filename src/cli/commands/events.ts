import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import type { EventStatus } from '../../store/types.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb, openExistingDb } from '../open-db.js';
import { positiveInt } from '../options.js';

const statuses: EventStatus[] = ['pending', 'invalid', 'processing', 'retry', 'done', 'dead'];

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description('List stored events with their status, attempts and last error (works while the server runs)')
    .option('--db <location>', dbHelp, defaultDb())
    .option('--json', 'print a JSON array instead of a table')
    .option('--status <status>', `only events in this status: ${statuses.join(', ')}`)
    .option('--member <id>', 'only events of this portal (member_id)')
    .option('--limit <n>', 'at most this many events', positiveInt('--limit'))
    .action(
      action(async (o: { db: string; json?: boolean; status?: string; member?: string; limit?: number }) => {
        if (o.status !== undefined && !statuses.includes(o.status as EventStatus)) {
          throw new GatewayError(
            'B24GW_BAD_INPUT',
            `--status must be one of ${statuses.join(', ')}, got "${o.status}"`,
          );
        }
        const store = openExistingDb(o.db);
        try {
          const events = await store.listEvents({
            ...(o.status ? { status: o.status as EventStatus } : {}),
            ...(o.member ? { memberId: o.member } : {}),
            ...(o.limit !== undefined ? { limit: o.limit } : {}),
          });
          const rows = events.map((e) => ({
            id: e.id,
            event: e.code,
            memberId: e.memberId,
            status: e.status,
            delivery: e.delivery ?? 'webhook',
            receivedAt: new Date(e.receivedAt).toISOString(),
            attempts: e.attempts,
            lastError: e.lastError,
            duplicates: e.duplicates,
          }));
          if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else if (rows.length === 0) console.log('No events.');
          else console.table(rows);
        } finally {
          await store.close();
        }
      }),
    );
}
