/**
 * The few fragments SQLite and PostgreSQL spell differently inside a query otherwise written once
 * (sqlite/dialect.ts and postgres/dialect.ts say why each differs). A query that differs as a whole
 * lives in a dialect-named file instead.
 */
export interface Dialect {
  readonly name: 'sqlite' | 'postgres';
  /** `column` is one of a list bound as one parameter (`list`): one statement whatever the list's length. */
  inList(column: string, type: 'int8' | 'text'): string;
  /** A list as `inList` binds it. */
  list(values: readonly (number | string)[]): unknown;
  /** After a SELECT whose rows the statement then changes: rows another instance holds are skipped. */
  readonly skipLocked: string;
  /** After a table in FROM: the index the query must use. */
  indexedBy(index: string): string;
  /**
   * A statement that makes the claims of one queue wait for each other until their transactions
   * end, or none where one transaction writes at a time anyway. For a claim that must see what the
   * claim before it took (skipping locked rows would not).
   */
  serialize(queue: string): string | undefined;
  /** A query of the tables whose rows are leased (a `lease_owner` column), as `name`: every queue, those to come included. */
  readonly leasedTables: string;
}
