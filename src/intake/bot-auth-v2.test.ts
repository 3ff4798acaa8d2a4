import { readdirSync, readFileSync } from 'node:fs';
import { Writable } from 'node:stream';
import { afterEach, beforeEach, describe, expect, it } from 'vitest';
import { formFixture, jsonFixture } from '../../test/fixtures.js';
import { tempDir } from '../../test/helpers.js';
import type { EventMap } from '../events/registry.js';
import { Gateway } from '../gateway.js';
import { createLogger } from '../log.js';
import { SqliteStore } from '../store/sqlite/store.js';
import { botsOf, type BotAuth } from '../worker/context.js';

// Chatbots 2.0 webhook deliveries carry two auths: the top-level one, which proves the sender,
// and the bot's own (`data.bot.auth`), which its handler answers with. The first alone verifies;
// the second reaches the handler and nothing else: not the stored event, its raw body or a log.

const MEMBER = 'bac1cd5c8940947a75e0d71b1a84e348';
const TOKEN = '831c76b092f9f135d9b6b36c3a720757';
const FORGED = 'f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0f0';
const BOT_ACCESS = '0b02a0690000071b0008440001b0007a16b39202c2490f015';
const TOP_ACCESS = '880aa06900071b00084400001b0007dff360d21523410a45b4f7c12';
const enc = (key: string) => key.replaceAll('[', '%5B').replaceAll(']', '%5D');
const TOP_TOKEN = `${enc('auth[application_token]')}=${TOKEN}`;
const BOT_TOKEN = `${enc('data[bot][auth][application_token]')}=${TOKEN}`;

let tmp: ReturnType<typeof tempDir>;
let gateway: Gateway;
let logs: string[];

beforeEach(() => {
  tmp = tempDir();
  logs = [];
  const destination = new Writable({
    write(chunk: Buffer, _enc, cb) {
      logs.push(chunk.toString());
      cb();
    },
  });
  // With B24GW_SECRET_KEY's store: what is kept apart is encrypted too.
  const db = new SqliteStore(`${tmp.dir}/events.db`, { secretKey: 'ab'.repeat(32) });
  gateway = new Gateway({
    db,
    appTokens: new Map([[MEMBER, TOKEN]]),
    logger: createLogger({ level: 'trace', destination }),
  });
});
afterEach(async () => {
  await gateway.close();
  tmp.cleanup();
});

type Answer = { status: number; id?: number; memberId?: string; error?: { code: string } };
const form = async (body: string): Promise<Answer> =>
  (await gateway.receive(body, 'application/x-www-form-urlencoded')) as Answer;

describe('verification uses the top-level auth only', () => {
  it('a forged top-level token is refused even when data[bot][auth] carries the right one', async () => {
    const body = formFixture('imbotv2-message-add');
    expect(body).toContain(BOT_TOKEN);
    const r = await form(body.replace(TOP_TOKEN, `${enc('auth[application_token]')}=${FORGED}`));
    expect(r.status).toBe(401);
    expect(r.error?.code).toBe('B24GW_UNAUTHORIZED');
    // JSON bodies alike.
    const json = JSON.parse(jsonFixture('imbotv2-message-add')) as { auth: Record<string, string> };
    json.auth.application_token = FORGED;
    expect((await gateway.receive(JSON.stringify(json), 'application/json')).status).toBe(401);
    expect(await gateway.store.listEvents()).toEqual([]);
  });

  it('the right top-level token is accepted whatever data[bot][auth] says, or without it', async () => {
    expect(
      (
        await form(
          formFixture('imbotv2-message-add').replace(
            BOT_TOKEN,
            `${enc('data[bot][auth][application_token]')}=${FORGED}`,
          ),
        )
      ).status,
    ).toBe(200);
    const withoutBotAuth = formFixture('imbotv2-join-chat').replace(/&data%5Bbot%5D%5Bauth%5D[^&]*/g, '');
    expect(withoutBotAuth).not.toContain('data%5Bbot%5D%5Bauth%5D');
    expect((await form(withoutBotAuth)).status).toBe(200);
  });

  it('a body naming a second sender inside data is not read as one', async () => {
    // Only auth[member_id] names the portal: data[bot][auth][member_id] of another portal changes nothing.
    const body = formFixture('imbotv2-message-add').replace(
      `${enc('data[bot][auth][member_id]')}=${MEMBER}`,
      `${enc('data[bot][auth][member_id]')}=${'e'.repeat(32)}`,
    );
    const r = await form(body);
    expect(r.status).toBe(200);
    expect(r.memberId).toBe(MEMBER);
  });
});

describe("the bot's own auth", () => {
  it('reaches the handler as ctx.bot, and never the stored event, its raw body or a log line', async () => {
    const seen: { bot: BotAuth | undefined; event: EventMap['ONIMBOTV2MESSAGEADD'] }[] = [];
    gateway.on('OnImBotV2MessageAdd', (event, ctx) => {
      seen.push({ bot: ctx.bot, event });
      ctx.log.info({ event, bot: ctx.bot }, 'handler saw the bot');
    });
    const forms = await form(formFixture('imbotv2-message-add'));
    const json = (await gateway.receive(
      jsonFixture('imbotv2-message-add-personal-types'),
      'application/json',
    )) as Answer;
    expect([forms.status, json.status]).toEqual([200, 200]);

    for (const id of [forms.id!, json.id!]) {
      const stored = (await gateway.store.getEvent(id))!;
      for (const text of [JSON.stringify(stored.event), stored.rawBody]) {
        expect(text).not.toContain(BOT_ACCESS);
        expect(text).not.toContain(TOP_ACCESS);
        expect(text).not.toContain(TOKEN);
      }
    }
    // Nowhere in the database's files in plain text, while the handlers still need it.
    const files = readdirSync(tmp.dir).filter((f) => f.startsWith('events.db'));
    expect(files.length).toBeGreaterThan(0);
    for (const f of files) expect(readFileSync(`${tmp.dir}/${f}`).includes(BOT_ACCESS)).toBe(false);

    await gateway.drain();
    expect(seen).toHaveLength(2);
    for (const { bot, event } of seen) {
      expect(bot).toMatchObject({
        id: 456,
        code: 'support_bot',
        auth: { access_token: BOT_ACCESS, domain: 'some-domain.bitrix24.com' },
      });
      expect(event.data.bot.auth?.access_token).toBe('REDACTED');
    }
    const done = await gateway.store.getEvent(forms.id!);
    expect(done?.status).toBe('done');
    // Once done the bot's auth is erased from the store too.
    expect(done?.secrets ?? null).toBeNull();
    expect(logs.join('')).toContain('handler saw the bot');
    expect(logs.join('')).not.toContain(BOT_ACCESS);
  });

  it('an Event.get bot has no auth: ctx.bot is the bot with an empty auth', async () => {
    expect(botsOf({ data: { bot: { id: 456, code: 'support_bot', eventMode: 'fetch' } } }, null)).toEqual([
      { id: 456, code: 'support_bot', auth: {} },
    ]);
    expect(botsOf({ data: { message: { id: 1 } } }, null)).toEqual([]);
  });
});
