import { itemsOf } from './lists.js';
import type { ParsedEvent } from './registry.js';

interface ChatItem {
  chat: { id: string };
}

const chatOf = (data: { MESSAGES?: readonly ChatItem[]; DATA?: readonly ChatItem[] }): string =>
  itemsOf(data)[0]?.chat.id ?? '';

/** A bot chat by its Bitrix24 id; a personal dialog sent without one is keyed by its dialog id instead. */
const botChat = (p: { CHAT_ID?: number; TO_CHAT_ID?: number; DIALOG_ID: string }): string =>
  String(p.CHAT_ID ?? p.TO_CHAT_ID ?? `dialog:${p.DIALOG_ID}`);

/** The key of a Chatbots 2.0 chat, for events pulled with Event.get as for those posted. */
export const chatV2Key = (member: string, chatId: number): string => `${member}|chat|${chatId}`;

/**
 * The ordering key of an event: events with one key run one after another, so an edit
 * never overtakes the message it edits. A connector chat is portal + line + external chat;
 * a bot chat is portal + Bitrix24 chat; lifecycle events of a portal share one key. A Chatbots
 * 2.0 event (bot or user) is keyed by its chat's id, so an edit waits for the message it edits
 * whichever way the two came; a bot's deletion, which names no chat, by the bot.
 */
export function orderKeyOf(parsed: ParsedEvent): string | null {
  const member = parsed.event.auth.member_id;
  if (!parsed.known) return null;
  const e = parsed.event;
  switch (e.event) {
    case 'ONIMCONNECTORMESSAGEADD':
    case 'ONIMCONNECTORMESSAGEUPDATE':
    case 'ONIMCONNECTORMESSAGEDELETE':
    case 'ONIMCONNECTORDIALOGSTART':
    case 'ONIMCONNECTORDIALOGFINISH':
      return `${member}|im|${e.data.LINE}|${chatOf(e.data)}`;
    // Line-wide events take the line's key with an empty chat: a status and a line delete of one line share it, and no external chat id is empty.
    case 'ONIMCONNECTORSTATUSDELETE':
      return `${member}|im|${e.data.line}|`;
    case 'ONIMCONNECTORLINEDELETE':
      return `${member}|im|${e.data}|`;
    case 'ONOPENLINEMESSAGEUPDATE':
    case 'ONOPENLINEMESSAGEDELETE':
      return `${member}|ol|${e.data.LINE}|${chatOf(e.data)}`;
    // These pages show no LINE beside DATA; the item's connector names the line.
    case 'ONOPENLINEMESSAGEADD':
    case 'ONSESSIONSTART':
    case 'ONSESSIONFINISH': {
      const first = itemsOf<{ connector: { line_id: number }; chat: { id: string } }>(e.data)[0];
      return `${member}|ol|${e.data.LINE ?? first?.connector.line_id ?? ''}|${first?.chat.id ?? ''}`;
    }
    case 'ONIMBOTMESSAGEADD':
    case 'ONIMBOTMESSAGEUPDATE':
    case 'ONIMBOTMESSAGEDELETE':
      return `${member}|bot|${botChat(e.data.PARAMS)}`;
    case 'ONAPPINSTALL':
    case 'ONAPPUNINSTALL':
    case 'ONAPPTEST':
      return `${member}|app`;
    case 'ONIMBOTV2DELETE':
      return `${member}|botv2|${e.data.bot.id}`;
    case 'ONIMBOTV2MESSAGEADD':
    case 'ONIMBOTV2MESSAGEUPDATE':
    case 'ONIMBOTV2MESSAGEDELETE':
    case 'ONIMBOTV2JOINCHAT':
    case 'ONIMBOTV2CONTEXTGET':
    case 'ONIMBOTV2COMMANDADD':
    case 'ONIMBOTV2REACTIONCHANGE':
    case 'ONIMV2MESSAGEADD':
    case 'ONIMV2MESSAGEUPDATE':
    case 'ONIMV2MESSAGEDELETE':
    case 'ONIMV2REACTIONCHANGE':
    case 'ONIMV2JOINCHAT':
      return chatV2Key(member, e.data.chat.id);
  }
}
