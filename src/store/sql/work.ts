/*
 * The persistence layer's one way of writing a query for SQLite and PostgreSQL: SQL text with `?`
 * placeholders (the PostgreSQL runner numbers them), upserts with ON CONFLICT, the existing row
 * named by its table in DO UPDATE (PostgreSQL finds a bare column ambiguous beside `excluded`),
 * RETURNING, and no function only one of them has (see `greatest`). What cannot be written alike
 * is a fragment of the Dialect (dialect.ts) or a query in a dialect-named file.
 *
 * A piece of work (one apply, one read, one store operation) is a generator that yields its queries
 * and gets each answer back, so the logic is written once and each database drives it its own way
 * (a Runner): SQLite synchronously inside one transaction, PostgreSQL query by query on one connection.
 *
 * Why not a query builder: compiling a query (10-14 µs each with Kysely 0.29) costs more than
 * running most prepared statements on SQLite's worker connection, and the hot paths run several per
 * event (src/store/README.md has the figures). Here the text is a constant, each statement
 * is prepared once per connection, and driving a generator costs next to nothing.
 */

export interface Query {
  /** run: answered with the number of rows changed; get: the first row or undefined; all: the rows. */
  kind: 'run' | 'get' | 'all';
  sql: string;
  params: unknown[];
}

export type Work<T> = Generator<Query, T, unknown>;

export function* run(sql: string, ...params: unknown[]): Work<number> {
  return (yield { kind: 'run', sql, params }) as number;
}

export function* get<T>(sql: string, ...params: unknown[]): Work<T | undefined> {
  return (yield { kind: 'get', sql, params }) as T | undefined;
}

export function* all<T>(sql: string, ...params: unknown[]): Work<T[]> {
  return (yield { kind: 'all', sql, params }) as T[];
}

/** The larger of two non-null expressions: SQLite spells it MAX(a, b), PostgreSQL GREATEST(a, b). */
export const greatest = (a: string, b: string): string => `CASE WHEN ${a} >= ${b} THEN ${a} ELSE ${b} END`;

/** Each condition whose value is given, joined by AND (empty when none is): for optional filters. */
export function where(conditions: readonly (readonly [string, unknown])[]): { where: string; params: unknown[] } {
  const given = conditions.filter(([, v]) => v !== undefined);
  return { where: given.map(([c]) => c).join(' AND '), params: given.map(([, v]) => v) };
}

/** How a database runs a piece of work. */
export interface Runner {
  /** In one write transaction: all of it, or nothing if it throws. */
  write<T>(work: Work<T>): Promise<T>;
  /** On one consistent view of the data. */
  read<T>(work: Work<T>): Promise<T>;
  /**
   * Each statement on its own, committed as it runs: for work of one statement (on PostgreSQL it
   * spares the BEGIN and COMMIT round trips), or whose statements need not hold together.
   */
  once<T>(work: Work<T>): Promise<T>;
}
