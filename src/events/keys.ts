import type { ParsedEvent } from './registry.js';

interface ChatItem {
  chat?: { id?: string };
}

/**
 * The ordering key of an event: events with one key run one after another, so an edit
 * never overtakes the message it edits. A connector chat is portal + line + external chat;
 * a bot chat is portal + Bitrix24 chat; lifecycle events of a portal share one key.
 */
export function orderKeyOf(parsed: ParsedEvent): string | null {
  const member = parsed.event.auth.member_id;
  if (!parsed.known) return null;
  const e = parsed.event;
  switch (e.event) {
    case 'ONIMCONNECTORMESSAGEUPDATE':
    case 'ONIMCONNECTORMESSAGEDELETE':
    case 'ONIMCONNECTORDIALOGSTART':
    case 'ONOPENLINEMESSAGEUPDATE': {
      const items = (e.data.MESSAGES ?? e.data.DATA ?? []) as ChatItem[];
      const prefix = e.event === 'ONOPENLINEMESSAGEUPDATE' ? 'ol' : 'im';
      return `${member}|${prefix}|${e.data.LINE}|${items[0]?.chat?.id ?? ''}`;
    }
    case 'ONIMBOTMESSAGEUPDATE':
      return `${member}|bot|${e.data.PARAMS.CHAT_ID}`;
    case 'ONAPPINSTALL':
    case 'ONAPPUNINSTALL':
    case 'ONAPPTEST':
      return `${member}|app`;
  }
}
