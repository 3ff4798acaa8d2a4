import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { startSandbox, type Sandbox } from '../index.js';
import { callRest, frozenAt } from '../testing.js';

let sb: Sandbox;
let auth: string;
const call = (method: string, params: Record<string, unknown>, format?: 'json' | 'form' | 'query') =>
  callRest(sb.restUrl, method, { auth, ...params }, format);

/** A refusal as Bitrix24 answers it: 400, with exactly this error code and description. */
const expectRefused = (r: { status: number; body: unknown }, error: string, description: string) => {
  expect(r.status).toBe(400);
  expect(r.body).toEqual({ error, error_description: description });
};

const ICON = { DATA_IMAGE: 'data:image/svg+xml;charset=US-ASCII,%3Csvg%3E%3C%2Fsvg%3E' };
const registration = {
  ID: 'myconnector',
  NAME: 'My connector',
  ICON,
  PLACEMENT_HANDLER: 'https://app.example/settings',
};

beforeEach(async () => {
  sb = await startSandbox({ now: frozenAt() });
  sb.faults.set({ rateLimit: false });
  auth = sb.issueTokens(sb.portal).access_token;
});
afterEach(() => sb.stop());

async function setUp(line = 107) {
  expect((await call('imconnector.register', registration)).body.result).toEqual({ result: true });
  expect((await call('imconnector.activate', { CONNECTOR: 'myconnector', LINE: line, ACTIVE: 1 })).body.result).toBe(
    true,
  );
}

describe('imconnector.register', () => {
  it('answers HTTP 200 with result.result=false and the documented codes', async () => {
    const cases: [Record<string, unknown>, string][] = [
      [{ ...registration, ID: '' }, 'CONNECTOR_ID_REQUIRED'],
      [{ ...registration, ID: 'my.connector' }, 'APPLICATION_REGISTRATION_ERROR_POINT'],
      [{ ...registration, NAME: '' }, 'NAME_REQUIRED'],
      [{ ...registration, ICON: {} }, 'ICON_REQUIRED'],
      [{ ...registration, PLACEMENT_HANDLER: '' }, 'NO_PLACEMENT_HANDLER'],
    ];
    for (const [params, code] of cases) {
      const { status, body } = await call('imconnector.register', params);
      expect(status).toBe(200);
      expect(body.result).toEqual({ result: false, error: code, error_description: expect.any(String) });
    }
    expect(sb.portal.connectors.size).toBe(0);
  });

  it('registers with the id lower-cased, from a form body too', async () => {
    expect((await call('imconnector.register', { ...registration, ID: 'MyConnector' }, 'form')).body.result).toEqual({
      result: true,
    });
    expect([...sb.portal.connectors.keys()]).toEqual(['myconnector']);
  });
});

describe('imconnector.activate / status / connector.data.set', () => {
  it('activates, reports status per line, deactivates with 0 or N', async () => {
    await setUp();
    expect((await call('imconnector.status', { CONNECTOR: 'myconnector', LINE: 107 })).body.result).toEqual({
      LINE: 107,
      CONNECTOR: 'myconnector',
      ERROR: false,
      CONFIGURED: true,
      STATUS: true,
    });
    expect((await call('imconnector.status', { CONNECTOR: 'myconnector' })).body.result).toMatchObject({
      LINE: 0,
      STATUS: false,
      CONFIGURED: false,
    });
    await call('imconnector.activate', { CONNECTOR: 'myconnector', LINE: 107, ACTIVE: 0 });
    expect((await call('imconnector.status', { CONNECTOR: 'myconnector', LINE: 107 })).body.result.STATUS).toBe(false);
    await call('imconnector.activate', { CONNECTOR: 'myconnector', LINE: 107, ACTIVE: 'Y' });
    await call('imconnector.activate', { CONNECTOR: 'myconnector', LINE: 107, ACTIVE: 'N' });
    expect(sb.portal.line('myconnector', 107)?.active).toBe(false);
  });

  it('validates CONNECTOR, LINE, ACTIVE and DATA', async () => {
    const err = async (method: string, params: Record<string, unknown>) => {
      const r = await call(method, params);
      expect(r.status).toBe(400);
      return r.body.error_description as string;
    };
    expect(await err('imconnector.activate', { LINE: 1, ACTIVE: 1 })).toBe("Argument 'CONNECTOR' is null or empty");
    expect(await err('imconnector.activate', { CONNECTOR: 'c', ACTIVE: 1 })).toBe("Argument 'LINE' is null or empty");
    expect(await err('imconnector.activate', { CONNECTOR: 'c', LINE: 'abc', ACTIVE: 1 })).toBe(
      "The value of an argument 'LINE' must be of type integer",
    );
    expect(await err('imconnector.status', {})).toBe("Argument 'CONNECTOR' is null or empty");
    expect(await err('imconnector.connector.data.set', { CONNECTOR: 'c', LINE: 1 })).toBe(
      "Argument 'DATA' is null or empty",
    );
    expect(await err('imconnector.connector.data.set', { CONNECTOR: 'c', LINE: 1, DATA: 'x' })).toBe(
      "The value of an argument 'DATA' must be of type array",
    );
  });

  it('connector.data.set stores the channel data as a whole', async () => {
    await setUp();
    const DATA = {
      ID: 'channel-123',
      URL: 'https://ext.example/c/123',
      URL_IM: 'https://ext.example/c/123',
      NAME: 'Support',
    };
    expect(
      (await call('imconnector.connector.data.set', { CONNECTOR: 'myconnector', LINE: 107, DATA })).body.result,
    ).toBe(true);
    expect(sb.portal.line('myconnector', 107)?.data).toEqual(DATA);
  });
});

