import { describe, expect, it } from 'vitest';
import { fetchFixture, formFixture } from '../../test/fixtures.js';
import { GatewayError } from '../errors.js';
import { decodeForm } from '../wire/form.js';
import { orderKeyOf } from './keys.js';
import { chatbotsV2Codes, parseEvent, parseFetched, type EventMap } from './registry.js';
import { allForms, asStored, errorOf } from './testing/parse.js';

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const BOT_ACCESS_TOKEN = '0b02a0690000071b0008440001b0007a16b39202c2490f015';

/** The webhook form of a fixture, typed as its handler receives it. */
const hook = <C extends keyof EventMap>(name: string, code: C): EventMap[C] => {
  const { webhook } = allForms(name);
  expect(webhook.known && webhook.code).toBe(code);
  return asStored(webhook.event) as EventMap[C];
};

const fixtures = [
  'imbotv2-message-add',
  'imbotv2-message-update',
  'imbotv2-message-delete',
  'imbotv2-join-chat',
  'imbotv2-delete',
  'imbotv2-context-get',
  'imbotv2-context-get-link',
  'imbotv2-command-add',
  'imbotv2-reaction-change',
  'imbotv2-message-add-personal-types',
  'imv2-message-add',
  'imv2-message-update',
  'imv2-message-delete',
  'imv2-reaction-change',
  'imv2-join-chat',
];

