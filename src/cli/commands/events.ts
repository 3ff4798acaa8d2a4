import type { Command } from 'commander';
import { findEvents, parseTime } from '../../console/events.js';
import { EVENT_STATUSES } from '../../store/queries/events.js';
import { PAGE_MAX } from '../../store/queries/browse.js';
import type { Delivery, EventBrowse, EventStatus, EventSummary } from '../../store/types.js';
import { action } from '../fail.js';
import { formatTable } from '../table.js';
import { dbHelp, defaultDb, openExistingDb } from '../open-db.js';
import { positiveInt } from '../options.js';

interface EventsOptions {
  db: string;
  json?: boolean;
  status?: string;
  member?: string;
  code?: string;
  line?: number;
  chat?: string;
  since?: string;
  until?: string;
  mode?: string;
  search?: string;
  before?: number;
  limit?: number;
}

export function registerEventsCommand(program: Command): void {
  program
    .command('events')
    .description(
      'List stored events with their status, attempts and last error, oldest first (works while the server runs; the console shows the same list)',
    )
    .option('--db <location>', dbHelp, defaultDb())
    .option('--json', 'print a JSON array instead of a table')
    .option('--status <status>', `only events in this status: ${EVENT_STATUSES.join(', ')}`)
    .option('--member <id>', 'only events of this portal (member_id)')
    .option('--code <event>', 'only events of this code, e.g. ONIMCONNECTORMESSAGEADD')
    .option('--line <n>', 'only events of this connector line (needs --member)', positiveInt('--line'))
    .option('--chat <id>', 'only events of this external chat (needs --member and --line)')
    .option('--since <time>', 'received at or after this time (ISO 8601 or Unix ms)')
    .option('--until <time>', 'received before this time')
    .option('--mode <mode>', 'how the event came: webhook (posted), fetch or offline (pulled by serve --pull)')
    .option('--search <id>', 'an event id, or a Bitrix24 message id (the events that name it)')
    .option('--before <id>', 'only events older than this id (the next page)', positiveInt('--before'))
    .option('--limit <n>', 'at most this many events, the latest (default: all)', positiveInt('--limit'))
    .action(
      action(async (o: EventsOptions) => {
        const q: EventBrowse = {
          status: o.status as EventStatus | undefined,
          memberId: o.member,
          code: o.code,
          line: o.line,
          chat: o.chat,
          since: o.since === undefined ? undefined : parseTime('--since', o.since),
          until: o.until === undefined ? undefined : parseTime('--until', o.until),
          delivery: o.mode as Delivery | undefined,
          search: o.search,
          before: o.before,
        };
        const store = openExistingDb(o.db);
        try {
          // Page after page, newest first, as the console reads them; printed oldest first.
          const events: EventSummary[] = [];
          for (let before = q.before; ;) {
            const want = o.limit === undefined ? PAGE_MAX : Math.min(PAGE_MAX, o.limit - events.length);
            if (want <= 0) break;
            const page = await findEvents(store, { ...q, before, limit: want });
            events.push(...page.events);
            if (page.next === null) break;
            before = page.next;
          }
          const rows = events.reverse().map((e) => ({
            id: e.id,
            event: e.code,
            memberId: e.memberId,
            status: e.status,
            delivery: e.delivery,
            receivedAt: new Date(e.receivedAt).toISOString(),
            attempts: e.attempts,
            lastError: e.lastError,
            duplicates: e.duplicates,
          }));
          if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else if (rows.length === 0) console.log('No events.');
          else console.log(formatTable(rows));
        } finally {
          await store.close();
        }
      }),
    );
}
