import type { Command } from 'commander';
import type { TextFormat } from '../../effects/channel/bbcode.js';
import { secretKey } from '../../effects/channel/sign.js';
import { GatewayError } from '../../errors.js';
import { consoleRoutes } from '../../console/routes.js';
import { createLogger } from '../../log.js';
import { openStore } from '../../store/open.js';
import type { Store } from '../../store/types.js';
import { serverRoles, type ServerRole } from '../../server/setup.js';
import { startServer } from '../../server/start.js';
import { defaultAllowedDomains, validPattern } from '../../verify/domains.js';
import { parseTokenPairs } from '../../verify/tokens.js';
import { parseDuration, parseSchedule } from '../../queue/schedule.js';
import { defaultLimits } from '../../wire/limits.js';
import { DEFAULT_CONCURRENCY } from '../../worker/worker.js';
import { action } from '../fail.js';
import { oauthOptions } from '../portal.js';
import { dbHelp, defaultDb } from '../open-db.js';
import { collect, envList, positiveInt } from '../options.js';
import { webhookBots } from '../pull-webhooks.js';

interface ServeOptions {
  host: string;
  port: number;
  db: string;
  appToken?: string[];
  allowDomain?: string[];
  appCode?: string;
  trustFirstInstall: boolean;
  maxPending: number;
  maxBodyBytes: number;
  maxParams: number;
  maxDepth: number;
  maxIndex: number;
  logLevel: string;
  role: string;
  channelUrl?: string;
  channelSecret?: string;
  channelFormat: string;
  clientId?: string;
  clientSecret?: string;
  oauthServer?: string;
  plan: string;
  concurrency: number;
  retrySchedule?: string;
  lease: string;
  handlerTimeout: string;
  storeWait: string;
  drainDelay: string;
  stopTimeout: string;
  adminPort?: string;
  adminHost: string;
  adminToken?: string;
  retain?: string;
  pull: boolean;
  pullInterval: string;
  pullLimit: number;
  pullDiscover: string;
  pullWebhook?: string[];
  botToken?: string[];
  botId?: string[];
}

const formats = ['text', 'html', 'markdown'];
const plans = ['standard', 'enterprise'];

/** A duration a timer can wait: above 0 and under 24 days (setTimeout runs longer ones at once). */
function positiveDuration(flag: string, text: string): number {
  const ms = parseDuration(text);
  if (ms <= 0 || ms > 2_147_483_647)
    throw new GatewayError('B24GW_BAD_CONFIG', `${flag} must be above 0 and at most 24 days, got "${text}"`);
  return ms;
}

