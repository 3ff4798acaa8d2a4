// Any event's key fields for the demo's display: read loosely, whatever the event holds.
/* eslint-disable @typescript-eslint/no-unsafe-member-access, @typescript-eslint/no-unsafe-argument */
import { quote, short } from './format.js';

/** The key fields of an event, short. */
export function keyFields(code: string, payload: Record<string, unknown>): string {
  const data = (payload.data ?? {}) as Record<string, any>; // eslint-disable-line @typescript-eslint/no-explicit-any
  const auth = (payload.auth ?? {}) as Record<string, unknown>;
  const items = (data.MESSAGES ?? data.DATA ?? []) as Record<string, any>[]; // eslint-disable-line @typescript-eslint/no-explicit-any
  const first = items[0] ?? {};
  switch (code) {
    case 'ONAPPINSTALL':
      return `member_id ${short(auth.member_id)}, domain ${String(auth.domain)}, access_token ${short(auth.access_token, 6)}, application_token ${short(auth.application_token, 6)}`;
    case 'ONIMCONNECTORDIALOGSTART':
    case 'ONIMCONNECTORDIALOGFINISH':
      return `CONNECTOR ${data.CONNECTOR}, LINE ${data.LINE}, chat ${first.chat?.id}, session ${first.session?.id}`;
    case 'ONIMCONNECTORMESSAGEADD':
      return `chat ${first.im?.chat_id}, message ${first.im?.message_id}, text ${quote(first.message?.text, 60)}`;
    case 'ONIMCONNECTORMESSAGEUPDATE':
      return `message ${first.im?.message_id}, message.id ${JSON.stringify(first.message?.id)}, text ${quote(first.message?.text, 50)}`;
    case 'ONIMCONNECTORMESSAGEDELETE':
      return `message ${first.im?.message_id}, message.id ${JSON.stringify(first.message?.id)}`;
    case 'ONOPENLINEMESSAGEUPDATE':
      return `chat ${first.im?.chat_id}, message ${first.im?.message_id}`;
    case 'ONIMBOTMESSAGEADD':
    case 'ONIMBOTMESSAGEUPDATE': {
      const params = (data.PARAMS ?? {}) as Record<string, unknown>;
      return `bot ${Object.keys(data.BOT ?? {}).join(',')}, chat ${params.CHAT_ID ?? params.TO_CHAT_ID}, message ${params.MESSAGE_ID}, ${quote(params.MESSAGE_ORIGINAL ?? params.MESSAGE, 60)}`;
    }
    default:
      return '';
  }
}
