import type { BatchCall } from './batch.js';
import type { BitrixClients } from './client.js';
import { BitrixApiError } from './errors.js';

export const DELIVERY_METHOD = 'imconnector.send.status.delivery';

export interface DeliveryStatus {
  im: { chat_id: number; message_id: number };
  /** External message ids; Bitrix24 wants a list even for one. `date` is Unix seconds. */
  message: { id: string[]; date?: number };
  chat: { id: string };
}

export interface DeliveryStatusBatcherOptions {
  /** How long statuses of one portal gather before they are sent. Default 50 ms. */
  windowMs?: number;
  /**
   * Statuses per imconnector.send.status.delivery command. Inside `batch` a command is a query
   * string that PHP parses under max_input_vars (1,000 by default); a status is 4-5 variables.
   */
  maxPerCall?: number;
}

interface Waiter {
  item: DeliveryStatus;
  resolve: () => void;
  reject: (e: unknown) => void;
}

interface Group {
  connector: string;
  line: number;
  waiters: Waiter[];
}

interface PortalQueue {
  groups: Map<string, Group>;
  timer: NodeJS.Timeout | undefined;
  /** One send per portal at a time; statuses arriving meanwhile go in the next one. */
  sending: Promise<void> | undefined;
}

/**
 * Gathers delivery statuses per portal for a short window and sends them together: one
 * command per connector+line with a MESSAGES list, and the commands of one portal in one
 * `batch` (50 per request). REST requests grow with windows, not with events.
 */
export class DeliveryStatusBatcher {
  readonly #portals = new Map<string, PortalQueue>();
  readonly #windowMs: number;
  readonly #maxPerCall: number;

  constructor(
    private readonly clients: BitrixClients,
    o: DeliveryStatusBatcherOptions = {},
  ) {
    this.#windowMs = o.windowMs ?? 50;
    this.#maxPerCall = o.maxPerCall ?? 100;
  }

  /** Resolves once Bitrix24 accepted this status; rejects with a BitrixApiError otherwise. */
  enqueue(memberId: string, connector: string, line: number, item: DeliveryStatus): Promise<void> {
    return new Promise<void>((resolve, reject) => {
      let q = this.#portals.get(memberId);
      if (!q) this.#portals.set(memberId, (q = { groups: new Map(), timer: undefined, sending: undefined }));
      const key = `${connector}\u0000${line}`;
      let g = q.groups.get(key);
      if (!g) q.groups.set(key, (g = { connector, line, waiters: [] }));
      g.waiters.push({ item: normalize(item), resolve, reject });
      if (!q.timer && !q.sending) q.timer = setTimeout(() => void this.#fire(memberId), this.#windowMs);
    });
  }

  /** Sends everything gathered now, and what gathers while that is sent (shutdown, tests). */
  async flush(): Promise<void> {
    while (this.#portals.size > 0) await Promise.all([...this.#portals.keys()].map((m) => this.#fire(m)));
  }

  async #fire(memberId: string): Promise<void> {
    const q = this.#portals.get(memberId);
    if (!q) return;
    if (q.timer) clearTimeout(q.timer);
    q.timer = undefined;
    if (q.sending) return q.sending;
    const groups = [...q.groups.values()];
    q.groups = new Map();
    q.sending = this.#send(memberId, groups).finally(() => {
      q.sending = undefined;
      // What gathered during the send already waited at least a window.
      if (q.groups.size > 0) void this.#fire(memberId);
      else this.#portals.delete(memberId);
    });
    return q.sending;
  }

  async #send(memberId: string, groups: Group[]): Promise<void> {
    const commands: { call: BatchCall; waiters: Waiter[] }[] = [];
    for (const g of groups) {
      for (let i = 0; i < g.waiters.length; i += this.#maxPerCall) {
        const waiters = g.waiters.slice(i, i + this.#maxPerCall);
        commands.push({
          call: {
            method: DELIVERY_METHOD,
            params: { CONNECTOR: g.connector, LINE: g.line, MESSAGES: waiters.map((w) => w.item) },
          },
          waiters,
        });
      }
    }
    if (commands.length === 0) return;
    const client = this.clients.forPortal(memberId);
    try {
      if (commands.length === 1) {
        const only = commands[0]!;
        settle(only.waiters, accepted(await client.call(DELIVERY_METHOD, only.call.params)));
        return;
      }
      const res = await client.batch(commands.map((c) => c.call));
      res.items.forEach((it, i) => settle(commands[i]!.waiters, it.ok ? accepted(it.result) : it.error));
    } catch (e) {
      for (const c of commands) settle(c.waiters, e);
    }
  }
}

/** `{SUCCESS: true}` (or a bare `true`) is acceptance; anything else is an error for the items. */
function accepted(result: unknown): BitrixApiError | undefined {
  if (result === true || (result && typeof result === 'object' && (result as { SUCCESS?: unknown }).SUCCESS === true))
    return undefined;
  return new BitrixApiError({
    method: DELIVERY_METHOD,
    code: 'B24GW_NOT_ACCEPTED',
    httpStatus: 0,
    description: 'Bitrix24 answered without SUCCESS: true',
  });
}

function settle(waiters: Waiter[], error: unknown): void {
  for (const w of waiters) {
    if (error === undefined) w.resolve();
    else w.reject(error);
  }
}

function normalize(item: DeliveryStatus): DeliveryStatus {
  const ids: unknown = item.message.id;
  const id = Array.isArray(ids) ? ids.map(String) : [String(ids)];
  return {
    im: { chat_id: item.im.chat_id, message_id: item.im.message_id },
    message: { ...item.message, id },
    chat: { id: String(item.chat.id) },
  };
}
