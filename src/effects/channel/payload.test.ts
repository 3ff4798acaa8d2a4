import { describe, expect, it } from 'vitest';
import { formFixture, jsonFixture } from '../../../test/fixtures.js';
import { parseEvent, type EventMap } from '../../events/registry.js';
import { decodeBody } from '../../wire/decode.js';
import { convertBbcode } from './bbcode.js';
import { channelPayloads } from './payload.js';
import type { ChannelPayload, MessageCreated, MessageUpdated, TextFormat } from './types.js';

const meta = { eventId: 42, memberId: 'bac1cd5c8940947a75e0d71b1a84e348', domain: 'some-domain.bitrix24.com' };
const formats: TextFormat[] = ['text', 'html', 'markdown'];

/** A fixture as the worker sees it: the form body Bitrix24 sends, decoded and typed. */
const event = (name: string, body: 'form' | 'json' = 'form') =>
  parseEvent(decodeBody(body === 'form' ? formFixture(name) : jsonFixture(name), body)).event;
const payloads = (name: string, format: TextFormat = 'text') => channelPayloads(event(name), meta, format);

describe('channelPayloads: message events', () => {
  it('message.created: the documented shape, text converted, BB-code kept', () => {
    const raw = '[b]Klaus Weber:[/b] [br]Guten Tag!';
    expect(payloads('imconnector-message-add', 'html')).toEqual([
      {
        version: 1,
        type: 'message.created',
        id: 'evt_42_0',
        occurredAt: '2026-03-17T14:52:41.000Z',
        portal: { memberId: meta.memberId, domain: meta.domain },
        connector: { id: 'myconnector', line: 107 },
        chat: { externalId: 'channel-123', bitrixChatId: 1807 },
        message: {
          bitrixMessageId: 86497,
          bitrixAuthorId: 27,
          text: convertBbcode(raw, 'html'),
          textFormat: 'html',
          rawText: raw,
        },
        source: { event: 'ONIMCONNECTORMESSAGEADD', eventId: 42 },
      },
    ]);
    // Keys in the documented order, which is what a person reading a raw body sees.
    expect(Object.keys(payloads('imconnector-message-add')[0]!)).toEqual([
      'version',
      'type',
      'id',
      'occurredAt',
      'portal',
      'connector',
      'chat',
      'message',
      'source',
    ]);
  });

  it('message.updated: ids typed, external ids a list, occurredAt from ts', () => {
    const [p] = payloads('imconnector-message-update') as MessageUpdated[];
    expect(p).toMatchObject({
      type: 'message.updated',
      id: 'evt_42_0',
      occurredAt: new Date(1773760030 * 1000).toISOString(),
      connector: { id: 'myconnector', line: 107 },
      chat: { externalId: 'channel-123', bitrixChatId: 1807 },
      message: {
        externalIds: ['ext-msg-005'],
        bitrixMessageId: 86501,
        rawText: '[b]Samantha Johnson:[/b][br] What questions do you have?',
      },
      source: { event: 'ONIMCONNECTORMESSAGEUPDATE', eventId: 42 },
    });
  });

  it('message.updated: a single external id, the DATA list and a JSON body give the same payload', () => {
    const expected = payloads('imconnector-message-update');
    expect(payloads('imconnector-message-update-id-string')).toEqual(expected);
    expect(payloads('imconnector-message-update-data-variant')).toEqual(expected);
    expect(channelPayloads(event('imconnector-message-update', 'json'), meta, 'text')).toEqual(expected);
  });

  it('one payload per item, in order, each with its own stable id', () => {
    const ps = payloads('imconnector-message-update-three-messages') as MessageUpdated[];
    expect(ps.map((p) => [p.id, p.message.bitrixMessageId, p.message.externalIds[0]])).toEqual([
      ['evt_42_0', 86501, 'ext-msg-005'],
      ['evt_42_1', 86502, 'ext-msg-006'],
      ['evt_42_2', 86503, 'ext-msg-007'],
    ]);
    expect(payloads('imconnector-message-update-three-messages')).toEqual(ps);
  });

  it('an external chat id keeps its leading zeros', () => {
    expect((payloads('imconnector-message-update-chat-id-leading-zeros')[0] as MessageUpdated).chat.externalId).toBe(
      '00123',
    );
  });

  it('an update without text says so with null, not an empty message', () => {
    const e = event('imconnector-message-update') as EventMap['ONIMCONNECTORMESSAGEUPDATE'];
    delete e.data.MESSAGES![0]!.message.text;
    const [p] = channelPayloads(e, meta, 'html') as MessageUpdated[];
    expect(p!.message).toEqual({
      externalIds: ['ext-msg-005'],
      bitrixMessageId: 86501,
      text: null,
      textFormat: 'html',
      rawText: null,
    });
  });

  it('message.deleted: the documented single id becomes a list', () => {
    expect(payloads('imconnector-message-delete')).toEqual([
      expect.objectContaining({
        type: 'message.deleted',
        connector: { id: 'myconnector', line: 107 },
        chat: { externalId: 'channel-123', bitrixChatId: 1807 },
        message: { externalIds: ['ext-msg-005'], bitrixMessageId: 86501 },
        source: { event: 'ONIMCONNECTORMESSAGEDELETE', eventId: 42 },
      }),
    ]);
  });

  it('a message without an author id gets null', () => {
    const e = event('imconnector-message-add') as EventMap['ONIMCONNECTORMESSAGEADD'];
    delete e.data.MESSAGES![0]!.message.user_id;
    expect((channelPayloads(e, meta, 'text')[0] as MessageCreated).message.bitrixAuthorId).toBeNull();
  });
});

