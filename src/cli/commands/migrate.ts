import { GatewayError } from '../../errors.js';
import type { Command } from 'commander';
import { openStore } from '../../store/open.js';
import { PgStore } from '../../store/postgres/store.js';
import { SqliteStore } from '../../store/sqlite/store.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb } from '../open-db.js';

export function registerMigrateCommand(program: Command): void {
  program
    .command('migrate')
    .description(
      'Create or upgrade the database schema: the event store and the connector state (serve does this on start; safe with several instances)',
    )
    .option('--db <location>', dbHelp, defaultDb())
    .action(
      action(async (o: { db: string }) => {
        const store = openStore(o.db);
        try {
          // Opening a store applies the missing migrations; ping waits for it.
          if (!(await store.ping()))
            throw new GatewayError(
              'B24GW_STORE_UNREACHABLE',
              `database at ${o.db.replace(/\/\/[^@/]*@/, '//…@')} is not usable`,
            );
          const { applied, total } =
            store instanceof SqliteStore || store instanceof PgStore ? await store.migrated : { applied: 0, total: 0 };
          console.log(
            applied === 0
              ? `schema is up to date (${store.kind}); nothing to do`
              : applied === total
                ? `created the schema (${store.kind}): ${applied} migrations applied`
                : `upgraded the schema (${store.kind}): ${applied} of ${total} migrations applied`,
          );
        } finally {
          await store.close();
        }
      }),
    );
}
