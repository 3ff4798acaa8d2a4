import { describe, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { decodeForm } from '../wire/form.js';
import { both, errorOf } from './testing/parse.js';
import { parseEvent, parseFetched, type EventMap } from './registry.js';

describe('seed events, form and JSON', () => {
  it('ONIMCONNECTORMESSAGEUPDATE: integers typed, message.id a list, chat.id a string', () => {
    const p = both('imconnector-message-update');
    expect(p.known && p.code).toBe('ONIMCONNECTORMESSAGEUPDATE');
    const e = p.event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(e.event_handler_id).toBe(557);
    expect(e.ts).toBe(1773760030);
    expect(e.data.LINE).toBe(107);
    expect(e.data.CONNECTOR).toBe('myconnector');
    expect(e.data.MESSAGES).toEqual([
      {
        im: { chat_id: 1807, message_id: 86501 },
        message: { id: ['ext-msg-005'], text: '[b]Samantha Johnson:[/b][br] What questions do you have?' },
        chat: { id: 'channel-123' },
      },
    ]);
    expect(e.auth).toMatchObject({
      member_id: 'bac1cd5c8940947a75e0d71b1a84e348',
      user_id: 27,
      expires_in: 3600,
      expires: 1773763630,
    });
  });

  it('ONIMCONNECTORMESSAGEDELETE: message.id stays a single string', () => {
    const e = both('imconnector-message-delete').event as EventMap['ONIMCONNECTORMESSAGEDELETE'];
    expect(e.data.MESSAGES?.[0]?.message.id).toBe('ext-msg-005');
    expect(e.data.MESSAGES?.[0]?.im).toEqual({ chat_id: 1807, message_id: 86501 });
  });

  it('ONIMCONNECTORDIALOGSTART: DATA list and eventId accepted', () => {
    const e = both('imconnector-dialog-start').event as EventMap['ONIMCONNECTORDIALOGSTART'];
    expect(e.eventId).toBe(1);
    expect(e.event_handler_id).toBeUndefined();
    expect(e.data.LINE).toBe(105);
    expect(e.data.DATA?.[0]).toEqual({
      connector: { connector_id: 'newcustomconnector', line_id: 105, chat_id: '8', user_id: '0' },
      session: { id: 3282, closed: 'N', parent_id: 0, close_term: 10 },
      chat: { id: '8' },
      user: { id: '0' },
    });
  });

  it('ONOPENLINEMESSAGEUPDATE: DATA list, ids kept as strings', () => {
    const e = both('openline-message-update').event as EventMap['ONOPENLINEMESSAGEUPDATE'];
    expect(e.eventId).toBe(1);
    expect(e.data.DATA?.[0]).toEqual({
      im: { chat_id: 1024, message_id: 2056 },
      message: { id: ['2056'] },
      chat: { id: '1024' },
    });
  });

  it('ONIMBOTMESSAGEUPDATE: BOT keyed by id with its own AUTH, PARAMS typed, USER optional', () => {
    const e = both('imbot-message-update-group').event as EventMap['ONIMBOTMESSAGEUPDATE'];
    const bot = e.data.BOT['571'];
    expect(bot?.BOT_ID).toBe(571);
    expect(bot?.BOT_CODE).toBe('BOT');
    expect(bot?.AUTH?.access_token).toBe('2c1da06900071b00084400023bf0f107464a9d34dc68a6b185f');
    expect(bot?.AUTH?.user_id).toBe(571);
    expect(e.data.PARAMS).toMatchObject({
      ID: 84537,
      CHAT_ID: 1157,
      DIALOG_ID: 'chat1157',
      MENTIONED_LIST: { '571': 571 },
      CHAT_ENTITY_ID: '',
    });
    expect(e.data.USER).toBeUndefined();
    expect(e.event_handler_id).toBe(455);
    const personal = both('imbot-message-update-personal').event as EventMap['ONIMBOTMESSAGEUPDATE'];
    expect(personal.data.USER).toMatchObject({ ID: 27, NAME: 'Svetlana Ivanova', IS_BOT: 'N' });
  });

  it('lifecycle: install, uninstall, test', () => {
    const install = both('app-install').event as EventMap['ONAPPINSTALL'];
    expect(install.data).toEqual({ VERSION: '1.0.0', ACTIVE: 'Y', INSTALLED: 'Y', LANGUAGE_ID: 'de' });
    expect(install.auth.refresh_token).toBe('4s386p3q0tr8dy89xvmt96234v3dljg8');
    const uninstall = both('app-uninstall').event as EventMap['ONAPPUNINSTALL'];
    expect(uninstall.data.CLEAN).toBe(1);
    expect(both('app-test').code).toBe('ONAPPTEST');
  });
});

describe('documented variants and edge cases', () => {
  it('MESSAGES sent as DATA, and eventId for event_handler_id', () => {
    const d = both('imconnector-message-update-data-variant').event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(d.data.DATA?.[0]?.message.id).toEqual(['ext-msg-005']);
    const v = both('imconnector-message-update-eventid').event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(v.eventId).toBe(557);
  });

  it('a single string message.id of an update becomes a one-item list', () => {
    const e = both('imconnector-message-update-id-string').event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(e.data.MESSAGES?.[0]?.message.id).toEqual(['ext-msg-005']);
  });

  it('an update whose message.id list was empty (left out of the body by PHP) has an empty list', () => {
    const body = formFixture('imconnector-message-update').replace(
      '&data%5BMESSAGES%5D%5B0%5D%5Bmessage%5D%5Bid%5D%5B0%5D=ext-msg-005',
      '',
    );
    const e = parseEvent(decodeForm(body)).event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(e.data.MESSAGES?.[0]?.message.id).toEqual([]);
  });

  it('a numeric-looking string keeps its leading zeros', () => {
    const e = both('imconnector-message-update-chat-id-leading-zeros').event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(e.data.MESSAGES?.[0]?.chat.id).toBe('00123');
  });

  it('several messages, unicode and special characters survive exactly', () => {
    expect(
      (both('imconnector-message-update-three-messages').event as EventMap['ONIMCONNECTORMESSAGEUPDATE']).data.MESSAGES,
    ).toHaveLength(3);
    const u = both('imconnector-message-update-unicode').event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(u.data.MESSAGES?.[0]?.message.text).toMatch(/[\u0400-\u04FF]/);
    const s = both('imconnector-message-update-special-chars').event as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    expect(s.data.MESSAGES?.[0]?.message.text).toContain('&');
  });

  it('a bot event without USER', () => {
    const e = both('imbot-message-update-no-user').event as EventMap['ONIMBOTMESSAGEUPDATE'];
    expect(e.data.USER).toBeUndefined();
  });

  it('an unknown event code is kept as an unknown event', () => {
    // Without a schema nothing is typed: a form body gives strings, a JSON body its own types.
    const p = parseEvent(decodeForm(formFixture('unknown-event-crm-deal-update')));
    expect(p.known).toBe(false);
    expect(p.code).toBe('ONCRMDEALUPDATE');
    expect(p.event.data).toEqual({ FIELDS: { ID: '7' } });
  });

  it('camel-case codes are accepted and normalised', () => {
    const body = formFixture('imconnector-message-update').replace(
      'event=ONIMCONNECTORMESSAGEUPDATE',
      'event=OnImConnectorMessageUpdate',
    );
    const p = parseEvent(decodeForm(body));
    expect(p.known && p.event.event).toBe('ONIMCONNECTORMESSAGEUPDATE');
  });
});

describe('invalid events say what is wrong and where', () => {
  const seed = formFixture('imconnector-message-update');

  it('a non-integer where an integer is documented', () => {
    const e = errorOf(seed.replace('data%5BLINE%5D=107', 'data%5BLINE%5D=abc'));
    expect(e.code).toBe('B24GW_INVALID_EVENT');
    expect(e.path).toBe('data[LINE]');
    expect(e.message).toContain('data[LINE]: expected an integer, got "abc"');
  });

  it('a list or an object where a string is documented, shown short', () => {
    const e = errorOf(
      seed
        .replace('data%5BCONNECTOR%5D=', 'data%5BCONNECTOR%5D%5Bx%5D=')
        .replace(/data%5BLINE%5D=107/, 'data%5BLINE%5D=' + '9'.repeat(60)),
    );
    expect(e.message).toContain('data[CONNECTOR]: expected a string, got an object');
    expect(e.message).toContain(`data[LINE]: expected an integer, got "${'9'.repeat(39)}…`);
  });

  it('a missing required part', () => {
    const e = errorOf(seed.replace(/data%5BMESSAGES%5D%5B0%5D%5Bim%5D%5Bchat_id%5D=1807&?/, ''));
    expect(e.path).toBe('data[MESSAGES][0][im][chat_id]');
    expect(e.message).toContain('required, but missing');
  });

  it('no message list at all', () => {
    const e = errorOf(seed.replace(/&data%5BMESSAGES%5D[^&]*/g, ''));
    expect(e.path).toBe('data[MESSAGES]');
  });

  it('no event code, or only spaces', () => {
    expect(errorOf('data[a]=1').code).toBe('B24GW_MISSING_EVENT');
    expect(errorOf('data[a]=1').path).toBe('event');
    expect(errorOf(seed.replace('event=ONIMCONNECTORMESSAGEUPDATE', 'event=%20%20')).code).toBe('B24GW_MISSING_EVENT');
  });

  it('a code with spaces around it is read without them', () => {
    const p = parseEvent(
      decodeForm(seed.replace('event=ONIMCONNECTORMESSAGEUPDATE', 'event=+OnImConnectorMessageUpdate+')),
    );
    expect(p.known && p.code).toBe('ONIMCONNECTORMESSAGEUPDATE');
  });

  it('an unknown event still needs its auth', () => {
    const e = errorOf('event=ONCRMDEALUPDATE&data[FIELDS][ID]=7&ts=1');
    expect(e.code).toBe('B24GW_INVALID_EVENT');
    expect(e.path).toBe('auth');
    expect(e.message).toBe('ONCRMDEALUPDATE is invalid: auth: required, but missing');
    expect(errorOf('event=ONCRMDEALUPDATE&auth=x&ts=1').message).toMatch(
      /^ONCRMDEALUPDATE is invalid: auth: (?!required)/,
    );
  });

  it('five problems are all named; past five, the first five and how many more', () => {
    const five = [
      'event_handler_id=557',
      'data%5BLINE%5D=107',
      'chat_id%5D=1807',
      'message_id%5D=86501',
      'ts=1773760030',
    ].reduce((body, pair) => body.replace(pair, pair.replace(/=.*/, '=x')), seed);
    const named = (message: string) => message.split(': expected an integer').length - 1;
    const all = errorOf(five).message;
    expect(named(all)).toBe(5);
    expect(all).toMatch(/got "x"$/);
    const more = errorOf(five.replace('auth%5Bexpires%5D=1773763630', 'auth%5Bexpires%5D=x')).message;
    expect(named(more)).toBe(5);
    expect(more).toMatch(/got "x" \(and 1 more\)$/);
  });

  it('an Event.get item: what is wrong with it, or that it is no object', () => {
    const bad = (item: unknown) => {
      try {
        parseFetched(item);
      } catch (e) {
        return (e as Error).message;
      }
      throw new Error('accepted');
    };
    expect(bad({ type: 'ONIMBOTV2MESSAGEADD' })).toBe(
      'Event.get item is invalid: eventId: required, but missing; data: required, but missing',
    );
    expect(bad({ eventId: 'abc', type: 'ONIMBOTV2MESSAGEADD', data: {} })).toMatch(
      /^Event\.get item is invalid: eventId: expected an integer, got "abc"/,
    );
    expect(bad('x')).toMatch(/^Event\.get item is invalid: body: /);
  });
});
