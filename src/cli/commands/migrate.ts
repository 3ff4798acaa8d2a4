import { GatewayError } from '../../errors.js';
import type { Command } from 'commander';
import { openStore } from '../../store/open.js';
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
          console.log(`schema is up to date (${store.kind})`);
        } finally {
          await store.close();
        }
      }),
    );
}
