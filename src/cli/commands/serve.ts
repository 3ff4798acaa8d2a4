import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import { Gateway } from '../../gateway.js';
import { createLogger } from '../../log.js';
import { startHttpServer } from '../../server/http.js';
import { defaultAllowedDomains } from '../../verify/domains.js';
import { parseTokenPairs } from '../../verify/tokens.js';
import { defaultLimits } from '../../wire/limits.js';
import { action } from '../fail.js';
import { dbHelp, defaultDb } from '../open-db.js';
import { collect, envList, positiveInt } from '../options.js';

interface ServeOptions {
  host: string;
  port: number;
  db: string;
  appToken: string[];
  allowDomain: string[];
  appCode?: string;
  maxBodyBytes: number;
  maxParams: number;
  maxDepth: number;
  maxIndex: number;
  logLevel: string;
  role: string;
}

const roles = ['all', 'intake', 'worker'];

export function registerServeCommand(program: Command): void {
  program
    .command('serve')
    .description('Receive Bitrix24 events on POST /events, verify them and store them durably')
    .option('--host <host>', 'address to listen on (env HOST)', process.env.HOST ?? '127.0.0.1')
    .option('--port <port>', 'port to listen on (env PORT)', positiveInt('--port'), Number(process.env.PORT ?? 3000))
    .option('--db <location>', dbHelp, defaultDb())
    .option('--role <role>', 'all: intake and worker; intake: only POST /events; worker: only processing (env B24GW_ROLE)', process.env.B24GW_ROLE ?? 'all')
    .option('--app-token <member=token>', 'known application_token of a portal, repeatable (env B24GW_APP_TOKENS=M=T,...)', collect, [])
    .option('--allow-domain <pattern>', `domain an install may come from, repeatable; * is any labels (env B24GW_ALLOW_DOMAINS; default ${defaultAllowedDomains.join(', ')})`, collect, [])
    .option('--app-code <code>', "application code app.info must report on install (env B24GW_APP_CODE)", process.env.B24GW_APP_CODE)
    .option('--max-body-bytes <n>', 'largest body accepted', positiveInt('--max-body-bytes'), defaultLimits.maxBodyBytes)
    .option('--max-params <n>', 'most parameters in a body', positiveInt('--max-params'), defaultLimits.maxParams)
    .option('--max-depth <n>', 'deepest nesting in a body', positiveInt('--max-depth'), defaultLimits.maxDepth)
    .option('--max-index <n>', 'largest numeric key in a body', positiveInt('--max-index'), defaultLimits.maxIndex)
    .option('--log-level <level>', 'fatal, error, warn, info, debug (env LOG_LEVEL)', process.env.LOG_LEVEL ?? 'info')
    .addHelpText('after', '\nExample:\n  b24-im-gateway serve --port 3000 --db ./events.db --app-token a223c6b3...=51856fef...\n')
    .action(
      action(async (o: ServeOptions) => {
        if (!roles.includes(o.role)) throw new GatewayError('B24GW_BAD_CONFIG', `--role must be one of ${roles.join(', ')}, got "${o.role}"`);
        const logger = createLogger({ level: o.logLevel });
        const allowDomains = [...o.allowDomain, ...envList('B24GW_ALLOW_DOMAINS')];
        const gateway = new Gateway({
          db: o.db,
          logger,
          appTokens: parseTokenPairs([...o.appToken, ...envList('B24GW_APP_TOKENS')]),
          allowDomains: allowDomains.length > 0 ? allowDomains : defaultAllowedDomains,
          ...(o.appCode ? { appCode: o.appCode } : {}),
          limits: { maxBodyBytes: o.maxBodyBytes, maxParams: o.maxParams, maxDepth: o.maxDepth, maxIndex: o.maxIndex },
        });
        const running = await startHttpServer(gateway, { host: o.host, port: o.port, intake: o.role !== 'worker' });
        if (o.role !== 'intake') gateway.start();
        const where = o.role === 'worker' ? 'processing only' : `events go to POST ${running.url}/events`;
        logger.info({ url: running.url, role: o.role }, `listening on ${running.url} (${o.role}): ${where}`);
        let stopping = false;
        const stop = (signal: string) => {
          if (stopping) return;
          stopping = true;
          logger.info({ signal }, 'shutting down');
          void running.close().then(() => process.exit(0));
        };
        process.on('SIGINT', () => stop('SIGINT'));
        process.on('SIGTERM', () => stop('SIGTERM'));
      }),
    );
}
