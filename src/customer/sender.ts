import { withDefaults } from '../defaults.js';
import type { BatchCall } from '../effects/bitrix/batch.js';
import type { BitrixClients } from '../effects/bitrix/client.js';
import { silentLogger, type Logger } from '../log.js';
import { QueueLoop, type Lease } from '../queue/loop.js';
import { rounds } from '../queue/rounds.js';
import { defaultSchedule, failedOutcome, retryBudget } from '../queue/schedule.js';
import type { ConnectorStateStore, CustomerChange } from '../store/state/types.js';
import type { PendingCustomerAction, Store } from '../store/types.js';
import type { CustomerAction } from './actions.js';
import {
  createdItem,
  itemOutcomes,
  METHOD_OF,
  notAccepted,
  pack,
  variables,
  withAnswer,
  type Prepared,
} from './commands.js';

export interface CustomerSenderOptions {
  store: Store;
  clients: BitrixClients;
  /** Where a customer's edit finds its author and a read finds the operator's message; without it those need the ids in the action. */
  state?: ConnectorStateStore | undefined;
  owner: string;
  schedule?: readonly number[];
  /** Actions taken per round. Default 1,000. */
  batchSize?: number;
  /** How long a round holds its actions without a renewal; renewed every third of it while it runs. Default 10 s. */
  leaseMs?: number;
  pollMs?: number;
  /** How long actions gather after the first one arrives, so that one request carries many. Default 100 ms. */
  gatherMs?: number;
  logger?: Logger;
  now?: () => number;
}

interface Unit {
  row: PendingCustomerAction;
  action: CustomerAction;
}

/** One action's fate in a wave: taken (with what the state records), or refused or unsent. */
type Fate = { ok: true; change: CustomerChange } | { ok: false; error: unknown };

/**
 * Sends the customer outbox to Bitrix24: everything due is taken at once and sent in waves. A
 * wave takes each chat's next actions of one kind (a chat's new messages together), so the chats
 * of one line share one imconnector command with a MESSAGES list, and the commands of one portal
 * one `batch`; the next wave waits for this one, so a chat's actions reach Bitrix24 in order. An
 * action Bitrix24 refuses is retried on the schedule, then kept as dead; the later actions of its
 * chat go back unsent (their attempt not counted) and wait for it. An instance of the queue loop
 * whose unit is one round: the actions one claim took.
 */
export class CustomerSender {
  private readonly loop: QueueLoop<readonly PendingCustomerAction[]>;
  private readonly o: Required<Omit<CustomerSenderOptions, 'state'>> & Pick<CustomerSenderOptions, 'state'>;

  constructor(options: CustomerSenderOptions) {
    const o = (this.o = withDefaults(
      {
        schedule: defaultSchedule,
        batchSize: 1_000,
        leaseMs: 10_000,
        pollMs: 1_000,
        gatherMs: 100,
        logger: silentLogger,
        now: Date.now,
      },
      options,
    ));
    const budget = retryBudget(o.schedule);
    this.loop = new QueueLoop<readonly PendingCustomerAction[]>({
      ...rounds(
        (now) => o.store.claimCustomerActions(o.owner, now, o.leaseMs, o.batchSize, budget),
        (ids, until) => o.store.renewCustomerActions(ids, o.owner, until),
      ),
      run: (rows, lease) => this.send(rows, lease),
      describe: (rows) => `${rows.length} customer actions`,
      words: { owner: 'customer sender', runner: 'REST calls' },
      leaseMs: o.leaseMs,
      pollMs: o.pollMs,
      gatherMs: o.gatherMs,
      logger: o.logger,
      now: o.now,
    });
  }

  start(): void {
    this.loop.start();
  }

  /** Looks for due actions after the gather window, e.g. right after the channel sent one. */
  wake(): void {
    this.loop.wake();
  }

  stop(): Promise<void> {
    return this.loop.stop();
  }

  /** Sends everything due now. For tests and scripts. */
  drain(): Promise<void> {
    return this.loop.drain();
  }

  private async send(rows: readonly PendingCustomerAction[], lease: Lease): Promise<void> {
    const chats = new Map<string, Unit[]>();
    for (const row of rows) {
      const unit = { row, action: JSON.parse(row.item) as CustomerAction };
      const queue = chats.get(row.orderKey);
      if (queue) queue.push(unit);
      else chats.set(row.orderKey, [unit]);
    }
    // Who wrote each new message of this round, for an edit behind it in the same round.
    const authors = new Map<string, string>();
    while (chats.size > 0) {
      if (lease.signal.aborted) break;
      const wave: Unit[] = [];
      for (const queue of chats.values()) {
        const type = queue[0]!.action.type;
        let n = 0;
        // A chat's new messages go together; anything else one at a time, so that an edit Bitrix24
        // refuses is never overtaken by a later one of the same chat that it took.
        while (n < queue.length && queue[n]!.action.type === type && (n === 0 || type === 'message.created')) n++;
        wave.push(...queue.splice(0, n));
      }
      const fates = await this.sendWave(wave, authors);
      if (lease.lost) return;
      await this.record(wave, fates, chats);
      for (const [key, queue] of chats) if (queue.length === 0) chats.delete(key);
    }
    lease.finishing();
    // Stopped between waves: what is left goes back unsent.
    const left = [...chats.values()].flat().map((u) => u.row.id);
    if (left.length > 0 && !lease.lost) await this.o.store.releaseCustomerActions(left, this.o.owner);
  }