const incoming = (id: string, text = 'Hi') => ({
  user: { id: 'u-42', name: 'Klaus', last_name: 'Weber' },
  message: { id, date: 1_773_759_000, text },
  chat: { id: 'channel-123', name: 'Support', url: 'https://ext.example/c/123' },
});

describe('imconnector.send.messages / update.messages / delete.messages', () => {
  it('needs a registered connector and an active line', async () => {
    const params = { CONNECTOR: 'myconnector', LINE: 107, MESSAGES: [incoming('m1')] };
    expect((await call('imconnector.send.messages', params)).body.error).toBe('IMCONNECTOR_NO_CORRECT_PROVIDER');
    await call('imconnector.register', registration);
    const inactive = await call('imconnector.send.messages', params);
    expectRefused(inactive, 'NOT_ACTIVE_LINE', 'The line with this ID is inactive or does not exist');
  });

  it('checks MESSAGES the documented way', async () => {
    await setUp();
    const desc = async (MESSAGES: unknown) =>
      (await call('imconnector.send.messages', { CONNECTOR: 'myconnector', LINE: 107, MESSAGES })).body
        .error_description;
    expect(await desc(undefined)).toBe("Argument 'MESSAGES' is null or empty");
    expect(await desc('x')).toBe("The value of an argument 'MESSAGES' must be of type array");
    expect(await desc(['x'])).toBe('The MESSAGES parameter must be an array of messages (arrays)');
    expect(await desc([{ user: { id: 1 }, message: { text: 'a' } }])).toBe(
      'The incorrect structure of a message inside MESSAGES parameter',
    );
  });

  it('creates the chat, user and session, and answers per message', async () => {
    await setUp();
    const { status, body } = await call(
      'imconnector.send.messages',
      { CONNECTOR: 'myconnector', LINE: 107, MESSAGES: [incoming('m1'), incoming('m2', 'Again')] },
      'form',
    );
    expect(status).toBe(200);
    expect(body.result.SUCCESS).toBe(true);
    const [first, second] = body.result.DATA.RESULT;
    expect(first).toEqual({
      user: expect.stringMatching(/^\d+$/),
      message: { id: 'm1', date: {}, text: 'Hi', files: [] },
      chat: { id: 'channel-123', name: 'Support', description: 'Link to the original post: https://ext.example/c/123' },
      SUCCESS: true,
      session: { ID: expect.stringMatching(/^\d+$/), CHAT_ID: expect.stringMatching(/^\d+$/) },
    });
    expect(second.session).toEqual(first.session);
    // The operator answers in the same chat the external user wrote in.
    const reply = await sb.act.operatorWrites(sb.portal, {
      connector: 'myconnector',
      line: 107,
      externalChatId: 'channel-123',
      text: 'Hello',
    });
    expect(String(reply.chat.id)).toBe(first.session.CHAT_ID);
    const missingText = await call('imconnector.send.messages', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [{ ...incoming('m3', ''), message: { id: 'm3' } }],
    });
    expect(missingText.body.result.SUCCESS).toBe(false);
    expect(missingText.body.result.DATA.RESULT[0]).toMatchObject({ SUCCESS: false, ERRORS: [expect.any(String)] });
  });

  it('updates and deletes messages by their external id', async () => {
    await setUp();
    await call('imconnector.send.messages', { CONNECTOR: 'myconnector', LINE: 107, MESSAGES: [incoming('m1')] });
    const upd = await call('imconnector.update.messages', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [incoming('m1', 'Edited')],
    });
    expect(upd.body.result.DATA.RESULT[0]).toMatchObject({
      message: { id: 'm1', date: {}, text: 'Edited' },
      SUCCESS: true,
    });
    expect([...sb.portal.messages.values()][0]?.text).toBe('Edited');
    const missing = await call('imconnector.update.messages', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [incoming('zz')],
    });
    expect(missing.body.result).toMatchObject({
      SUCCESS: false,
      DATA: { RESULT: [{ SUCCESS: false, ERRORS: ['Message not found'] }] },
    });
    const del = await call('imconnector.delete.messages', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [incoming('m1')],
    });
    expect(del.body.result.DATA.RESULT[0]).toEqual({
      user: expect.any(String),
      message: { id: 'm1' },
      chat: { id: 'channel-123' },
      SUCCESS: true,
    });
    expect([...sb.portal.messages.values()][0]?.deleted).toBe(true);
  });
});

