import { applyEvent, stateCodeOf } from './apply/index.js';
import { readApplied, readChat, readChatByImId, readDialogs, readLines, readMessage, readMessages } from './reads.js';
import type { Work } from './sql.js';
import type {
  ChatView,
  ConnectorStateStore,
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
 * The connector state over SQL, for either database: every apply and read is written once (as Work,
 * see sql.ts); a database only says how it runs a piece of work in a transaction.
 */
export abstract class SqlConnectorState implements ConnectorStateStore {
  /** Settles once the state's tables are created or upgraded. */
  abstract readonly ready: Promise<void>;
  /** Runs `work` in one write transaction: all of it, or nothing if it throws. */
  protected abstract write<T>(work: Work<T>): Promise<T>;
  /** Runs `work` on one consistent view of the data. */
  protected abstract read<T>(work: Work<T>): Promise<T>;

  async apply(event: StateEvent, meta: EventMeta): Promise<boolean> {
    const code = stateCodeOf(event);
    if (code === undefined) return false;
    return this.write(applyEvent(code, event.data, meta));
  }

  async applied(eventId: number): Promise<boolean> {
    return this.read(readApplied(eventId));
  }

  async message(memberId: string, ref: MessageRef): Promise<MessageView | undefined> {
    return this.read(readMessage(memberId, ref));
  }

  async messages(memberId: string, filter: MessageFilter = {}): Promise<MessageView[]> {
    return this.read(readMessages(memberId, filter));
  }

  async chat(memberId: string, line: number, externalChatId: string): Promise<ChatView | undefined> {
    return this.read(readChat(memberId, line, externalChatId));
  }

  async chatByImId(memberId: string, imChatId: number): Promise<ChatView | undefined> {
    return this.read(readChatByImId(memberId, imChatId));
  }

  async dialogs(memberId: string, filter: DialogFilter = {}): Promise<DialogView[]> {
    return this.read(readDialogs(memberId, filter));
  }

  async lines(memberId: string): Promise<LineView[]> {
    return this.read(readLines(memberId));
  }
}
