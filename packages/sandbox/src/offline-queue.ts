import { createHash, randomBytes } from 'node:crypto';

/** One record of a portal's offline event queue, as event.offline.list shows it. */
export interface OfflineRecord {
  ID: number;
  /** ISO 8601, as Bitrix24 writes dates. */
  TIMESTAMP_X: string;
  EVENT_NAME: string;
  EVENT_DATA: unknown;
  EVENT_ADDITIONAL: unknown;
  /** The changed object's key: a newer change of it replaces a record not yet reserved. */
  MESSAGE_ID: string;
  /** Empty until a get with clear=0 reserves it. */
  PROCESS_ID: string;
  ERROR: 0 | 1;
  /** The event.bind `auth_connector` the record was queued for; empty for none. */
  connector: string;
}

type Field = 'ID' | 'TIMESTAMP_X' | 'EVENT_NAME' | 'MESSAGE_ID' | 'PROCESS_ID' | 'ERROR';
const FIELDS: readonly Field[] = ['ID', 'TIMESTAMP_X', 'EVENT_NAME', 'MESSAGE_ID', 'PROCESS_ID', 'ERROR'];

/** A filter's conditions (`{"=MESSAGE_ID": 1, ">=ID": 5}`), the operation before the field as Bitrix24 writes it. */
export type OfflineFilter = Record<string, unknown>;

const OPS = ['>=', '<=', '!=', '!', '=', '>', '<'] as const;

const valueOf = (r: OfflineRecord, f: Field): number | string =>
  f === 'ID' || f === 'ERROR' ? r[f] : f === 'TIMESTAMP_X' ? Date.parse(r.TIMESTAMP_X) : r[f];

function compare(a: number | string, b: number | string): number {
  return typeof a === 'number' && typeof b === 'number' ? a - b : String(a).localeCompare(String(b));
}

/** Applies a filter; fields outside `allowed` (and unknown ones) are ignored, as the docs list what each method filters by. */
export function matches(r: OfflineRecord, filter: OfflineFilter, allowed: readonly Field[] = FIELDS): boolean {
  for (const [key, want] of Object.entries(filter)) {
    const op = OPS.find((o) => key.startsWith(o)) ?? '';
    const field = key.slice(op.length).toUpperCase() as Field;
    if (!allowed.includes(field)) continue;
    const have = valueOf(r, field);
    const wanted = (Array.isArray(want) ? want : [want]).map((w) =>
      field === 'TIMESTAMP_X' ? Date.parse(String(w)) : typeof have === 'number' ? Number(w) : String(w),
    );
    const c = wanted.map((w) => compare(have, w));
    const ok =
      op === '' || op === '='
        ? c.some((x) => x === 0)
        : op === '!' || op === '!='
          ? c.every((x) => x !== 0)
          : op === '>'
            ? c[0]! > 0
            : op === '>='
              ? c[0]! >= 0
              : op === '<'
                ? c[0]! < 0
                : c[0]! <= 0;
    if (!ok) return false;
  }
  return true;
}

/** Sorts by `{FIELD: ASC|DESC}`, then by ID. */
export function sortRecords(list: OfflineRecord[], order: Record<string, unknown> | undefined, fallback: Field): void {
  const keys = Object.entries(order ?? {})
    .map(([f, dir]) => [f.toUpperCase() as Field, String(dir).toUpperCase() === 'DESC' ? -1 : 1] as const)
    .filter(([f]) => FIELDS.includes(f));
  if (keys.length === 0) keys.push([fallback, 1]);
  list.sort((a, b) => {
    for (const [f, dir] of keys) {
      const c = compare(valueOf(a, f), valueOf(b, f));
      if (c !== 0) return c * dir;
    }
    return a.ID - b.ID;
  });
}

/**
 * A portal's offline event queue (offline-events.md): events of offline bindings are kept here
 * instead of posted. It keeps each object's latest state, not every change: a newer event with the
 * MESSAGE_ID of a record no one reserved replaces it. `get` takes the first records (clear=1
 * deletes them; clear=0 reserves them under a process_id and hides them from other gets), `clear`
 * removes a process's records, `error` marks them failed (skipped by get unless error=1).
 */
export class OfflineQueue {
  readonly records: OfflineRecord[] = [];
  #nextId = 1;

