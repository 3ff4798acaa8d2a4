import { describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { decodeForm } from '../wire/form.js';
import { orderKeyOf } from './keys.js';
import { both, errorOf } from './testing/parse.js';
import { parseEvent, type EventCode, type EventMap } from './registry.js';

const eventOf = <C extends EventCode>(name: string, code: C): EventMap[C] => {
  const p = both(name);
  expect(p.known && p.code).toBe(code);
  return p.event as EventMap[C];
};

const keyOf = (name: string) => orderKeyOf(both(name));
const formKeyOf = (body: string) => orderKeyOf(parseEvent(decodeForm(body)));

/** The wire spelling of a bracket key, as http_build_query writes it. */
const wire = (key: string) => key.replace(/\[/g, '%5B').replace(/\]/g, '%5D');
const drop = (body: string, key: string) =>
  body.replace(new RegExp(`&${wire(key).replace(/[%[\]]/g, '\\$&')}=[^&]*`), '');
const set = (body: string, key: string, value: string) =>
  body.replace(new RegExp(`(&${wire(key).replace(/[%[\]]/g, '\\$&')}=)[^&]*`), `$1${value}`);

const CONNECTOR_MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const OPENLINE_MEMBER = 'a223c6b3710f85df22e9377d6c4f7553';

describe('connector siblings', () => {
  it('ONIMCONNECTORMESSAGEADD: ids typed, no external message id, chat.id a string', () => {
    const e = eventOf('imconnector-message-add', 'ONIMCONNECTORMESSAGEADD');
    expect(e.event_handler_id).toBe(555);
    expect(e.ts).toBe(1773759161);
    expect(e.data.CONNECTOR).toBe('myconnector');
    expect(e.data.LINE).toBe(107);
    expect(e.data.MESSAGES).toEqual([
      {
        im: { chat_id: 1807, message_id: 86497 },
        message: { user_id: 27, text: '[b]Klaus Weber:[/b] [br]Guten Tag!' },
        chat: { id: 'channel-123' },
      },
    ]);
  });

  it('ONIMCONNECTORMESSAGEADD shares its chat key with the update and delete of that chat', () => {
    const key = `${CONNECTOR_MEMBER}|im|107|channel-123`;
    expect(keyOf('imconnector-message-add')).toBe(key);
    expect(keyOf('imconnector-message-update')).toBe(key);
    expect(keyOf('imconnector-message-delete')).toBe(key);
  });

  it('ONIMCONNECTORMESSAGEADD without OAuth tokens, with DATA for MESSAGES and eventId for event_handler_id', () => {
    const e = eventOf('imconnector-message-add-no-oauth', 'ONIMCONNECTORMESSAGEADD');
    expect(e.auth.access_token).toBeUndefined();
    expect(e.auth.application_token).toBe('831c76b092f9f135d9b6b36c3a720757');
    const body = formFixture('imconnector-message-add')
      .replace('event_handler_id=555', 'eventId=555')
      .replaceAll(wire('data[MESSAGES]'), wire('data[DATA]'));
    const p = parseEvent(decodeForm(body));
    const v = p.event as EventMap['ONIMCONNECTORMESSAGEADD'];
    expect(v.eventId).toBe(555);
    expect(v.data.MESSAGES).toBeUndefined();
    expect(v.data.DATA?.[0]?.im.message_id).toBe(86497);
    expect(orderKeyOf(p)).toBe(`${CONNECTOR_MEMBER}|im|107|channel-123`);
  });

  it('ONIMCONNECTORDIALOGFINISH: LINE "105" becomes 105, session typed, key shared with the dialog start', () => {
    const e = eventOf('imconnector-dialog-finish', 'ONIMCONNECTORDIALOGFINISH');
    expect(e.eventId).toBe(1);
    expect(e.data.LINE).toBe(105);
    expect(e.data.DATA?.[0]).toEqual({
      connector: { connector_id: 'newcustomconnector', line_id: 105, chat_id: '8', user_id: '0' },
      session: { id: 3282, closed: 'Y', parent_id: 0, close_term: 10 },
      chat: { id: '8' },
      user: { id: '0' },
    });
    expect(keyOf('imconnector-dialog-finish')).toBe(`${OPENLINE_MEMBER}|im|105|8`);
    expect(keyOf('imconnector-dialog-start')).toBe(keyOf('imconnector-dialog-finish'));
  });

  it('ONIMCONNECTORSTATUSDELETE: lower-case keys, line an integer', () => {
    const e = eventOf('imconnector-status-delete', 'ONIMCONNECTORSTATUSDELETE');
    expect(e.event_handler_id).toBe(561);
    expect(e.data).toEqual({ connector: 'myconnector', line: 107 });
  });

  it('ONIMCONNECTORLINEDELETE: data is the bare line id', () => {
    expect(formFixture('imconnector-line-delete')).toContain('&data=107&');
    const e = eventOf('imconnector-line-delete', 'ONIMCONNECTORLINEDELETE');
    expect(e.data).toBe(107);
    expect(e.event_handler_id).toBe(563);
  });

  it('a status delete and a line delete of one line share the line-wide key', () => {
    expect(keyOf('imconnector-status-delete')).toBe(`${CONNECTOR_MEMBER}|im|107|`);
    expect(keyOf('imconnector-line-delete')).toBe(`${CONNECTOR_MEMBER}|im|107|`);
  });
});

describe('open line and session siblings', () => {
  it('ONOPENLINEMESSAGEADD: no CONNECTOR or LINE, ids typed, empty files and ref absent', () => {
    const e = eventOf('openline-message-add', 'ONOPENLINEMESSAGEADD');
    expect(e.eventId).toBe(1);
    expect(e.data.CONNECTOR).toBeUndefined();
    expect(e.data.LINE).toBeUndefined();
    expect(e.data.DATA?.[0]).toEqual({
      connector: { connector_id: 'livechat', line_id: 128, chat_id: '10587', user_id: '1985' },
      chat: { id: '10585' },
      message: { id: '80964', date: '', text: 'hello', attach: '', system: 'N', user_id: 1985 },
      extra: { EXTRA_URL: '' },
    });
  });

  it('ONOPENLINEMESSAGEDELETE: one message id, kept as a string', () => {
    const e = eventOf('openline-message-delete', 'ONOPENLINEMESSAGEDELETE');
    expect(e.data.CONNECTOR).toBe('livechat');
    expect(e.data.LINE).toBe(128);
    expect(e.data.DATA?.[0]).toEqual({
      im: { chat_id: 1024, message_id: 2056 },
      message: { id: '2056' },
      chat: { id: '1024' },
    });
    expect(keyOf('openline-message-delete')).toBe(`${OPENLINE_MEMBER}|ol|128|1024`);
    expect(keyOf('openline-message-update')).toBe(keyOf('openline-message-delete'));
  });

  it('ONSESSIONSTART and ONSESSIONFINISH: session typed, closed Y/N kept', () => {
    const start = eventOf('session-start', 'ONSESSIONSTART');
    expect(start.data.DATA?.[0]).toEqual({
      connector: { connector_id: 'livechat', line_id: 128, chat_id: '10585', user_id: '1984' },
      session: { id: 42, closed: 'N', parent_id: 0, close_term: 60 },
      chat: { id: '10585' },
      user: { id: '1984' },
    });
    const finish = eventOf('session-finish', 'ONSESSIONFINISH');
    expect(finish.data.DATA?.[0]?.session).toEqual({ id: 42, closed: 'Y', parent_id: 0, close_term: 60 });
  });

  it('a session and the messages of its chat share one key, the line taken from the connector', () => {
    const key = `${OPENLINE_MEMBER}|ol|128|10585`;
    expect(keyOf('session-start')).toBe(key);
    expect(keyOf('openline-message-add')).toBe(key);
    expect(keyOf('session-finish')).toBe(key);
  });
});

describe('bot siblings', () => {
  it('ONIMBOTMESSAGEADD personal: no ID or CHAT_ID, TO_CHAT_ID and MESSAGE_ID typed, USER present', () => {
    const e = eventOf('imbot-message-add-personal', 'ONIMBOTMESSAGEADD');
    expect(e.event_handler_id).toBe(403);
    expect(e.ts).toBe(1771928985);
    expect(e.data.BOT['567']).toMatchObject({ BOT_ID: 567, BOT_CODE: 'BOT1', user_id: 567, expires_in: 3600 });
    expect(e.data.BOT['567']?.AUTH?.user_id).toBe(567);
    expect(e.data.PARAMS).toMatchObject({
      MESSAGE: 'Hello',
      MESSAGE_TYPE: 'P',
      DIALOG_ID: '27',
      TO_CHAT_ID: 1407,
      FROM_USER_ID: 27,
      AUTHOR_ID: 27,
      TO_USER_ID: 567,
      MESSAGE_ID: 84331,
      CHAT_USER_COUNT: 2,
      FAKE_RELATION: 0,
      PUSH: 'Y',
      SYSTEM: 'N',
      TEMPLATE_ID: '796c45aa-70e5-45aa-930c-c7fb32710c62',
    });
    expect(e.data.PARAMS).not.toHaveProperty('ID');
    expect(e.data.PARAMS.CHAT_ID).toBeUndefined();
    expect(e.data.USER).toMatchObject({ ID: 27, NAME: 'Svetlana Ivanova', IS_BOT: 'N' });
    expect(keyOf('imbot-message-add-personal')).toBe(`${CONNECTOR_MEMBER}|bot|1407`);
  });

  it('ONIMBOTMESSAGEADD group: chat fields typed, strings stay strings', () => {
    const e = eventOf('imbot-message-add-group', 'ONIMBOTMESSAGEADD');
    expect(e.data.PARAMS).toMatchObject({
      CHAT_ID: 1157,
      TO_CHAT_ID: 1157,
      CHAT_AUTHOR_ID: 27,
      CHAT_PREV_MESSAGE_ID: 80961,
      RID: 27,
      CHAT_AVATAR: '0',
      CHAT_TITLE: 'Brown Chat #18',
      CHAT_ENTITY_ID: '',
      MENTIONED_LIST: { '567': 567 },
      DIALOG_ID: 'chat1157',
    });
    const two = eventOf('imbot-message-add-two-bots', 'ONIMBOTMESSAGEADD');
    expect(Object.keys(two.data.BOT)).toEqual(['567', '569']);
    expect(two.data.BOT['569']?.BOT_ID).toBe(569);
    expect(two.data.PARAMS.MENTIONED_LIST).toEqual({ '567': 567, '569': 569 });
  });

  it('ONIMBOTMESSAGEDELETE: the deleted message typed, USER optional', () => {
    const personal = eventOf('imbot-message-delete-personal', 'ONIMBOTMESSAGEDELETE');
    expect(personal.event_handler_id).toBe(457);
    expect(personal.data.PARAMS).toMatchObject({
      ID: 84525,
      CHAT_ID: 1453,
      AUTHOR_ID: 27,
      MESSAGE_ID: 84525,
      DIALOG_ID: '27',
      TO_USER_ID: 571,
    });
    expect(personal.data.USER?.ID).toBe(27);
    const group = eventOf('imbot-message-delete-group', 'ONIMBOTMESSAGEDELETE');
    expect(group.data.PARAMS).toMatchObject({ ID: 84537, CHAT_ID: 1157, CHAT_ENTITY_TYPE: 'THREAD', LANGUAGE: 'de' });
    expect(group.data.USER).toBeUndefined();
  });

  it('an add, update and delete in one bot chat share member|bot|CHAT_ID', () => {
    const key = `${CONNECTOR_MEMBER}|bot|1157`;
    expect(keyOf('imbot-message-add-group')).toBe(key);
    expect(keyOf('imbot-message-update-group')).toBe(key);
    expect(keyOf('imbot-message-delete-group')).toBe(key);
    expect(keyOf('imbot-message-delete-personal')).toBe(keyOf('imbot-message-update-personal'));
  });

  it('a personal delete without CHAT_ID (documented as possible) is keyed by its dialog', () => {
    const body = drop(formFixture('imbot-message-delete-personal'), 'data[PARAMS][CHAT_ID]');
    expect(body).not.toContain(wire('[CHAT_ID]'));
    expect(formKeyOf(body)).toBe(`${CONNECTOR_MEMBER}|bot|dialog:27`);
  });
});

describe('invalid sibling events say what is wrong and where', () => {
  it('a line delete whose data is not an integer, or missing', () => {
    const body = formFixture('imconnector-line-delete');
    const bad = errorOf(body.replace('&data=107&', '&data=abc&'));
    expect(bad.code).toBe('B24GW_INVALID_EVENT');
    expect(bad.path).toBe('data');
    expect(bad.message).toContain('data: expected an integer, got "abc"');
    const missing = errorOf(body.replace('&data=107&', '&'));
    expect(missing.path).toBe('data');
    expect(missing.message).toContain('required, but missing');
  });

  it('a status delete without its line', () => {
    const e = errorOf(drop(formFixture('imconnector-status-delete'), 'data[line]'));
    expect(e.code).toBe('B24GW_INVALID_EVENT');
    expect(e.path).toBe('data[line]');
  });

  it('a connector message add without text, or without a message list', () => {
    const body = formFixture('imconnector-message-add');
    const noText = errorOf(drop(body, 'data[MESSAGES][0][message][text]'));
    expect(noText.code).toBe('B24GW_INVALID_EVENT');
    expect(noText.path).toBe('data[MESSAGES][0][message][text]');
    const noList = errorOf(body.replace(/&data%5BMESSAGES%5D[^&]*/g, ''));
    expect(noList.path).toBe('data[MESSAGES]');
  });

  it('an open line add whose author is not an integer; a session without its list', () => {
    const add = errorOf(set(formFixture('openline-message-add'), 'data[DATA][0][message][user_id]', 'x'));
    expect(add.code).toBe('B24GW_INVALID_EVENT');
    expect(add.path).toBe('data[DATA][0][message][user_id]');
    // Nothing but DATA is in a session's data, so without it data itself is missing.
    const empty = errorOf(formFixture('session-start').replace(/&data%5BDATA%5D[^&]*/g, ''));
    expect(empty.path).toBe('data');
    const session = errorOf(formFixture('session-start').replaceAll(wire('data[DATA]'), wire('data[ITEMS]')));
    expect(session.path).toBe('data[DATA]');
    expect(session.message).toContain('expected a list under data[DATA] (or data[MESSAGES])');
  });

  it('a bot add without MESSAGE_ID; a bot delete with a non-integer ID', () => {
    const add = errorOf(drop(formFixture('imbot-message-add-group'), 'data[PARAMS][MESSAGE_ID]'));
    expect(add.code).toBe('B24GW_INVALID_EVENT');
    expect(add.path).toBe('data[PARAMS][MESSAGE_ID]');
    const del = errorOf(set(formFixture('imbot-message-delete-group'), 'data[PARAMS][ID]', '84x'));
    expect(del.path).toBe('data[PARAMS][ID]');
    expect(del.message).toContain('expected an integer, got "84x"');
  });
});
