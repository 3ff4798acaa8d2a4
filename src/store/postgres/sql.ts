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