  /** One wave: each portal's commands in one request (a `batch` when there are several), the portals at once. */
  private async sendWave(wave: Unit[], authors: Map<string, string>): Promise<Map<Unit, Fate>> {
    const fates = new Map<Unit, Fate>();
    const byPortal = new Map<string, { unit: Unit; prepared: Prepared }[]>();
    for (const unit of wave) {
      try {
        const prepared = await this.prepare(unit, authors);
        const list = byPortal.get(unit.row.memberId);
        if (list) list.push({ unit, prepared });
        else byPortal.set(unit.row.memberId, [{ unit, prepared }]);
      } catch (error) {
        fates.set(unit, { ok: false, error });
      }
    }
    await Promise.all([...byPortal].map(([memberId, list]) => this.sendPortal(memberId, list, fates)));
    return fates;
  }

  private async sendPortal(
    memberId: string,
    list: { unit: Unit; prepared: Prepared }[],
    fates: Map<Unit, Fate>,
  ): Promise<void> {
    // Commands: one per method, connector and line, its MESSAGES packed under PHP's variable limit; a rename is one of its own.
    const groups = new Map<string, { unit: Unit; prepared: Prepared; vars: number }[]>();
    const commands: { call: BatchCall; members: { unit: Unit; prepared: Prepared }[] }[] = [];
    for (const x of list) {
      const { method, connector, line, params } = x.prepared;
      if (params) {
        commands.push({ call: { method, params }, members: [x] });
        continue;
      }
      const key = JSON.stringify([method, connector, line]);
      const group = groups.get(key);
      const entry = { ...x, vars: variables(x.prepared.items) };
      if (group) group.push(entry);
      else groups.set(key, [entry]);
    }
    for (const group of groups.values()) {
      const { method, connector, line } = group[0]!.prepared;
      for (const part of pack(group)) {
        commands.push({
          call: {
            method,
            params: { CONNECTOR: connector, LINE: line, MESSAGES: part.flatMap((x) => x.prepared.items) },
          },
          members: part,
        });
      }
    }
    const client = this.o.clients.forPortal(memberId);
    const settle = (c: (typeof commands)[number], result: unknown) => {
      if (c.call.params?.MESSAGES === undefined) {
        const ok = result === true || (result as { SUCCESS?: unknown } | null)?.SUCCESS === true;
        const unit = c.members[0]!.unit;
        fates.set(
          unit,
          ok
            ? { ok: true, change: c.members[0]!.prepared.change }
            : { ok: false, error: notAccepted(c.call.method, 'Bitrix24 answered without SUCCESS: true') },
        );
        return;
      }
      const outcomes = itemOutcomes(c.call.method, result, (c.call.params.MESSAGES as unknown[]).length);
      let i = 0;
      for (const m of c.members) {
        // A read of several messages is several items: taken only if all are.
        const mine = outcomes.slice(i, i + m.prepared.items.length);
        i += m.prepared.items.length;
        const failed = mine.find((x) => x instanceof Error);
        fates.set(
          m.unit,
          failed
            ? { ok: false, error: failed }
            : { ok: true, change: withAnswer(m.prepared.change, mine[0] as object) },
        );
      }
    };
    try {
      if (commands.length === 1) {
        const only = commands[0]!;
        settle(only, await client.call(only.call.method, only.call.params));
        return;
      }
      const answer = await client.batch(commands.map((c) => c.call));
      answer.items.forEach((it, i) => {
        const c = commands[i]!;
        if (it.ok) settle(c, it.result);
        else for (const m of c.members) fates.set(m.unit, { ok: false, error: it.error });
      });
    } catch (error) {
      for (const c of commands) for (const m of c.members) fates.set(m.unit, { ok: false, error });
    }
  }