export function registerServeCommand(program: Command): void {
  oauthOptions(
    program
      .command('serve')
      .description('Receive Bitrix24 events on POST /events, verify them and store them durably')
      .option('--host <host>', 'address to listen on (env HOST)', process.env.HOST ?? '127.0.0.1')
      .option('--port <port>', 'port to listen on (env PORT)', positiveInt('--port'), Number(process.env.PORT ?? 3000))
      .option('--db <location>', dbHelp, defaultDb())
      .option(
        '--role <role>',
        'all: intake and worker; intake: only POST /events; worker: only processing (env B24GW_ROLE)',
        process.env.B24GW_ROLE ?? 'all',
      )
      .option(
        '--app-token <member=token>',
        'known application_token of a portal, repeatable (env B24GW_APP_TOKENS=M=T,...)',
        collect,
      )
      .option(
        '--allow-domain <pattern>',
        'domain an install may come from, repeatable; * is one label, e.g. *.bitrix24.com or crm.example.com (env B24GW_ALLOW_DOMAINS; default: the Bitrix24 cloud, *.bitrix24.<zone>)',
        collect,
      )
      .option(
        '--trust-first-install',
        'development only: accept first installs that no OAuth client or --app-token proves; refused with NODE_ENV=production (env B24GW_TRUST_FIRST_INSTALL=1)',
        process.env.B24GW_TRUST_FIRST_INSTALL === '1',
      )
      .option(
        '--max-pending <n>',
        'deliveries taken at once; more are answered 503 with Retry-After (env B24GW_MAX_PENDING)',
        positiveInt('--max-pending'),
        Number(process.env.B24GW_MAX_PENDING ?? 2048),
      )
      .option(
        '--app-code <code>',
        'application code app.info must report on install (env B24GW_APP_CODE)',
        process.env.B24GW_APP_CODE,
      )
      .option(
        '--max-body-bytes <n>',
        'largest body accepted',
        positiveInt('--max-body-bytes'),
        defaultLimits.maxBodyBytes,
      )
      .option('--max-params <n>', 'most parameters in a body', positiveInt('--max-params'), defaultLimits.maxParams)
      .option('--max-depth <n>', 'deepest nesting in a body', positiveInt('--max-depth'), defaultLimits.maxDepth)
      .option('--max-index <n>', 'largest numeric key in a body', positiveInt('--max-index'), defaultLimits.maxIndex)
      .option(
        '--channel-url <url>',
        'deliver connector events here as signed JSON (env B24GW_CHANNEL_URL)',
        process.env.B24GW_CHANNEL_URL,
      )
      .option(
        '--channel-secret <secret>',
        'Standard Webhooks signing secret, whsec_ followed by base64 (env B24GW_CHANNEL_SECRET)',
        process.env.B24GW_CHANNEL_SECRET,
      )
      .option(
        '--channel-format <format>',
        'message text for the channel: text, html or markdown (env B24GW_CHANNEL_FORMAT)',
        process.env.B24GW_CHANNEL_FORMAT ?? 'text',
      ),
  )
    .option(
      '--concurrency <n>',
      'events processed at once (env B24GW_CONCURRENCY)',
      positiveInt('--concurrency'),
      Number(process.env.B24GW_CONCURRENCY ?? DEFAULT_CONCURRENCY),
    )
    .option(
      '--retry-schedule <list>',
      'delays before each retry, e.g. 5s,5m,30m,2h,5h,10h,10h (env B24GW_RETRY_SCHEDULE)',
      process.env.B24GW_RETRY_SCHEDULE,
    )
    .option(
      '--lease <duration>',
      "how long a claimed event stays held without a renewal: renewed every third of it while its handlers run, so a crashed process's events are taken again after it; a pull's lease is this, at most 10 s (env B24GW_LEASE)",
      process.env.B24GW_LEASE ?? '10s',
    )
    .option(
      '--handler-timeout <duration>',
      "how long an event's handlers may run before their ctx.signal is aborted and the attempt fails (env B24GW_HANDLER_TIMEOUT)",
      process.env.B24GW_HANDLER_TIMEOUT ?? '4m',
    )
    .option(
      '--store-wait <duration>',
      'PostgreSQL: how long an event is held while the database is away (a restart, a failover) before it is answered 503 with Retry-After (env B24GW_STORE_WAIT)',
      process.env.B24GW_STORE_WAIT ?? '5s',
    )
    .option(
      '--drain-delay <duration>',
      'on SIGTERM, how long /readyz answers 503 while events are still taken, so that a load balancer stops sending before the listener closes (env B24GW_DRAIN_DELAY)',
      process.env.B24GW_DRAIN_DELAY ?? '0s',
    )
    .option(
      '--stop-timeout <duration>',
      'on SIGTERM, how long handlers in flight may run before they are aborted and their events handed back (env B24GW_STOP_TIMEOUT)',
      process.env.B24GW_STOP_TIMEOUT ?? '10s',
    )
    .option(
      '--admin-port <port>',
      'serve the console (/console/), its API (/api/), GET /metrics, /healthz and /readyz on this port, apart from the events; without it, none of them (env B24GW_ADMIN_PORT)',
      process.env.B24GW_ADMIN_PORT || undefined,
    )
    .option(
      '--admin-host <host>',
      'address of the admin listener; anything but loopback needs --admin-token (env B24GW_ADMIN_HOST)',
      process.env.B24GW_ADMIN_HOST ?? '127.0.0.1',
    )
    .option(
      '--admin-token <token>',
      'admin routes then need it: Authorization: Bearer <token>, or basic auth with it as the password (the console in a browser); 16 characters or more (env B24GW_ADMIN_TOKEN: better than the flag, which ps shows)',
      process.env.B24GW_ADMIN_TOKEN || undefined,
    )
    .option(
      '--retain <duration>',
      'remove finished events (done, invalid, dead) received longer ago than this, e.g. 30d; default: kept for ever (env B24GW_RETAIN)',
      process.env.B24GW_RETAIN || undefined,
    )
    .option(
      '--pull',
      'pull what Bitrix24 keeps for the application: events of Chatbots 2.0 bots in fetch mode (imbot.v2.Event.get) and the offline queue (event.offline.get) of every installed portal (env B24GW_PULL=1)',
      process.env.B24GW_PULL === '1' || process.env.B24GW_PULL === 'true',
    )
    .option(
      '--pull-interval <duration>',
      'with --pull: how long a queue rests after a pull that found less than a page (env B24GW_PULL_INTERVAL)',
      process.env.B24GW_PULL_INTERVAL ?? '5s',
    )
    .option(
      '--pull-discover <duration>',
      "with --pull: how often each portal's fetch-mode bots and offline bindings are looked up again (env B24GW_PULL_DISCOVER)",
      process.env.B24GW_PULL_DISCOVER ?? '1m',
    )
    .option(
      '--pull-limit <n>',
      'with --pull: events asked for in one pull (Event.get takes 1 to 1000) (env B24GW_PULL_LIMIT)',
      positiveInt('--pull-limit'),
      Number(process.env.B24GW_PULL_LIMIT ?? 100),
    )
    .option(
      '--pull-webhook <url>',
      "with --pull: a portal's incoming webhook (https://<portal>/rest/<user id>/<code>/) to pull one bot's events through, for a local integration without an installed application; repeatable, each with its --bot-token and --bot-id in the same order (env B24GW_PULL_WEBHOOK, comma-separated: better than the flag, which ps shows)",
      collect,
    )
    .option(
      '--bot-token <token>',
      "with --pull-webhook: the bot's botToken, given when it was registered through that webhook (env B24GW_BOT_TOKEN)",
      collect,
    )
    .option('--bot-id <id>', "with --pull-webhook: the bot's id (env B24GW_BOT_ID)", collect)
    .option('--log-level <level>', 'fatal, error, warn, info, debug (env LOG_LEVEL)', process.env.LOG_LEVEL ?? 'info')
    .addHelpText(
      'after',
      '\nExample:\n  b24-im-gateway serve --port 3000 --db ./events.db --app-token a223c6b3...=51856fef...\n',
    )
    .action(
      action(async (o: ServeOptions) => {
        if (!(serverRoles as readonly string[]).includes(o.role))
          throw new GatewayError(
            'B24GW_BAD_CONFIG',
            `--role must be one of ${serverRoles.join(', ')}, got "${o.role}"`,
          );
        if (!formats.includes(o.channelFormat))
          throw new GatewayError(
            'B24GW_BAD_CONFIG',
            `--channel-format must be one of ${formats.join(', ')}, got "${o.channelFormat}"`,
          );
        if (!plans.includes(o.plan))
          throw new GatewayError('B24GW_BAD_CONFIG', `--plan must be one of ${plans.join(', ')}, got "${o.plan}"`);
        if (o.channelUrl && !o.channelSecret)
          throw new GatewayError(
            'B24GW_BAD_CONFIG',
            '--channel-url needs --channel-secret (a whsec_ secret) to sign deliveries',
          );
        if (o.channelSecret !== undefined) {
          try {
            secretKey(o.channelSecret);
          } catch (e) {
            throw new GatewayError('B24GW_BAD_CONFIG', `--channel-secret: ${(e as Error).message}`);
          }
        }
        let schedule: number[] | undefined;
        let leaseMs: number;
        let handlerTimeoutMs: number;
        let retainMs: number | undefined;
        let pullIdleMs: number;
        let pullDiscoverMs: number;
        let storeWaitMs: number;
        let drainDelayMs: number;
        let stopGraceMs: number;
        try {
          pullIdleMs = positiveDuration('--pull-interval', o.pullInterval);
          pullDiscoverMs = positiveDuration('--pull-discover', o.pullDiscover);
          storeWaitMs = positiveDuration('--store-wait', o.storeWait);
          drainDelayMs = o.drainDelay.trim() === '0' ? 0 : parseDuration(o.drainDelay);
          stopGraceMs = positiveDuration('--stop-timeout', o.stopTimeout);
          schedule = o.retrySchedule ? parseSchedule(o.retrySchedule) : undefined;
          leaseMs = positiveDuration('--lease', o.lease);
          handlerTimeoutMs = positiveDuration('--handler-timeout', o.handlerTimeout);
          retainMs = o.retain === undefined ? undefined : positiveDuration('--retain', o.retain);
        } catch (e) {
          throw new GatewayError('B24GW_BAD_CONFIG', (e as Error).message);
        }
        if (retainMs !== undefined && retainMs < 1_000)
          throw new GatewayError('B24GW_BAD_CONFIG', `--retain must be 1s or more, got "${o.retain}"`);
        if (retainMs !== undefined && o.role === 'intake')
          throw new GatewayError('B24GW_BAD_CONFIG', '--retain runs with the worker: use it with --role all or worker');
        if (o.pull && o.role === 'intake')
          throw new GatewayError('B24GW_BAD_CONFIG', '--pull runs with the worker: use it with --role all or worker');
        const webhooks = webhookBots(
          [...(o.pullWebhook ?? []), ...envList('B24GW_PULL_WEBHOOK')],
          [...(o.botToken ?? []), ...envList('B24GW_BOT_TOKEN')],
          [...(o.botId ?? []), ...envList('B24GW_BOT_ID')],
        );
        if (webhooks.length > 0 && !o.pull)
          throw new GatewayError('B24GW_BAD_CONFIG', '--pull-webhook pulls: use it with --pull');
        const adminPort = o.adminPort === undefined ? undefined : Number(o.adminPort);
        if (adminPort !== undefined && !(/^\d{1,5}$/.test(o.adminPort!) && adminPort < 65_536)) {
          throw new GatewayError('B24GW_BAD_CONFIG', `--admin-port must be a port number, got "${o.adminPort}"`);
        }
        if (adminPort === undefined && (o.adminToken !== undefined || o.adminHost !== '127.0.0.1')) {
          throw new GatewayError(
            'B24GW_BAD_CONFIG',
            '--admin-host and --admin-token need --admin-port (B24GW_ADMIN_PORT)',
          );
        }
        if (adminPort !== undefined && adminPort !== 0 && adminPort === o.port)
          throw new GatewayError('B24GW_BAD_CONFIG', '--admin-port must differ from --port');
        const logger = createLogger({ level: o.logLevel });
        // The console reads the database on a store of its own, opened at its first request (the gateway makes the file first).
        const consoleStores: Store[] = [];
        const admin =
          adminPort === undefined
            ? undefined
            : {
                host: o.adminHost,
                port: adminPort,
                ...(o.adminToken !== undefined ? { token: o.adminToken } : {}),
                routes: consoleRoutes({
                  store: () => {
                    const store = openStore(o.db, { logger });
                    consoleStores.push(store);
                    return store;
                  },
                  plan: o.plan as 'standard' | 'enterprise',
                  channelFormat: o.channelFormat as TextFormat,
                  channel: Boolean(o.channelUrl),
                }),
              };
        const allowDomains = [...(o.allowDomain ?? []), ...envList('B24GW_ALLOW_DOMAINS')];
        const badPattern = allowDomains.find((p) => !validPattern(p));
        if (badPattern !== undefined)
          throw new GatewayError(
            'B24GW_BAD_CONFIG',
            `--allow-domain "${badPattern}" is not a host name pattern (labels, * for one label, :port)`,
          );
        const spec = {
          db: o.db,
          logger,
          appTokens: parseTokenPairs([...(o.appToken ?? []), ...envList('B24GW_APP_TOKENS')]),
          allowDomains: allowDomains.length > 0 ? allowDomains : defaultAllowedDomains,
          ...(o.appCode ? { appCode: o.appCode } : {}),
          ...(o.trustFirstInstall ? { trustFirstInstall: true } : {}),
          maxPending: o.maxPending,
          limits: { maxBodyBytes: o.maxBodyBytes, maxParams: o.maxParams, maxDepth: o.maxDepth, maxIndex: o.maxIndex },
          storeWaitMs,
          worker: {
            concurrency: o.concurrency,
            leaseMs,
            handlerTimeoutMs,
            stopGraceMs,
            ...(schedule ? { schedule } : {}),
          },
          bitrix: {
            plan: o.plan as 'standard' | 'enterprise',
            ...(o.clientId ? { clientId: o.clientId } : {}),
            ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
            ...(o.oauthServer ? { oauthServer: o.oauthServer } : {}),
          },
          ...(o.channelUrl && o.channelSecret
            ? { channel: { url: o.channelUrl, secret: o.channelSecret, format: o.channelFormat as TextFormat } }
            : {}),
          ...(retainMs !== undefined ? { retention: { olderThanMs: retainMs } } : {}),
          ...(o.pull
            ? {
                pull: {
                  idleMs: pullIdleMs,
                  discoverMs: pullDiscoverMs,
                  limit: Math.min(1000, o.pullLimit),
                  leaseMs: Math.min(leaseMs, 10_000),
                  ...(webhooks.length > 0 ? { webhooks } : {}),
                },
              }
            : {}),
        };
        const server = await startServer(spec, {
          host: o.host,
          port: o.port,
          role: o.role as ServerRole,
          ...(admin ? { admin } : {}),
          drainDelayMs,
          onThreadExit: (role, code) => {
            logger.fatal({ code }, `the ${role} thread stopped; exiting so that a supervisor restarts the gateway`);
            process.exit(code);
          },
        });
        const where =
          (o.role === 'worker' ? 'processing only' : `events go to POST ${server.url}/events`) +
          (o.pull ? ', and pulled' : '');
        const adminAt = server.adminUrl
          ? `; console at ${server.adminUrl}/console/, metrics at ${server.adminUrl}/metrics`
          : '';
        logger.info(
          { url: server.url, role: o.role, ...(server.adminUrl ? { adminUrl: server.adminUrl } : {}) },
          `listening on ${server.url} (${o.role}): ${where}${adminAt}`,
        );
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'shutting down');
          void server
            .close()
            .then(() => Promise.all(consoleStores.map((s) => s.close().catch(() => undefined))))
            .then(() => process.exit(0));
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      }),
    );
}