describe('imconnector.send.status.delivery / reading', () => {
  const status = (over: Record<string, unknown> = {}) => ({
    im: { chat_id: 1801, message_id: 86401 },
    message: { id: ['ext-msg-1'], date: 1_773_759_200 },
    chat: { id: 'channel-123' },
    ...over,
  });

  async function operatorMessage() {
    await setUp();
    const m = await sb.act.operatorWrites(sb.portal, {
      connector: 'myconnector',
      line: 107,
      externalChatId: 'channel-123',
      text: 'Hello',
    });
    return { chatId: m.chat.id, messageId: m.message.id };
  }

  it('accepts a list of external ids, answers {SUCCESS, DATA: []} and records the status per message', async () => {
    const { chatId, messageId } = await operatorMessage();
    for (const format of ['json', 'form'] as const) {
      const r = await call(
        'imconnector.send.status.delivery',
        { CONNECTOR: 'myconnector', LINE: 107, MESSAGES: [status({ im: { chat_id: chatId, message_id: messageId } })] },
        format,
      );
      expect(r.status).toBe(200);
      expect(r.body.result).toEqual({ SUCCESS: true, DATA: [] });
    }
    const recorded = sb.recorder.statuses();
    expect(recorded).toHaveLength(2);
    expect(recorded[0]).toMatchObject({
      kind: 'delivery',
      memberId: sb.portal.memberId,
      connector: 'myconnector',
      line: 107,
      chatId,
      messageId,
      externalIds: ['ext-msg-1'],
      externalChatId: 'channel-123',
      date: 1_773_759_200,
      known: true,
    });
    expect(sb.portal.messages.get(messageId)).toMatchObject({ delivered: true, externalIds: ['ext-msg-1'] });
  });

  it('rejects message.id that is not a list, in JSON and in a form body, and records nothing', async () => {
    await operatorMessage();
    for (const format of ['json', 'form'] as const) {
      const r = await call(
        'imconnector.send.status.delivery',
        { CONNECTOR: 'myconnector', LINE: 107, MESSAGES: [status({ message: { id: 'ext-msg-1' } })] },
        format,
      );
      expectRefused(r, 'ERROR_ARGUMENT', "The value of an argument 'MESSAGES[0][message][id]' must be of type array");
    }
    const keyed = await call('imconnector.send.status.delivery', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [status({ message: { id: { a: 'x' } } })],
    });
    expect(keyed.status).toBe(400);
    expect(sb.recorder.statuses()).toEqual([]);
  });

  it('checks CONNECTOR, LINE, MESSAGES, im, chat and the provider', async () => {
    const desc = async (params: Record<string, unknown>) =>
      (await call('imconnector.send.status.delivery', params)).body;
    const base = { CONNECTOR: 'myconnector', LINE: 107 };
    expect((await desc({ LINE: 107, MESSAGES: [status()] })).error_description).toBe(
      "Argument 'CONNECTOR' is null or empty",
    );
    expect((await desc({ CONNECTOR: 'myconnector', MESSAGES: [status()] })).error_description).toBe(
      "Argument 'LINE' is null or empty",
    );
    expect((await desc(base)).error_description).toBe("Argument 'MESSAGES' is null or empty");
    expect((await desc({ ...base, MESSAGES: [{ message: { id: ['x'] }, chat: { id: 'c' } }] })).error_description).toBe(
      'The incorrect structure of a message inside MESSAGES parameter',
    );
    expect(
      (await desc({ ...base, MESSAGES: [status({ im: { chat_id: 'abc', message_id: 1 } })] })).error_description,
    ).toBe("The value of an argument 'MESSAGES[0][im][chat_id]' must be of type integer");
    expect((await desc({ ...base, MESSAGES: [status({ chat: { id: '' } })] })).error_description).toBe(
      "Argument 'MESSAGES[0][chat][id]' is null or empty",
    );
    expect((await desc({ ...base, MESSAGES: [status()] })).error).toBe('IMCONNECTOR_NO_CORRECT_PROVIDER');
  });

  it('send.status.reading validates the same way and records reading statuses', async () => {
    const { chatId, messageId } = await operatorMessage();
    const bad = await call('imconnector.send.status.reading', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [status({ message: { id: 'one' } })],
    });
    expect(bad.status).toBe(400);
    const ok = await call('imconnector.send.status.reading', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [status({ im: { chat_id: chatId, message_id: messageId } })],
    });
    expect(ok.body.result).toEqual({ SUCCESS: true, DATA: [] });
    expect(sb.recorder.statuses({ kind: 'reading' })).toHaveLength(1);
    expect(sb.portal.messages.get(messageId)?.read).toBe(true);
  });

  it('records statuses for messages it never sent as unknown', async () => {
    await setUp();
    await call('imconnector.send.status.delivery', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [status({ im: { chat_id: 5, message_id: 6 } })],
    });
    expect(sb.recorder.statuses()[0]?.known).toBe(false);
  });
});

