import { randomBytes } from 'node:crypto';
import pg from 'pg';

/** The PostgreSQL server tests use; CI provides one at this address. */
export const pgAdminUrl = process.env.B24GW_TEST_PG ?? 'postgres://postgres@127.0.0.1:5432/test';

async function reachable(): Promise<boolean> {
  const client = new pg.Client({ connectionString: pgAdminUrl, connectionTimeoutMillis: 2_000 });
  try {
    await client.connect();
    await client.end();
    return true;
  } catch {
    return false;
  }
}

export const pgAvailable = await reachable();
if (!pgAvailable) {
  const message = `PostgreSQL is not reachable at ${pgAdminUrl}: PostgreSQL tests are SKIPPED (set B24GW_TEST_PG to run them)`;
  // CI has a server: there, a missing one is a failure, never a silent skip.
  if (process.env.CI) throw new Error(message);
  console.warn(message);
}

/** A fresh database for one test; dropped by the returned function. */
export async function freshDatabase(): Promise<{ url: string; drop: () => Promise<void> }> {
  const name = `b24gw_test_${randomBytes(6).toString('hex')}`;
  const admin = new pg.Client({ connectionString: pgAdminUrl });
  await admin.connect();
  await admin.query(`CREATE DATABASE ${name}`);
  await admin.end();
  const url = new URL(pgAdminUrl);
  url.pathname = `/${name}`;
  return {
    url: url.toString(),
    drop: async () => {
      const c = new pg.Client({ connectionString: pgAdminUrl });
      await c.connect();
      await c.query(`DROP DATABASE IF EXISTS ${name} WITH (FORCE)`);
      await c.end();
    },
  };
}