describe('Chatbots 2.0 events: the webhook form and the Event.get form give one typed object', () => {
  it('every code has a fixture, and every fixture parses alike from its form body, its JSON body and its Event.get item', () => {
    const codes = new Set(fixtures.map((name) => allForms(name).webhook.code));
    expect([...codes].sort()).toEqual([...chatbotsV2Codes].sort());
  });

  it('ONIMBOTV2MESSAGEADD: the documented types, not the strings the webhook carries', () => {
    const e = hook('imbotv2-message-add', 'ONIMBOTV2MESSAGEADD');
    expect(e.data.message).toStrictEqual({
      id: 789,
      chatId: 5,
      authorId: 1,
      date: '2025-01-15T10:30:00+02:00',
      text: 'Hello bot!',
      isSystem: false,
      uuid: '',
      params: {},
      viewedByOthers: false,
    });
    expect(e.data.chat).toStrictEqual({
      id: 5,
      dialogId: 'chat5',
      type: 'chat',
      name: 'Support Chat',
      entityType: '',
      owner: 1,
      avatar: '',
      color: '#ab7761',
    });
    expect(e.data.user).toMatchObject({
      id: 1,
      active: true,
      extranet: false,
      bot: false,
      idle: false,
      lastActivityDate: '2025-01-15T10:29:00+02:00',
      absent: false,
      departments: [1],
      phones: false,
    });
    expect(e.data.language).toBe('en');
    // The webhook's bot: {id, code, auth}, its auth typed too.
    expect(e.data.bot).toMatchObject({
      id: 456,
      code: 'support_bot',
      auth: { access_token: BOT_ACCESS_TOKEN, expires: 1772093963, user_id: 27 },
    });
    expect(e.ts).toBe(1772093963);
    expect(e.auth).toMatchObject({ member_id: MEMBER, user_id: 27 });
  });

  it('Event.get gives the full bot object, typed, without auth', () => {
    const { fetched } = allForms('imbotv2-message-add');
    expect(fetched).toMatchObject({
      known: true,
      code: 'ONIMBOTV2MESSAGEADD',
      eventId: 1001,
      date: '2025-01-15T10:30:00+02:00',
    });
    expect(asStored(fetched.data as EventMap['ONIMBOTV2MESSAGEADD']['data']).bot).toStrictEqual({
      id: 456,
      code: 'support_bot',
      type: 'bot',
      isHidden: false,
      isSupportOpenline: false,
      isReactionsEnabled: true,
      language: 'en',
      moduleId: 'rest',
      eventMode: 'fetch',
      countMessage: 150,
      countCommand: 3,
      countChat: 12,
      countUser: 45,
    });
  });

  it('where a webhook cannot tell, the reading decided from the docs', () => {
    const e = hook('imbotv2-message-add-personal-types', 'ONIMBOTV2MESSAGEADD');
    // dialogId and strings that look like numbers stay strings.
    expect(e.data.chat.dialogId).toBe('1');
    expect(e.data.message.text).toBe('00123');
    expect(e.data.user.workPosition).toBe('007');
    // string|false: "0" is false, a date stays a date.
    expect(e.data.user.idle).toBe('2025-01-15T10:45:00+02:00');
    expect(e.data.user.lastActivityDate).toBe(false);
    expect(e.data.user.absent).toBe('2025-01-20T00:00:00+02:00');
    // object|boolean.
    expect(e.data.user.phones).toStrictEqual({ workPhone: '+49 30 1234567', personalMobile: '0049 170 0000000' });
    // An empty list is left out of a webhook: [].
    expect(e.data.user.departments).toStrictEqual([]);
    // X|null: null is left out (a webhook cannot send it); 0 stays 0.
    expect(e.data.chat).not.toHaveProperty('color');
    expect(e.data.chat).not.toHaveProperty('diskFolderId');
    expect(e.data.chat).not.toHaveProperty('parentMessageId');
    expect(e.data.chat.parentChatId).toBe(0);
    expect(e.data.chat.backgroundId).toBe('azure');
    expect(e.data.chat.isNew).toBe(true);
    expect(e.data.message.forward).toStrictEqual({
      id: 'chat5/790',
      userId: 3,
      chatId: 5,
      date: '2025-01-15T10:31:00+02:00',
    });
    // Objects of no documented shape are read as a webhook carries them, in either mode.
    expect(e.data.message.params).toStrictEqual({ FILE_ID: ['138', '139'], IS_EDITED: 'N', URL_ONLY: '1' });
    expect(e.data.chat.entityLink).toStrictEqual({
      type: 'TASKS',
      url: '/company/personal/user/1/tasks/task/view/164/',
      id: '164',
    });
  });

  it('the other bot events', () => {
    const update = hook('imbotv2-message-update', 'ONIMBOTV2MESSAGEUPDATE');
    expect(update.data.message).toMatchObject({ id: 789, text: 'Hello bot! (edited)' });
    expect(hook('imbotv2-message-delete', 'ONIMBOTV2MESSAGEDELETE').data.messageId).toBe(789);
    const join = hook('imbotv2-join-chat', 'ONIMBOTV2JOINCHAT');
    expect(join.data.dialogId).toBe('chat5');
    expect(join.data.chat.name).toBe('Project Chat');
    expect(hook('imbotv2-delete', 'ONIMBOTV2DELETE').data).toMatchObject({ bot: { id: 456, code: 'support_bot' } });
    const context = hook('imbotv2-context-get', 'ONIMBOTV2CONTEXTGET');
    expect(context.data.dialogId).toBe('1');
    expect(context.data.context).toStrictEqual({ entityId: '164', entityType: 'task', source: 'link' });
    const link = hook('imbotv2-context-get-link', 'ONIMBOTV2CONTEXTGET');
    expect(link.data).toMatchObject({
      dialogId: '274',
      context: { action: 'openTask', taskId: '456' },
      chat: { id: 4511, dialogId: '274' },
      user: { id: 274 },
    });
    const command = hook('imbotv2-command-add', 'ONIMBOTV2COMMANDADD');
    expect(command.data.command).toStrictEqual({ id: 78, command: '/help', params: 'topic', context: 'textarea' });
    expect(command.data.message.id).toBe(790);
    const reaction = hook('imbotv2-reaction-change', 'ONIMBOTV2REACTIONCHANGE');
    expect(reaction.data).toMatchObject({
      reaction: 'like',
      action: 'add',
      message: { id: 789, authorId: 456, viewedByOthers: true },
    });
  });

  it('the user events (im.v2)', () => {
    const add = hook('imv2-message-add', 'ONIMV2MESSAGEADD');
    expect(add.data.chat).toMatchObject({
      id: 5,
      messageType: 'C',
      diskFolderId: 42,
      parentChatId: 0,
      parentMessageId: 0,
      isNew: false,
      textFieldEnabled: 'Y',
    });
    // Empty objects are left out of a webhook: so they are in either form.
    expect(add.data.chat).not.toHaveProperty('entityLink');
    expect(add.data.chat).not.toHaveProperty('permissions');
    expect(add.data.user).toMatchObject({
      lastActivityDate: false,
      mobileLastDate: false,
      desktopLastDate: false,
      email: 'john@example.com',
    });
    expect(add.data).not.toHaveProperty('bot');
    expect(hook('imv2-message-update', 'ONIMV2MESSAGEUPDATE').data.message.text).toBe('Hello everyone! (edited)');
    expect(hook('imv2-message-delete', 'ONIMV2MESSAGEDELETE').data.messageId).toBe(5012);
    expect(hook('imv2-reaction-change', 'ONIMV2REACTIONCHANGE').data).toMatchObject({
      reaction: 'like',
      action: 'delete',
    });
    expect(hook('imv2-join-chat', 'ONIMV2JOINCHAT').data.dialogId).toBe('chat5');
  });

  it('codes in any case', () => {
    const body = formFixture('imbotv2-message-add').replace('event=ONIMBOTV2MESSAGEADD', 'event=OnImBotV2MessageAdd');
    expect(parseEvent(decodeForm(body))).toMatchObject({ known: true, code: 'ONIMBOTV2MESSAGEADD' });
    const item = { ...(fetchFixture('imv2-join-chat') as object), type: 'onImV2JoinChat' };
    expect(parseFetched(item)).toMatchObject({ known: true, code: 'ONIMV2JOINCHAT' });
  });
});

