import type { EventQuery } from './types.js';

/** The WHERE clause of an event listing, with `?` placeholders, for either database. */
export function eventFilter(q: EventQuery): { where: string; params: (string | number)[] } {
  const clauses: string[] = [];
  const params: (string | number)[] = [];
  const add = (sql: string, v: string | number | undefined) => {
    if (v === undefined) return;
    clauses.push(sql);
    params.push(v);
  };
  add('status = ?', q.status);
  add('member_id = ?', q.memberId);
  add('code = ?', q.code);
  add('id > ?', q.afterId);
  add('received_at >= ?', q.since);
  add('received_at < ?', q.until);
  return { where: clauses.length ? `WHERE ${clauses.join(' AND ')}` : '', params };
}
