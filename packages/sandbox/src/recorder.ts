import { EventEmitter } from 'node:events';

/** One REST call the sandbox answered (a batch records itself and each command inside it). */
export interface CallRecord {
  seq: number;
  /** Sandbox clock, ms. */
  at: number;
  /** Portal the access token belongs to; absent when the call was not authorised. */
  memberId?: string;
  userId?: number;
  method: string;
  /** Parameters as decoded, without `auth`. */
  params: Record<string, unknown>;
  /** The `auth` the call came with (tells apart which token pair a client used). */
  accessToken?: string;
  /** What PHP would have warned about while reading the parameters: the data it names was dropped. */
  warnings?: string[];
  transport: 'json' | 'form' | 'query' | 'batch';
  httpStatus: number;
  error?: string;
  errorDescription?: string;
  durationMs: number;
  /** For a command run inside `batch`: the seq of the batch call. */
  batchSeq?: number;
}

/** One POST of an event to one handler. Bitrix24 never re-sends, and neither does the sandbox. */
export interface DeliveryRecord {
  seq: number;
  at: number;
  memberId: string;
  code: string;
  url: string;
  handlerId?: number;
  /** HTTP status of the handler's answer; 0 when no answer came (refused, reset, timeout). */
  status: number;
  ok: boolean;
  ms: number;
  error?: string;
  /** The exact form body sent. */
  body: string;
  payload: Record<string, unknown>;
  /** First 4 KB of the handler's answer. */
  responseBody?: string;
}

/** One message status the application reported (imconnector.send.status.delivery / .reading). */
export interface StatusRecord {
  seq: number;
  at: number;
  memberId: string;
  kind: 'delivery' | 'reading';
  connector: string;
  line: number;
  chatId: number;
  messageId: number;
  externalIds: string[];
  externalChatId: string;
  date?: number;
  /** Whether the sandbox had sent a message with this im.message_id to the application. */
  known: boolean;
}

/** One request to /oauth/token/. */
export interface TokenRecord {
  seq: number;
  at: number;
  grantType: string;
  clientId: string;
  ok: boolean;
  error?: string;
  memberId?: string;
  /** The refresh token presented (grant_type=refresh_token): shows which one a client spent. */
  refreshToken?: string;
}

interface Logs {
  call: CallRecord;
  delivery: DeliveryRecord;
  status: StatusRecord;
  token: TokenRecord;
}
export type RecordKind = keyof Logs;

type Filter<T> = Partial<Pick<T, Extract<keyof T, 'method' | 'memberId' | 'code' | 'url' | 'kind' | 'messageId'>>>;

const matches = <T extends object>(record: T, filter: Filter<T> | undefined): boolean =>
  !filter || Object.entries(filter).every(([k, v]) => v === undefined || (record as Record<string, unknown>)[k] === v);

/**
 * Everything the sandbox saw and did, in order, for assertions. Each log keeps the
 * newest `limit` entries so a long load run cannot exhaust memory.
 */
export class Recorder {
  #seq = 1;
  readonly #logs: { [K in RecordKind]: Logs[K][] } = { call: [], delivery: [], status: [], token: [] };
  readonly #events = new EventEmitter();

  constructor(private readonly limit = 50_000) {
    this.#events.setMaxListeners(0);
  }

  calls(filter?: Filter<CallRecord>): CallRecord[] {
    return this.#logs.call.filter((r) => matches(r, filter));
  }

  deliveries(filter?: Filter<DeliveryRecord>): DeliveryRecord[] {
    return this.#logs.delivery.filter((r) => matches(r, filter));
  }

  statuses(filter?: Filter<StatusRecord>): StatusRecord[] {
    return this.#logs.status.filter((r) => matches(r, filter));
  }

  tokenRequests(): TokenRecord[] {
    return [...this.#logs.token];
  }

  clear(): void {
    for (const log of Object.values(this.#logs)) log.length = 0;
  }

  /** Resolves with the first record of `kind` (already logged or still to come) that passes `test`. */
  waitFor<K extends RecordKind>(
    kind: K,
    test: (r: Logs[K]) => boolean = () => true,
    timeoutMs = 5000,
  ): Promise<Logs[K]> {
    const seen = (this.#logs[kind] as Logs[K][]).find(test);
    if (seen) return Promise.resolve(seen);
    return new Promise((resolve, reject) => {
      const onRecord = (r: Logs[K]): void => {
        if (!test(r)) return;
        cleanup();
        resolve(r);
      };
      const timer = setTimeout(() => {
        cleanup();
        reject(new Error(`No ${kind} record arrived within ${timeoutMs} ms`));
      }, timeoutMs);
      const cleanup = (): void => {
        clearTimeout(timer);
        this.#events.off(kind, onRecord);
      };
      this.#events.on(kind, onRecord);
    });
  }

  /** Calls `listener` for every new record of `kind`; returns a function that stops it. */
  on<K extends RecordKind>(kind: K, listener: (r: Logs[K]) => void): () => void {
    this.#events.on(kind, listener);
    return () => this.#events.off(kind, listener);
  }

  /** Adds a record, giving it the next seq; returns it. */
  add<K extends RecordKind>(kind: K, record: Omit<Logs[K], 'seq'>): Logs[K] {
    const full = { seq: this.#seq++, ...record } as Logs[K];
    const log = this.#logs[kind] as Logs[K][];
    log.push(full);
    if (log.length > this.limit) log.splice(0, log.length - this.limit);
    this.#events.emit(kind, full);
    return full;
  }
}
