import { describe, expect, it } from 'vitest';
import { installed, portalFlags, runCli } from './connector-cli.js';
import { useSandboxRig } from './sandbox-rig.js';

// `b24-im-gateway bot setup` and `teardown` through the built CLI against the sandbox's imbot.v2.

const rig = useSandboxRig({ timeoutMs: 30_000 });

const setup = (...extra: string[]) =>
  runCli(['bot', 'setup', ...portalFlags(rig), '--code', 'helper', '--name', 'Helper', ...extra]);
const botsOf = () =>
  [...rig.sb.portal.bots.values()].filter((b) => !rig.sb.portal.chatbots.settings.get(b.id)?.deleted);

describe('bot setup', () => {
  it('registers a webhook bot posting to the gateway with its commands; the gateway takes its events; a second run registers no second bot; teardown removes it', async () => {
    await installed(rig);
    const dry = await setup('--url', rig.eventsUrl(), '--command', 'help=Show help', '--dry-run');
    expect(dry.code, dry.stderr).toBe(0);
    expect(dry.stdout).toContain('→ imbot.v2.Bot.register {"fields":{"code":"helper"');
    expect(botsOf()).toEqual([]);

    const done = await setup('--url', rig.eventsUrl(), '--command', 'help=Show help', '--command', 'debug');
    expect(done.code, done.stderr).toBe(0);
    expect(done.stdout).toContain(`✔ register bot helper ("Helper", events posted to ${rig.eventsUrl()})`);
    expect(done.stdout).toContain('✔ register command /help');
    const [bot] = botsOf();
    const settings = rig.sb.portal.chatbots.settings.get(bot!.id)!;
    expect(settings).toMatchObject({ eventMode: 'webhook', webhookUrl: rig.eventsUrl(), owner: { kind: 'app' } });
    const commands = [...rig.sb.portal.chatbots.commands.values()].filter((c) => c.botId === bot!.id);
    expect(commands.map((c) => [c.command, c.hidden, c.title])).toEqual([
      ['help', false, { en: 'Show help' }],
      ['debug', true, {}],
    ]);

    // A user writes to the bot: Bitrix24 posts ONIMBOTV2MESSAGEADD to the gateway, which keeps it.
    const wrote = await rig.sb.act.chatbot(rig.sb.portal, { kind: 'write', botId: bot!.id, text: 'hi' });
    expect(wrote.ok).toBe(true);
    await rig.until(
      async () => (await rig.store!.listEvents({ code: 'ONIMBOTV2MESSAGEADD' }))[0],
      () => 'the bot event stored',
    );

    const again = await setup('--fetch', '--command', 'help=Show help');
    expect(again.code, again.stderr).toBe(0);
    expect(again.stdout).toContain(`· bot helper is registered (id ${bot!.id})`);
    expect(again.stdout).toContain('✔ update bot helper: events kept for the gateway to fetch');
    expect(botsOf()).toHaveLength(1);
    expect(rig.sb.portal.chatbots.settings.get(bot!.id)).toMatchObject({ eventMode: 'fetch' });

    const down = await runCli(['bot', 'teardown', ...portalFlags(rig), '--code', 'helper']);
    expect(down.code, down.stderr).toBe(0);
    expect(down.stdout).toContain(`✔ unregister bot helper (id ${bot!.id})`);
    expect(botsOf()).toEqual([]);
    expect((await runCli(['bot', 'teardown', ...portalFlags(rig), '--code', 'helper'])).stdout).toContain(
      '· no bot helper is registered',
    );
  });

  it('refuses a missing mode and a bad command before any call; a refused registration says why', async () => {
    await installed(rig);
    expect((await setup()).stderr).toMatch(/^error B24GW_BAD_INPUT: Say how the bot gets its events/);
    expect((await setup('--fetch', '--command', 'two words=x')).stderr).toMatch(
      /^error B24GW_BAD_INPUT: A command is a word/,
    );
    const refused = await setup('--fetch', '--type', 'robot');
    expect(refused.code).toBe(1);
    expect(refused.stderr).toMatch(
      /^error B24GW_SETUP_FAILED: Bitrix24 imbot\.v2\.Bot\.register .*BOT_INVALID_TYPE.*nothing was changed/,
    );
  });
});
