import { applyEvent, stateCodeOf } from './apply/index.js';
import { recordCustomer, recordDelivered } from './apply/customers.js';
import { SeenLines, type ApplyMeta } from './apply/lines.js';
import {
  readApplied,
  readChat,
  readChatByImId,
  readChats,
  readConversation,
  readCustomerMessage,
  readDialogs,
  readLines,
  readMessage,
  readMessages,
} from './reads.js';
import type { Runner } from '../sql/work.js';
import type {
  ChatView,
  ConnectorStateStore,
  ConversationEntry,
  CustomerChange,
  CustomerMessageView,
  DeliveredIds,
  DialogFilter,
  DialogView,
  EventMeta,
  LineView,
  MessageFilter,
  MessageRef,
  MessageView,
  StateEvent,
} from './types.js';

export type * from './types.js';

/**
 * The connector state in the store's database, for either dialect: every apply and read is written
 * once (as Work, see sql/work.ts) and run by the store's runner: an apply in one write transaction,
 * a read on one consistent view. Its tables are the store's (its migrations create them).
 */
export class ConnectorState implements ConnectorStateStore {
  private readonly seenLines = new SeenLines();

  constructor(private readonly db: Runner) {}

  async apply(event: StateEvent, meta: EventMeta): Promise<boolean> {
    const code = stateCodeOf(event);
    if (code === undefined) return false;
    return this.withSeenLines((seen) => this.db.write(applyEvent(code, event.data, { ...meta, seen })));
  }

  /** A write given the lines seen lately; the lines it touched are forgotten if it fails (nothing of it was stored). */
  private async withSeenLines<T>(write: (seen: NonNullable<ApplyMeta['seen']>) => Promise<T>): Promise<T> {
    const seen = { lines: this.seenLines, touched: [] as string[] };
    try {
      return await write(seen);
    } catch (e) {
      this.seenLines.forget(seen.touched);
      throw e;
    }
  }

  async applied(eventId: number): Promise<boolean> {
    return this.db.read(readApplied(eventId));
  }

  async message(memberId: string, ref: MessageRef): Promise<MessageView | undefined> {
    return this.db.read(readMessage(memberId, ref));
  }

  async messages(memberId: string, filter: MessageFilter = {}): Promise<MessageView[]> {
    return this.db.read(readMessages(memberId, filter));
  }

  async chat(memberId: string, line: number, externalChatId: string): Promise<ChatView | undefined> {
    return this.db.read(readChat(memberId, line, externalChatId));
  }

  async chatByImId(memberId: string, imChatId: number): Promise<ChatView | undefined> {
    return this.db.read(readChatByImId(memberId, imChatId));
  }

  async chats(memberId: string, filter: { line?: number } = {}): Promise<ChatView[]> {
    return this.db.read(readChats(memberId, filter));
  }

  async dialogs(memberId: string, filter: DialogFilter = {}): Promise<DialogView[]> {
    return this.db.read(readDialogs(memberId, filter));
  }

  async lines(memberId: string): Promise<LineView[]> {
    return this.db.read(readLines(memberId));
  }

  async recordCustomer(memberId: string, changes: readonly CustomerChange[], at: number): Promise<void> {
    if (changes.length > 0)
      await this.withSeenLines((seen) => this.db.write(recordCustomer(memberId, changes, at, seen)));
  }

  async recordDelivered(memberId: string, delivered: readonly DeliveredIds[]): Promise<void> {
    // Each id on its own: inserts that need not hold together, without a transaction's two round trips.
    if (delivered.length > 0) await this.db.once(recordDelivered(memberId, delivered));
  }

  async customerMessage(
    memberId: string,
    line: number,
    externalChatId: string,
    externalMessageId: string,
  ): Promise<CustomerMessageView | undefined> {
    return this.db.read(readCustomerMessage(memberId, line, externalChatId, externalMessageId));
  }

  async conversation(memberId: string, line: number, externalChatId: string): Promise<ConversationEntry[]> {
    return this.db.read(readConversation(memberId, line, externalChatId));
  }
}
