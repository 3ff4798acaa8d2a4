/*
 * The state's SQL is written once for SQLite and PostgreSQL: `?` placeholders (the PostgreSQL side
 * numbers them), upserts with ON CONFLICT, the existing row named by its table in DO UPDATE (PostgreSQL
 * finds a bare column ambiguous beside `excluded`), and no function only one of them has (greatest()).
 *
 * A piece of state work (one apply, one read) is a generator that yields its queries and gets each
 * answer back, so the logic is written once and each database drives it its own way: SQLite
 * synchronously inside one transaction, PostgreSQL query by query on one connection.
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

/** `member_id = ?` and each condition whose value is given, for the optional filters of the reads. */
export function whereOf(memberId: string, conditions: readonly (readonly [string, unknown])[]): { where: string; params: unknown[] } {
  const given = conditions.filter(([, v]) => v !== undefined);
  return { where: ['member_id = ?', ...given.map(([c]) => c)].join(' AND '), params: [memberId, ...given.map(([, v]) => v)] };
}