  /** The wave's outcomes written: taken ones kept in the state, then marked sent; refused ones retried or dead, and their chats' later actions released. */
  private async record(wave: Unit[], fates: Map<Unit, Fate>, chats: Map<string, Unit[]>): Promise<void> {
    const now = this.o.now();
    const sent = wave.filter((u) => fates.get(u)?.ok);
    // The state first, so that an action marked sent is in the state too.
    if (this.o.state) {
      const byPortal = new Map<string, CustomerChange[]>();
      for (const u of sent) {
        const fate = fates.get(u) as { ok: true; change: CustomerChange };
        const list = byPortal.get(u.row.memberId);
        if (list) list.push(fate.change);
        else byPortal.set(u.row.memberId, [fate.change]);
      }
      for (const [memberId, changes] of byPortal) {
        // Bitrix24 has them already: a state that cannot keep them loses the mapping, never the messages.
        await this.o.state
          .recordCustomer(memberId, changes, now)
          .catch((err: unknown) =>
            this.o.logger.error({ err, memberId }, 'could not record customer actions in the connector state'),
          );
      }
    }
    if (sent.length > 0)
      await this.o.store.finishCustomerActions(
        sent.map((u) => u.row.id),
        this.o.owner,
        { ok: true },
        now,
      );
    for (const unit of wave) {
      const fate = fates.get(unit);
      if (!fate || fate.ok) continue;
      const outcome = failedOutcome(fate.error, unit.row.attempts, now, this.o.schedule);
      await this.o.store.finishCustomerActions([unit.row.id], this.o.owner, outcome, now);
      const behind = chats.get(unit.row.orderKey)?.splice(0) ?? [];
      if (behind.length > 0)
        await this.o.store.releaseCustomerActions(
          behind.map((u) => u.row.id),
          this.o.owner,
        );
      const log = {
        actionId: unit.row.id,
        type: unit.row.type,
        memberId: unit.row.memberId,
        attempt: unit.row.attempts,
        error: outcome.error,
        heldBack: behind.length,
      };
      if (outcome.retryAt === null) this.o.logger.error(log, 'customer action is dead after its last attempt');
      else this.o.logger.warn(log, 'customer action failed; it will be retried, and its chat waits for it');
    }
  }

  /** The method, MESSAGES items (or parameters) and state change of one action; throws when the state lacks what it needs. */
  private async prepare({ row, action: a }: Unit, authors: Map<string, string>): Promise<Prepared> {
    const method = METHOD_OF[a.type];
    const base = { method, connector: a.connector.id, line: a.connector.line };
    const chatId = a.chat.externalId;
    const key = (messageId: string) => JSON.stringify([row.memberId, a.connector.line, chatId, messageId]);
    switch (a.type) {
      case 'message.created': {
        authors.set(key(a.message.externalId), a.user.externalId);
        const change: CustomerChange = {
          kind: 'created',
          line: a.connector.line,
          connector: a.connector.id,
          externalChatId: chatId,
          externalUserId: a.user.externalId,
          externalMessageId: a.message.externalId,
          text: a.message.text ?? null,
          files: a.message.files ?? [],
          imChatId: null,
          sessionId: null,
          imUserId: null,
        };
        return { ...base, items: [createdItem(a, row.receivedAt)], change };
      }
      case 'message.updated':
      case 'message.deleted': {
        const userId =
          a.user?.externalId ??
          authors.get(key(a.message.externalId)) ??
          (await this.o.state?.customerMessage(row.memberId, a.connector.line, chatId, a.message.externalId))
            ?.externalUserId;
        if (userId === undefined)
          throw notAccepted(
            method,
            `no customer is known for message ${a.message.externalId} of chat ${chatId}: name its author in user.externalId`,
          );
        const ref = {
          line: a.connector.line,
          connector: a.connector.id,
          externalChatId: chatId,
          externalUserId: userId,
          externalMessageId: a.message.externalId,
        };
        if (a.type === 'message.deleted')
          return {
            ...base,
            items: [{ user: { id: userId }, message: { id: a.message.externalId }, chat: { id: chatId } }],
            change: { kind: 'deleted', ...ref },
          };
        const message = {
          id: a.message.externalId,
          ...(a.message.text === undefined ? {} : { text: a.message.text }),
          ...(a.message.files ? { files: a.message.files } : {}),
        };
        return {
          ...base,
          items: [{ user: { id: userId }, message, chat: { id: chatId } }],
          change: { kind: 'updated', ...ref, text: a.message.text ?? null, files: a.message.files },
        };
      }
      case 'message.read': {
        const items: Record<string, unknown>[] = [];
        const read: number[] = [];
        for (const ref of a.messages as { bitrixMessageId?: number; externalId?: string }[]) {
          const by =
            ref.bitrixMessageId !== undefined ? { imMessageId: ref.bitrixMessageId } : { externalId: ref.externalId };
          const view = await this.o.state?.message(row.memberId, { line: a.connector.line, ...by });
          const named =
            ref.bitrixMessageId !== undefined ? `Bitrix24 message ${ref.bitrixMessageId}` : `message ${ref.externalId}`;
          if (!view || view.externalChatId !== chatId || view.externalIds.length === 0) {
            throw notAccepted(
              method,
              `${named} of chat ${chatId} is not one the gateway delivered on line ${a.connector.line}`,
            );
          }
          items.push({
            im: { chat_id: view.imChatId, message_id: view.imMessageId },
            message: { id: view.externalIds },
            chat: { id: chatId },
          });
          read.push(view.imMessageId);
        }
        return { ...base, items, change: { kind: 'read', line: a.connector.line, imMessageIds: read } };
      }
      case 'chat.renamed': {
        const params = {
          CONNECTOR: a.connector.id,
          LINE: a.connector.line,
          CHAT_ID: chatId,
          NAME: a.chat.name,
          ...(a.user ? { USER_ID: a.user.externalId } : {}),
        };
        return {
          ...base,
          items: [],
          params,
          change: {
            kind: 'renamed',
            line: a.connector.line,
            connector: a.connector.id,
            externalChatId: chatId,
            name: a.chat.name,
          },
        };
      }
    }
  }
}
