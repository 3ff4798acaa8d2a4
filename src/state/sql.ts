import type Database from 'better-sqlite3';

/** Prepares each statement once: apply() runs per event, and preparing is most of a small write's cost. */
export class Sql {
  private readonly cache = new Map<string, Database.Statement>();

  constructor(readonly db: Database.Database) {}

  stmt(sql: string): Database.Statement {
    let s = this.cache.get(sql);
    if (!s) {
      s = this.db.prepare(sql);
      this.cache.set(sql, s);
    }
    return s;
  }

  run(sql: string, ...params: unknown[]): Database.RunResult {
    return this.stmt(sql).run(...params);
  }

  get<T>(sql: string, ...params: unknown[]): T | undefined {
    return this.stmt(sql).get(...params) as T | undefined;
  }

  all<T>(sql: string, ...params: unknown[]): T[] {
    return this.stmt(sql).all(...params) as T[];
  }
}

export interface EventMeta {
  /** The inbox event id: the idempotency key. */
  eventId: number;
  memberId: string;
  /** Unix ms, gateway clock: every time in the state is this clock's. */
  receivedAt: number;
}

/** What an applier gets: the statements and the event it applies. */
export interface Tx {
  sql: Sql;
  meta: EventMeta;
}

/** `member_id = ?` and each condition whose value is given, for the optional filters of the reads. */
export function whereOf(memberId: string, conditions: readonly (readonly [string, unknown])[]): { where: string; params: unknown[] } {
  const given = conditions.filter(([, v]) => v !== undefined);
  return { where: ['member_id = ?', ...given.map(([c]) => c)].join(' AND '), params: [memberId, ...given.map(([, v]) => v)] };
}
