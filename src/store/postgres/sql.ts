import pg from 'pg';

/** BIGINT columns hold Unix milliseconds and ids, well inside a double's exact range: read them as numbers. */
export const pgTypes = {
  getTypeParser: (oid: number, format?: string) =>
    oid === 20 ? (v: string) => Number(v) : pg.types.getTypeParser(oid, format as 'text'),
};

const numbered = new Map<string, string>();

/** SQL written with `?` placeholders (as SQLite takes them) numbered for PostgreSQL: $1, $2, ... */
export function toPg(sql: string): string {
  let text = numbered.get(sql);
  if (text === undefined) {
    let n = 0;
    text = sql.replace(/\?/g, () => `$${++n}`);
    if (numbered.size > 1_000) numbered.clear();
    numbered.set(sql, text);
  }
  return text;
}

/** A pool that reads BIGINT as numbers and survives an idle connection dropped by the server. */
export function openPool(url: string, max = 10): pg.Pool {
  const pool = new pg.Pool({ connectionString: url, max, types: pgTypes });
  // An idle client lost its connection; the pool replaces it on next use.
  pool.on('error', () => undefined);
  return pool;
}