describe('channelPayloads: text per format', () => {
  const cases = [
    'imconnector-message-add',
    'imconnector-message-update-special-chars',
    'imconnector-message-update-unicode',
  ];
  for (const name of cases) {
    it(`${name}: text is convertBbcode(rawText, format) for each format`, () => {
      for (const format of formats) {
        const m = (payloads(name, format)[0] as MessageCreated | MessageUpdated).message;
        expect(m.textFormat).toBe(format);
        expect(m.rawText).toContain('[b]');
        expect(m.text).toBe(convertBbcode(m.rawText!, format));
      }
    });
  }

  it('the formats differ where the markup does', () => {
    const text = (f: TextFormat) => (payloads('imconnector-message-update', f)[0] as MessageUpdated).message.text;
    expect(text('text')).not.toContain('[b]');
    expect(text('html')).toContain('<b>Samantha Johnson:</b>');
    expect(text('markdown')).toContain('**Samantha Johnson:**');
  });
});

describe('channelPayloads: dialog and line events', () => {
  it('dialog.started and dialog.finished', () => {
    const dialog = {
      connector: { id: 'newcustomconnector', line: 105 },
      chat: { externalId: '8' },
      user: { externalId: '0' },
      dialog: { sessionId: 3282, previousSessionId: null, closeTermMinutes: 10 },
    };
    expect(payloads('imconnector-dialog-start')).toEqual([
      expect.objectContaining({
        type: 'dialog.started',
        id: 'evt_42_0',
        ...dialog,
        source: { event: 'ONIMCONNECTORDIALOGSTART', eventId: 42 },
      }),
    ]);
    expect(payloads('imconnector-dialog-finish')).toEqual([
      expect.objectContaining({
        type: 'dialog.finished',
        ...dialog,
        source: { event: 'ONIMCONNECTORDIALOGFINISH', eventId: 42 },
      }),
    ]);
    expect(payloads('imconnector-dialog-start-event-handler-id')).toEqual(payloads('imconnector-dialog-start'));
  });

  it("a dialog's user is data.user.id, else the connector's user_id, else null", () => {
    const user = 'data%5BDATA%5D%5B0%5D%5Buser%5D%5Bid%5D=0';
    const connectorUser = 'data%5BDATA%5D%5B0%5D%5Bconnector%5D%5Buser_id%5D=0';
    const userOf = (edit: (s: string) => string) =>
      (
        channelPayloads(
          parseEvent(decodeBody(edit(formFixture('imconnector-dialog-start')), 'form')).event,
          meta,
          'text',
        )[0] as {
          user: unknown;
        }
      ).user;
    expect(userOf((s) => s.replace(user, user.replace('=0', '=77')))).toEqual({ externalId: '77' });
    expect(userOf((s) => s.replace(`&${user}`, '').replace(connectorUser, connectorUser.replace('=0', '=55')))).toEqual(
      {
        externalId: '55',
      },
    );
    expect(userOf((s) => s.replace(`&${user}`, '').replace(`&${connectorUser}`, ''))).toBeNull();
  });

  it('connector.deleted and line.deleted', () => {
    expect(payloads('imconnector-status-delete')).toEqual([
      {
        version: 1,
        type: 'connector.deleted',
        id: 'evt_42_0',
        occurredAt: new Date(1773761094 * 1000).toISOString(),
        portal: { memberId: meta.memberId, domain: meta.domain },
        connector: { id: 'myconnector', line: 107 },
        source: { event: 'ONIMCONNECTORSTATUSDELETE', eventId: 42 },
      },
    ]);
    expect(payloads('imconnector-line-delete')).toEqual([
      expect.objectContaining({
        type: 'line.deleted',
        connector: { id: null, line: 107 },
        source: { event: 'ONIMCONNECTORLINEDELETE', eventId: 42 },
      }),
    ]);
  });

  it('events that are not for the channel give none', () => {
    for (const name of [
      'openline-message-add',
      'openline-message-update',
      'session-start',
      'imbot-message-add-group',
      'app-install',
      'unknown-event-crm-deal-update',
    ]) {
      expect(payloads(name), name).toEqual([]);
    }
    expect(channelPayloads({ event: 'ONIMCONNECTORMESSAGEADD' }, meta, 'text')).toEqual([]);
  });
});

it('every payload survives JSON as it is (no undefined, no NaN)', () => {
  const names = [
    'imconnector-message-add',
    'imconnector-message-update-three-messages',
    'imconnector-message-delete',
    'imconnector-dialog-start',
    'imconnector-dialog-finish',
    'imconnector-status-delete',
    'imconnector-line-delete',
  ];
  const all: ChannelPayload[] = names.flatMap((n) => payloads(n, 'markdown'));
  expect(new Set(all.map((p) => p.type)).size).toBe(7);
  for (const p of all) expect(JSON.parse(JSON.stringify(p))).toStrictEqual(p);
});