describe('refusals name the field', () => {
  it('a webhook boolean that is neither "1" nor "0"', () => {
    const e = errorOf(
      formFixture('imbotv2-message-add').replace(
        'data%5Bmessage%5D%5BisSystem%5D=0',
        'data%5Bmessage%5D%5BisSystem%5D=N',
      ),
    );
    expect(e.code).toBe('B24GW_INVALID_EVENT');
    expect(e.message).toContain('data[message][isSystem]: expected a boolean, got "N"');
  });

  it('a missing message id', () => {
    const e = errorOf(formFixture('imbotv2-message-add').replace(/data%5Bmessage%5D%5Bid%5D=789&/, ''));
    expect(e.path).toBe('data[message][id]');
  });

  it('an Event.get item: its own fields, and its data under data[...]', () => {
    const item = fetchFixture('imbotv2-message-add') as { data: { message: Record<string, unknown> } };
    const fail = (v: unknown): GatewayError => {
      try {
        parseFetched(v);
      } catch (e) {
        if (e instanceof GatewayError) return e;
      }
      throw new Error('expected a GatewayError');
    };
    expect(fail({ ...item, eventId: 'x' }).path).toBe('eventId');
    expect(fail(null).code).toBe('B24GW_INVALID_EVENT');
    const bad = structuredClone(item);
    bad.data.message.id = 'seven';
    const e = fail(bad);
    expect(e.path).toBe('data[message][id]');
    expect(e.message).toContain('ONIMBOTV2MESSAGEADD is invalid: data[message][id]: expected an integer, got "seven"');
    // A type the gateway does not know is kept as it came.
    expect(parseFetched({ eventId: 7, type: 'ONIMV2SOMETHINGNEW', date: 'x', data: { a: 1 } })).toStrictEqual({
      known: false,
      code: 'ONIMV2SOMETHINGNEW',
      eventId: 7,
      date: 'x',
      data: { a: 1 },
    });
  });
});

describe('order keys', () => {
  it('one key per chat, whichever event and whichever way it came; a bot deletion by its bot', () => {
    const chat5 = `${MEMBER}|chat|5`;
    for (const name of fixtures.filter(
      (n) => !['imbotv2-delete', 'imbotv2-context-get-link', 'imbotv2-message-add-personal-types'].includes(n),
    )) {
      expect(orderKeyOf(allForms(name).webhook)).toBe(chat5);
    }
    expect(orderKeyOf(allForms('imbotv2-message-add-personal-types').webhook)).toBe(`${MEMBER}|chat|7`);
    expect(orderKeyOf(allForms('imbotv2-delete').webhook)).toBe(`${MEMBER}|botv2|456`);
  });
});