describe('imconnector.list / unregister', () => {
  it('lists the built-in connectors and the registered ones; unregister removes one with its lines', async () => {
    await setUp();
    expect((await call('imconnector.list', {})).body.result).toEqual({
      livechat: 'Live Chat',
      network: 'Bitrix24.Network',
      myconnector: 'My connector',
    });
    expect((await call('imconnector.unregister', { ID: 'MyConnector' })).body.result).toEqual({ result: true });
    expect((await call('imconnector.list', {})).body.result).not.toHaveProperty('myconnector');
    expect(sb.portal.line('myconnector', 107)).toBeUndefined();
    const again = await call('imconnector.unregister', { ID: 'myconnector' });
    expect(again.status).toBe(200);
    expect(again.body.result).toEqual({
      result: false,
      error: 'APPLICATION_UNREGISTRATION_ERROR',
      error_description: expect.any(String),
    });
  });
});

describe('imconnector.chat.name.set', () => {
  const customerWrites = () =>
    call('imconnector.send.messages', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      MESSAGES: [{ user: { id: 'u1' }, message: { id: 'm1', text: 'Hi' }, chat: { id: 'c1' } }],
    });

  it('renames a known chat; USER_ID is needed by a one-to-one connector', async () => {
    await setUp();
    await customerWrites();
    const missing = await call('imconnector.chat.name.set', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      CHAT_ID: 'c1',
      NAME: 'Support',
    });
    expectRefused(missing, 'ERROR_ARGUMENT', "Argument 'USER_ID' is null or empty");
    const renamed = await call('imconnector.chat.name.set', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      CHAT_ID: 'c1',
      NAME: 'Support',
      USER_ID: 'u1',
    });
    expect(renamed.body.result).toEqual({ SUCCESS: true, DATA: { RESULT: {} } });
    expect([...sb.portal.chats.values()][0]!.name).toBe('Support');
  });

  it('refuses an unknown chat, an inactive line and an unregistered connector', async () => {
    await setUp();
    const unknown = await call('imconnector.chat.name.set', {
      CONNECTOR: 'myconnector',
      LINE: 107,
      CHAT_ID: 'nope',
      NAME: 'X',
      USER_ID: 'u1',
    });
    expect(unknown.body.error).toBe('CHAT_RENAMING_FAILED');
    expect(
      (
        await call('imconnector.chat.name.set', {
          CONNECTOR: 'myconnector',
          LINE: 9,
          CHAT_ID: 'c1',
          NAME: 'X',
          USER_ID: 'u1',
        })
      ).body.error,
    ).toBe('NOT_ACTIVE_LINE');
    expect(
      (await call('imconnector.chat.name.set', { CONNECTOR: 'other', LINE: 107, CHAT_ID: 'c1', NAME: 'X' })).body.error,
    ).toBe('IMCONNECTOR_NO_CORRECT_PROVIDER');
  });
});