  push(
    event: string,
    data: unknown,
    additional: unknown,
    at: string,
    connector = '',
    messageId = createHash('md5')
      .update(JSON.stringify([event, data]))
      .digest('hex'),
  ): OfflineRecord {
    const same = this.records.findIndex(
      (r) => r.MESSAGE_ID === messageId && r.EVENT_NAME === event && r.PROCESS_ID === '' && r.connector === connector,
    );
    if (same >= 0) this.records.splice(same, 1);
    const record: OfflineRecord = {
      ID: this.#nextId++,
      TIMESTAMP_X: at,
      EVENT_NAME: event,
      EVENT_DATA: data,
      EVENT_ADDITIONAL: additional,
      MESSAGE_ID: messageId,
      PROCESS_ID: '',
      ERROR: 0,
      connector,
    };
    this.records.push(record);
    return record;
  }

  /**
   * event.offline.get. With a process_id, what it reserved comes again first; then unreserved
   * records, up to `limit` in all, are taken: deleted (clear=1) or reserved under the process_id
   * (a new one when none was given).
   */
  get(o: {
    filter: OfflineFilter;
    order: Record<string, unknown> | undefined;
    limit: number;
    clear: boolean;
    processId: string | undefined;
    error: boolean;
    connector: string;
  }): { process_id: string | null; events: OfflineRecord[] } {
    const allowed: Field[] = ['ID', 'TIMESTAMP_X', 'EVENT_NAME', 'MESSAGE_ID'];
    const mine = (r: OfflineRecord) =>
      r.connector === o.connector && r.ERROR === (o.error ? 1 : 0) && matches(r, o.filter, allowed);
    const again = o.processId ? this.records.filter((r) => r.PROCESS_ID === o.processId && mine(r)) : [];
    const free = this.records.filter((r) => r.PROCESS_ID === '' && mine(r));
    sortRecords(again, o.order, 'TIMESTAMP_X');
    sortRecords(free, o.order, 'TIMESTAMP_X');
    const taken = [...again, ...free].slice(0, Math.max(0, o.limit));
    if (o.clear) {
      this.#remove(new Set(taken));
      return { process_id: null, events: taken };
    }
    const processId = o.processId || randomBytes(16).toString('hex');
    for (const r of taken) r.PROCESS_ID = processId;
    return { process_id: processId, events: taken };
  }

  /** event.offline.clear: the process's records (only those with the ids, or else the message ids, given). */
  clear(processId: string, ids: number[] | undefined, messageIds: string[] | undefined): number {
    const gone = this.records.filter(
      (r) =>
        r.PROCESS_ID === processId &&
        (ids ? ids.includes(r.ID) : messageIds ? messageIds.includes(r.MESSAGE_ID) : true),
    );
    this.#remove(new Set(gone));
    return gone.length;
  }

  /** event.offline.error: the process's records with these message ids are marked failed. */
  error(processId: string, messageIds: string[] | undefined): number {
    let n = 0;
    for (const r of this.records) {
      if (r.PROCESS_ID !== processId || (messageIds && !messageIds.includes(r.MESSAGE_ID))) continue;
      r.ERROR = 1;
      n++;
    }
    return n;
  }

  /** event.offline.list: the records as they stand, nothing changed. */
  list(filter: OfflineFilter, order: Record<string, unknown> | undefined, connector: string): OfflineRecord[] {
    const list = this.records.filter((r) => r.connector === connector && matches(r, filter));
    sortRecords(list, order, 'ID');
    return list;
  }

  get size(): number {
    return this.records.length;
  }

  #remove(set: Set<OfflineRecord>): void {
    for (let i = this.records.length - 1; i >= 0; i--) if (set.has(this.records[i]!)) this.records.splice(i, 1);
  }
}

/** A record as the REST methods answer it: string values, as PHP's database rows are. */
export const recordAnswer = (r: OfflineRecord, withState: boolean): Record<string, unknown> => ({
  ID: String(r.ID),
  TIMESTAMP_X: r.TIMESTAMP_X,
  EVENT_NAME: r.EVENT_NAME,
  EVENT_DATA: r.EVENT_DATA,
  EVENT_ADDITIONAL: r.EVENT_ADDITIONAL,
  MESSAGE_ID: r.MESSAGE_ID,
  ...(withState ? { PROCESS_ID: r.PROCESS_ID, ERROR: String(r.ERROR) } : {}),
});
