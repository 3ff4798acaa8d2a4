import { describe, expect, it } from 'vitest';
import { decodeBody } from '../wire/decode.js';
import { jsonFixture } from '../../test/fixtures.js';
import { splitSecrets } from './redact.js';
import { both } from './testing/parse.js';

type Obj = Record<string, unknown>;
const kept = (name: string) => both(name).event as { auth: Obj; data: Obj };
/** A body as decoded, before any schema: what an event refused by its schema is kept as. */
const raw = (name: string) => decodeBody(jsonFixture(name), 'json') as { auth: Obj; data: Obj };

describe('splitSecrets', () => {
  it('an event without bots: its auth tokens replaced, the rest kept, no secrets, the original untouched', () => {
    const event = kept('app-install');
    const token = event.auth.access_token;
    const { event: out, secrets } = splitSecrets(event);
    expect(out.auth).toEqual({
      ...event.auth,
      access_token: 'REDACTED',
      refresh_token: 'REDACTED',
      application_token: 'REDACTED',
    });
    expect(out.auth.domain).toBe('some-domain.bitrix24.com');
    expect(out.data).toEqual(event.data);
    expect(secrets).toBeNull();
    expect(event.auth.access_token).toBe(token);
  });

  it('an event whose data is no object keeps it as it is', () => {
    const event = kept('imconnector-line-delete');
    const { event: out, secrets } = splitSecrets(event);
    expect(out.data).toStrictEqual(event.data);
    expect(secrets).toBeNull();
  });

  it('bot events: each BOT entry and its AUTH without tokens; the secrets are each bot auth without application_token', () => {
    const event = kept('imbot-message-add-two-bots');
    const ids = Object.keys(event.data.BOT as Obj);
    expect(ids).toHaveLength(2);
    const { event: out, secrets } = splitSecrets(event);
    const bots = out.data.BOT as Record<string, Obj & { AUTH: Obj }>;
    for (const id of ids) {
      const entry = (event.data.BOT as Record<string, Obj & { AUTH: Obj }>)[id]!;
      expect(bots[id]!.BOT_ID).toBe(entry.BOT_ID);
      expect(bots[id]!.AUTH.access_token).toBe('REDACTED');
      expect(bots[id]!.AUTH.application_token).toBe('REDACTED');
      expect(bots[id]!.AUTH.domain).toBe(entry.AUTH.domain);
      const { application_token: _portal, ...own } = entry.AUTH;
      expect(secrets?.bots[id]).toStrictEqual(own);
      expect(entry.AUTH.access_token).not.toBe('REDACTED');
    }
    expect(out.data.PARAMS).toEqual(event.data.PARAMS);
    expect(JSON.stringify(out)).not.toContain(String((event.auth as Obj).access_token));
  });

  it('a Chatbots 2.0 bot: its auth without tokens; the secret keyed by the bot id', () => {
    const event = kept('imbotv2-message-add');
    const bot = event.data.bot as { id: number; code: string; auth: Obj };
    const { event: out, secrets } = splitSecrets(event);
    const outBot = out.data.bot as { id: number; code: string; auth: Obj };
    expect(outBot.id).toBe(bot.id);
    expect(outBot.code).toBe(bot.code);
    expect(outBot.auth).toEqual({ ...bot.auth, access_token: 'REDACTED', application_token: 'REDACTED' });
    const { application_token: _portal, ...own } = bot.auth;
    expect(secrets).toStrictEqual({ bots: { [String(bot.id)]: own } });
    expect(out.data.chat).toEqual(event.data.chat);
  });

  it('a refused body, as decoded: tokens at the top of a BOT entry replaced, an entry that is no object kept', () => {
    const body = raw('imbot-message-add-two-bots');
    const [first] = Object.keys(body.data.BOT as Obj);
    const entry = (body.data.BOT as Record<string, Obj>)[first!]!;
    expect(typeof entry.access_token).toBe('string');
    const { event: out, secrets } = splitSecrets({
      ...body,
      data: { ...body.data, BOT: { ...(body.data.BOT as Obj), 9: 'not a bot' } },
    });
    const bots = out.data.BOT as Record<string, Obj | string>;
    expect(bots[first!]).toMatchObject({ access_token: 'REDACTED', BOT_CODE: entry.BOT_CODE });
    expect(bots['9']).toBe('not a bot');
    expect(Object.keys(secrets!.bots)).toHaveLength(2);
  });

  it('a refused body without auth is kept without one', () => {
    const { event: out, secrets } = splitSecrets({ event: 'ONAPPTEST', data: { x: '1' } });
    expect(out).toStrictEqual({ event: 'ONAPPTEST', data: { x: '1' } });
    expect(secrets).toBeNull();
  });

  it('bots that carry no auth give no secrets', () => {
    const body = raw('imbot-message-add-two-bots');
    const bare = Object.fromEntries(
      Object.entries(body.data.BOT as Record<string, Obj>).map(([id, { AUTH: _auth, ...entry }]) => [id, entry]),
    );
    const v2 = raw('imbotv2-message-add');
    const { auth: _auth, ...bot } = v2.data.bot as Obj;
    expect(splitSecrets({ ...body, data: { ...body.data, BOT: bare } }).secrets).toBeNull();
    expect(splitSecrets({ ...v2, data: { ...v2.data, bot } }).secrets).toBeNull();
  });
});
