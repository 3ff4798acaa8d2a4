import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import { setupBot, teardownBot, type BotCommand } from '../../setup/bot.js';
import { action } from '../fail.js';
import { openExistingDb } from '../open-db.js';
import { collect } from '../options.js';
import { clientsFor, pickPortal, portalOptions, type PortalFlags } from '../portal.js';
import { printReport } from './connector.js';

interface BotFlags extends PortalFlags {
  code: string;
  name?: string;
  lastName?: string;
  workPosition?: string;
  type: string;
  url?: string;
  fetch?: boolean;
  openline?: boolean;
  command: string[];
  dryRun?: boolean;
  json?: boolean;
}

/** `help=Show help` → the command `help` titled "Show help" in English; without a title, a hidden command. */
function command(spec: string): BotCommand {
  const [name = '', ...title] = spec.split('=');
  const text = title.join('=').trim();
  return { command: name.trim().replace(/^\//, ''), ...(text ? { title: { en: text } } : { hidden: true }) };
}

export function registerBotCommand(program: Command): void {
  const bot = program.command('bot').description('Set a Chatbots 2.0 bot up on a portal (imbot.v2), or remove it');

  portalOptions(
    bot
      .command('setup')
      .description(
        'Register the bot (or update its event mode and URL), then its slash commands; a second run registers no new bot',
      )
      .requiredOption(
        '--code <code>',
        "the bot's code, unique within the application (env B24GW_BOT_CODE)",
        process.env.B24GW_BOT_CODE,
      ),
  )
    .option('--name <name>', 'its name in the chat list (default: the code)')
    .option('--last-name <name>', 'its last name')
    .option('--work-position <text>', 'its position, shown in its profile')
    .option('--type <type>', 'bot, supervisor, openline, network or personal', 'bot')
    .option(
      '--url <url>',
      "webhook mode: its events are posted to the gateway's events URL (env B24GW_PUBLIC_URL)",
      process.env.B24GW_PUBLIC_URL,
    )
    .option('--fetch', 'fetch mode: its events wait for the gateway to fetch them with imbot.v2.Event.get')
    .option('--openline', 'it may answer in Open Lines')
    .option('--command <name=title>', 'a slash command, repeatable; without =title it is hidden', collect, [])
    .option('--dry-run', 'read the portal and print the calls that would be made, making none')
    .option('--json', 'print what was done as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  b24-im-gateway bot setup --code helper --name Helper --url https://gw.example.com/events --command "help=Show help"\n',
    )
    .action(
      action(async (o: BotFlags) => {
        if (o.fetch && o.url && process.env.B24GW_PUBLIC_URL !== o.url)
          throw new GatewayError('B24GW_BAD_INPUT', 'Give --url (webhook mode) or --fetch, not both');
        if (!o.fetch && !o.url)
          throw new GatewayError(
            'B24GW_BAD_INPUT',
            'Say how the bot gets its events: --url https://<your host>/events (webhook), or --fetch',
          );
        const store = openExistingDb(o.db);
        const clients = clientsFor(store, o);
        try {
          const memberId = await pickPortal(store, o.portal);
          const report = await setupBot(clients.forPortal(memberId), {
            code: o.code,
            name: o.name ?? o.code,
            ...(o.lastName ? { lastName: o.lastName } : {}),
            ...(o.workPosition ? { workPosition: o.workPosition } : {}),
            type: o.type,
            delivery: o.fetch ? { fetch: true } : { webhook: o.url! },
            openline: o.openline === true,
            commands: o.command.map(command),
            dryRun: o.dryRun === true,
          });
          printReport(report, o.json, `${o.dryRun ? 'Would set up' : 'Set up'} bot ${o.code} on portal ${memberId}:`);
        } finally {
          clients.close();
          await store.close();
        }
      }),
    );

  portalOptions(
    bot
      .command('teardown')
      .description('Unregister the bot (its commands and subscriptions go with it)')
      .requiredOption('--code <code>', "the bot's code (env B24GW_BOT_CODE)", process.env.B24GW_BOT_CODE),
  )
    .option('--dry-run', 'print the call that would be made')
    .option('--json', 'print what was done as JSON')
    .action(
      action(async (o: BotFlags) => {
        const store = openExistingDb(o.db);
        const clients = clientsFor(store, o);
        try {
          const memberId = await pickPortal(store, o.portal);
          const report = await teardownBot(clients.forPortal(memberId), { code: o.code, dryRun: o.dryRun === true });
          printReport(report, o.json, `${o.dryRun ? 'Would remove' : 'Removed'} bot ${o.code} on portal ${memberId}:`);
        } finally {
          clients.close();
          await store.close();
        }
      }),
    );
}
