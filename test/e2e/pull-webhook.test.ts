import { readFileSync } from 'node:fs';
import { describe, expect, it } from 'vitest';
import { callRest } from '@b24-im-gateway/sandbox';
import { Gateway, imbotV2, type GatewayOptions } from '../../src/index.js';
import { useGatewayRig } from '../gateway-rig.js';
import { until } from '../helpers.js';

// A local integration without an installed application: a bot registered through the portal's
// incoming webhook with a botToken, in fetch mode. The gateway pulls it through that webhook
// over real sockets, runs the handler, replies through the webhook, and keeps no secret of it.

const rig = useGatewayRig({ clientId: 'local.hook.1', clientSecret: 'hook-secret-0123456789' });

function startGateway(pull: GatewayOptions['pull']): Promise<Gateway> {
  return rig.start({ db: `${rig.dir}/hook.db`, worker: { pollMs: 50, schedule: [50, 50] }, pull });
}

const fast = { offline: false, fetch: false, idleMs: 50, fetchGapMs: 10, discoverMs: 200, pollMs: 20 };

/** A fetch-mode bot registered through a fresh incoming webhook with its own botToken. */
async function webhookBot(botToken: string): Promise<{ url: string; code: string; botId: number }> {
  const hook = rig.sb.addWebhook(rig.sb.portal);
  const r = await callRest(hook.url, 'imbot.v2.Bot.register', {
    botToken,
    fields: { code: 'local', properties: { name: 'Local' }, eventMode: 'fetch' },
  });
  expect(r.body.error).toBeUndefined();
  return { url: hook.url, code: hook.code, botId: r.body.result.bot.id as number };
}

describe('a bot pulled through an incoming webhook', () => {
  it('is pulled with its botToken, handled once as `fetch`, answered through the webhook, its queue confirmed', async () => {
    const botToken = 'local-bot-token-7f3a9c';
    const bot = await webhookBot(botToken);
    const gateway = await startGateway({ ...fast, limit: 3, webhooks: [{ url: bot.url, botToken, botId: bot.botId }] });
    const seen: string[] = [];
    const members = new Set<string>();
    gateway.on('ONIMBOTV2MESSAGEADD', async (event, ctx) => {
      seen.push(event.data.message.text);
      members.add(`${ctx.memberId} ${ctx.delivery}`);
      await imbotV2(ctx).reply(event, `Received: ${event.data.message.text}`);
    });
    gateway.start();
    const texts = ['one', 'two', 'three', 'four', 'five'];
    for (const text of texts) await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId: bot.botId, text });
    await until(() => seen.length >= texts.length);
    await gateway.drain();

    expect(seen).toEqual(texts);
    const host = new URL(rig.sb.url).host;
    // The key is the webhook's host and user: never its secret code.
    expect([...members]).toEqual([`hook:${host}:${rig.sb.portal.adminUserId} fetch`]);
    const stored = await gateway.store.listEvents({ code: 'ONIMBOTV2MESSAGEADD' });
    expect(stored.map((e) => [e.status, e.delivery])).toEqual(Array(texts.length).fill(['done', 'fetch']));
    expect((stored[0]!.event as { auth: unknown }).auth).toMatchObject({
      domain: host,
      member_id: `hook:${host}:${rig.sb.portal.adminUserId}`,
    });
    const queue = rig.sb.portal.chatbots.settings.get(bot.botId)!.queue;
    await until(() => queue.size === 0);
    // Every call went through the webhook (no auth) with the bot's token: Event.get and the replies.
    const gets = rig.sb.recorder.calls({ method: 'imbot.v2.event.get' });
    expect(gets.length).toBeGreaterThan(1);
    expect(gets.every((c) => c.params.botToken === botToken && c.params.auth === undefined)).toBe(true);
    const replies = rig.sb.recorder.calls({ method: 'imbot.v2.chat.message.send' });
    expect(replies.map((c) => (c.params.fields as { message: string }).message).sort()).toEqual(
      texts.map((t) => `Received: ${t}`).sort(),
    );
    const [cursor] = await gateway.store.listPullCursors({ kind: 'bot' });
    expect(cursor).toMatchObject({ memberId: `hook:${host}:${rig.sb.portal.adminUserId}`, target: String(bot.botId) });
    expect(cursor!.pulled).toBe(texts.length);

    // Neither the webhook's code nor the botToken is kept anywhere in the database.
    await rig.stop();
    const db = readFileSync(`${rig.dir}/hook.db`).toString('latin1');
    expect(db).toContain(`hook:${host}`);
    expect(db).not.toContain(bot.code);
    expect(db).not.toContain(botToken);
  });

  it('a wrong botToken or an unknown webhook is a coded failure: the cursor backs off, the gateway keeps going', async () => {
    const bot = await webhookBot('the-right-token-0042');
    const unknown = bot.url.replace(bot.code, 'ffffffffffffffff');
    const gateway = await startGateway({
      ...fast,
      schedule: [60_000],
      webhooks: [
        { url: bot.url, botToken: 'a-wrong-token-00000', botId: bot.botId },
        {
          url: unknown.replace(`/rest/${rig.sb.portal.adminUserId}/`, '/rest/999/'),
          botToken: 'whatever-token',
          botId: 7,
        },
      ],
    });
    gateway.start();
    const failed = async () =>
      (await gateway.store.listPullCursors({ kind: 'bot' })).filter((c) => c.lastError !== null);
    await until(async () => (await failed()).length === 2);
    const cursors = await failed();
    const byError = cursors.map((c) => c.lastError!).sort();
    expect(byError[0]).toMatch(/imbot\.v2\.Event\.get for portal hook:.*:1 failed with BOT_OWNERSHIP_ERROR/);
    expect(byError[1]).toMatch(/for portal hook:.*:999 failed with INVALID_CREDENTIALS/);
    for (const c of cursors) {
      // Backed off on its schedule (a minute), still active, and no secret in what is kept.
      expect(c.status).toBe('active');
      expect(c.dueAt).toBeGreaterThan(Date.now() + 30_000);
      expect(c.lastError).not.toMatch(/wrong-token|whatever-token|ffffffff/);
    }
    expect(await gateway.store.listEvents({})).toEqual([]);
    await gateway.drain(); // nothing due, nothing thrown
    // A webhook member this instance has no configuration for (another instance's) is refused, coded.
    await expect(gateway.bitrix.forPortal('hook:elsewhere.example:1').call('app.info')).rejects.toMatchObject({
      code: 'B24GW_PORTAL_UNUSABLE',
    });
  });
});
