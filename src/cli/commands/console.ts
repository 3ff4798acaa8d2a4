import type { Command } from 'commander';
import { Registry } from 'prom-client';
import { consoleRoutes } from '../../console/routes.js';
import type { TextFormat } from '../../effects/channel/types.js';
import { GatewayError } from '../../errors.js';
import { createLogger } from '../../log.js';
import { listenAdmin } from '../../server/admin.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb, openExistingDb } from '../open-db.js';
import { positiveInt } from '../options.js';

interface ConsoleOptions {
  db: string;
  host: string;
  port: number;
  token?: string;
  plan: string;
  channelFormat: string;
  channel: boolean;
  logLevel: string;
}

export function registerConsoleCommand(program: Command): void {
  program
    .command('console')
    .description(
      'Serve the console (overview, events, dead letters and replay, conversations, portals) and its JSON API for a database, without running a gateway',
    )
    .option('--db <location>', dbHelp, defaultDb())
    .option('--host <host>', 'address to listen on; anything but loopback needs --token', '127.0.0.1')
    .option('--port <port>', 'port to listen on; 0 picks a free one', positiveInt('--port'), 8080)
    .option(
      '--token <token>',
      'the page and the API then need it: basic auth with it as the password, or Authorization: Bearer (env B24GW_ADMIN_TOKEN: better than the flag, which ps shows)',
      process.env.B24GW_ADMIN_TOKEN || undefined,
    )
    .option(
      '--plan <plan>',
      'REST limits shown per portal: standard or enterprise',
      process.env.B24GW_PLAN ?? 'standard',
    )
    .option(
      '--channel-format <format>',
      "message text as the gateway sends it to the channel (text, html, markdown): an event's page shows its payloads so",
      process.env.B24GW_CHANNEL_FORMAT ?? 'text',
    )
    .option('--no-channel', "the gateway has no channel: an event's page shows no payloads")
    .option('--log-level <level>', 'fatal, error, warn, info, debug', process.env.LOG_LEVEL ?? 'info')
    .addHelpText('after', '\nExample:\n  b24-im-gateway console --db ./events.db --port 8080\n')
    .action(
      action(async (o: ConsoleOptions) => {
        if (o.plan !== 'standard' && o.plan !== 'enterprise')
          throw new GatewayError('B24GW_BAD_CONFIG', `--plan must be standard or enterprise, got "${o.plan}"`);
        if (!['text', 'html', 'markdown'].includes(o.channelFormat))
          throw new GatewayError('B24GW_BAD_CONFIG', `--channel-format must be text, html or markdown`);
        const logger = createLogger({ level: o.logLevel });
        const store = openExistingDb(o.db);
        const registry = new Registry();
        const listener = await listenAdmin(
          {
            receiver: undefined,
            ready: () => store.ping(),
            metrics: async () => ({ text: await registry.metrics(), contentType: registry.contentType }),
            logger,
          },
          {
            host: o.host,
            port: o.port,
            ...(o.token !== undefined ? { token: o.token } : {}),
            routes: consoleRoutes({
              store,
              plan: o.plan,
              channelFormat: o.channelFormat as TextFormat,
              channel: o.channel,
            }),
          },
          () => false,
        ).catch(async (e: unknown) => {
          await store.close();
          throw e;
        });
        logger.info({ url: `${listener.url}/console/` }, `console at ${listener.url}/console/`);
        const stop = () => void listener.close().then(() => store.close().then(() => process.exit(0)));
        process.on('SIGINT', stop);
        process.on('SIGTERM', stop);
      }),
    );
}
