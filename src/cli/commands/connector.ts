import { existsSync, readFileSync } from 'node:fs';
import type { Command } from 'commander';
import { GatewayError } from '../../errors.js';
import { SETTINGS_PATH, setupConnector, teardownConnector, type SetupReport } from '../../setup/connector.js';
import type { Delivery } from '../../setup/bindings.js';
import type { CustomerActionStatus } from '../../store/types.js';
import { action } from '../fail.js';
import { formatTable } from '../table.js';
import { dbHelp, defaultDb, openExistingDb } from '../open-db.js';
import { collect, positiveInt } from '../options.js';
import { clientsFor, pickPortal, portalOptions, type PortalFlags } from '../portal.js';

interface SetupFlags extends PortalFlags {
  connector: string;
  name?: string;
  icon?: string;
  iconColor?: string;
  chatGroup?: boolean;
  placementHandler?: string;
  line: string[];
  url?: string;
  offline?: boolean;
  dataId?: string;
  dataUrl?: string;
  dataName?: string;
  dryRun?: boolean;
  json?: boolean;
}

/** A speech bubble: the icon when none is given. */
const DEFAULT_ICON =
  '<svg xmlns="http://www.w3.org/2000/svg" viewBox="0 0 24 24"><path fill="#fff" d="M4 4h16a2 2 0 0 1 2 2v9a2 2 0 0 1-2 2H9l-5 4v-4a2 2 0 0 1-2-2V6a2 2 0 0 1 2-2z"/></svg>';

const lines = (values: string[]): number[] => (values.length === 0 ? [1] : values.map((v) => positiveInt('--line')(v)));

function delivery(o: { url?: string; offline?: boolean }): Delivery {
  // Offline with a URL: the events wait in the portal's queue, and ONOFFLINEEVENT is posted to the URL.
  if (o.offline) return o.url ? { offline: true, wakeUrl: o.url } : { offline: true };
  if (!o.url)
    throw new GatewayError(
      'B24GW_BAD_INPUT',
      'Say where the portal sends events: --url https://<your host>/events (env B24GW_PUBLIC_URL), or --offline',
    );
  return { url: o.url };
}

function icon(value: string | undefined): string {
  if (value === undefined) return DEFAULT_ICON;
  if (value.startsWith('data:') || value.trimStart().startsWith('<svg')) return value;
  if (!existsSync(value))
    throw new GatewayError('B24GW_BAD_INPUT', `--icon must be an SVG file, an SVG or a data: URI; no file at ${value}`);
  return readFileSync(value, 'utf8');
}

/** What setup or teardown did, as lines (or JSON). */
export function printReport(report: SetupReport, json: boolean | undefined, intro: string): void {
  if (json) return void process.stdout.write(`${JSON.stringify(report, null, 2)}\n`);
  console.log(intro);
  for (const s of report.steps) {
    if (s.outcome === 'done') console.log(`  ✔ ${s.summary}`);
    else if (s.outcome === 'kept') console.log(`  · ${s.summary}`);
    else console.log(`  → ${s.method} ${JSON.stringify(s.params)}`);
  }
  if (report.steps.every((s) => s.outcome === 'kept')) console.log('  Nothing to do.');
}

export function registerConnectorCommand(program: Command): void {
  const connector = program
    .command('connector')
    .description(
      "Set an Open Lines connector up on a portal, tear it down, and see or replay what the channel's customers did",
    );

  portalOptions(
    connector
      .command('setup')
      .description(
        'Register the connector, bind its events to the gateway (or the offline queue), activate it on its lines and set its data; a second run does only what is missing',
      )
      .requiredOption(
        '--connector <id>',
        "the connector's code: digits, lower-case letters and _ (env B24GW_CONNECTOR)",
        process.env.B24GW_CONNECTOR,
      ),
  )
    .option('--name <name>', 'its name in the Open Lines settings (default: the code)')
    .option('--icon <svg>', 'its icon: an SVG file, an SVG, or a data: URI (default: a speech bubble)')
    .option('--icon-color <color>', "the icon's background, e.g. #69acc0")
    .option('--chat-group', 'one Bitrix24 chat per external chat (group chats), not one per external user')
    .option(
      '--placement-handler <url>',
      `the settings page Bitrix24 opens for it (default: the gateway's ${SETTINGS_PATH})`,
    )
    .option('--line <n>', 'an Open Line to activate it on, repeatable (default 1)', collect, [])
    .option(
      '--url <url>',
      "the gateway's events URL the portal posts to (env B24GW_PUBLIC_URL)",
      process.env.B24GW_PUBLIC_URL,
    )
    .option(
      '--offline',
      "bind the events to the portal's offline queue (serve --pull takes them); with --url, ONOFFLINEEVENT is posted there so the gateway pulls at once",
    )
    .option('--data-id <id>', "the channel's id for imconnector.connector.data.set (default <connector>_line<N>)")
    .option('--data-url <url>', 'a link to the channel, for the operators')
    .option('--data-name <name>', "the channel's name (default: the connector's name)")
    .option('--dry-run', 'read the portal and print the calls that would be made, making none')
    .option('--json', 'print what was done as JSON')
    .addHelpText(
      'after',
      '\nExample:\n  b24-im-gateway connector setup --connector acme_chat --name "Acme Chat" --line 1 --url https://gw.example.com/events\n',
    )
    .action(
      action(async (o: SetupFlags) => {
        const to = delivery(o);
        const base = 'url' in to ? to.url : to.wakeUrl;
        const placement = o.placementHandler ?? (base ? new URL(SETTINGS_PATH, base).href : undefined);
        if (!placement)
          throw new GatewayError(
            'B24GW_BAD_INPUT',
            'With --offline and no --url, give the settings page: --placement-handler https://...',
          );
        const store = openExistingDb(o.db);
        const clients = clientsFor(store, o);
        try {
          const memberId = await pickPortal(store, o.portal);
          const report = await setupConnector(clients.forPortal(memberId), {
            id: o.connector,
            name: o.name ?? o.connector,
            icon: icon(o.icon),
            ...(o.iconColor ? { iconColor: o.iconColor } : {}),
            chatGroup: o.chatGroup === true,
            placementHandler: placement,
            lines: lines(o.line),
            delivery: to,
            data: {
              ...(o.dataId ? { id: o.dataId } : {}),
              ...(o.dataUrl ? { url: o.dataUrl } : {}),
              ...(o.dataName ? { name: o.dataName } : {}),
            },
            dryRun: o.dryRun === true,
          });
          printReport(
            report,
            o.json,
            `${o.dryRun ? 'Would set up' : 'Set up'} connector ${o.connector} on portal ${memberId}:`,
          );
        } finally {
          clients.close();
          await store.close();
        }
      }),
    );

  portalOptions(
    connector
      .command('teardown')
      .description(
        "Undo setup: unbind the connector's events from the gateway (or the offline queue), switch it off on its lines and unregister it",
      )
      .requiredOption('--connector <id>', "the connector's code (env B24GW_CONNECTOR)", process.env.B24GW_CONNECTOR),
  )
    .option('--line <n>', 'an Open Line it is active on, repeatable (default 1)', collect, [])
    .option(
      '--url <url>',
      "the gateway's events URL its events are bound to (env B24GW_PUBLIC_URL)",
      process.env.B24GW_PUBLIC_URL,
    )
    .option('--offline', 'its events are bound to the offline queue')
    .option('--dry-run', 'print the calls that would be made, making none')
    .option('--json', 'print what was done as JSON')
    .action(
      action(async (o: SetupFlags) => {
        const store = openExistingDb(o.db);
        const clients = clientsFor(store, o);
        try {
          const memberId = await pickPortal(store, o.portal);
          const report = await teardownConnector(clients.forPortal(memberId), {
            id: o.connector,
            lines: lines(o.line),
            delivery: delivery(o),
            dryRun: o.dryRun === true,
          });
          printReport(
            report,
            o.json,
            `${o.dryRun ? 'Would tear down' : 'Tore down'} connector ${o.connector} on portal ${memberId}:`,
          );
        } finally {
          clients.close();
          await store.close();
        }
      }),
    );

  const statuses: CustomerActionStatus[] = ['pending', 'sending', 'sent', 'dead'];
  connector
    .command('actions')
    .description(
      "List what the channel's customers did (the customer outbox) with status, attempts and last error (works while the server runs)",
    )
    .option('--db <location>', dbHelp, defaultDb())
    .option('--json', 'print a JSON array instead of a table')
    .option('--status <status>', `only actions in this status: ${statuses.join(', ')}`)
    .option('--member <id>', 'only actions of this portal (member_id)')
    .option('--limit <n>', 'at most this many', positiveInt('--limit'))
    .action(
      action(async (o: { db: string; json?: boolean; status?: string; member?: string; limit?: number }) => {
        if (o.status !== undefined && !statuses.includes(o.status as CustomerActionStatus))
          throw new GatewayError(
            'B24GW_BAD_INPUT',
            `--status must be one of ${statuses.join(', ')}, got "${o.status}"`,
          );
        const store = openExistingDb(o.db);
        try {
          const list = await store.listCustomerActions({
            ...(o.status ? { status: o.status as CustomerActionStatus } : {}),
            ...(o.member ? { memberId: o.member } : {}),
            ...(o.limit !== undefined ? { limit: o.limit } : {}),
          });
          const rows = list.map((a) => {
            const item = JSON.parse(a.item) as { chat?: { externalId?: string }; message?: { externalId?: string } };
            return {
              id: a.id,
              type: a.type,
              memberId: a.memberId,
              line: a.line,
              chat: item.chat?.externalId ?? null,
              message: item.message?.externalId ?? null,
              status: a.status,
              receivedAt: new Date(a.receivedAt).toISOString(),
              attempts: a.attempts,
              lastError: a.lastError,
            };
          });
          if (o.json) process.stdout.write(`${JSON.stringify(rows, null, 2)}\n`);
          else if (rows.length === 0) console.log('No customer actions.');
          else console.log(formatTable(rows));
        } finally {
          await store.close();
        }
      }),
    );

  connector
    .command('replay')
    .description('Send customer actions again with a fresh retry budget: by id, or every dead one')
    .option('--db <location>', dbHelp, defaultDb())
    .option(
      '--id <n>',
      'an action id, repeatable',
      (v: string, prev: number[]) => [...prev, positiveInt('--id')(v)],
      [] as number[],
    )
    .option('--dead', 'every dead action')
    .addHelpText('after', '\nA running gateway sends them within a second.\n')
    .action(
      action(async (o: { db: string; id: number[]; dead?: boolean }) => {
        if (o.id.length === 0 && !o.dead)
          throw new GatewayError('B24GW_BAD_INPUT', 'Say what to replay: --id N or --dead');
        const store = openExistingDb(o.db);
        try {
          const ids = o.id.length > 0 ? o.id : (await store.listCustomerActions({ status: 'dead' })).map((a) => a.id);
          const requeued = await store.requeueCustomerActions(ids);
          console.log(
            `${requeued} of ${ids.length} customer actions put back to pending${requeued < ids.length ? ' (the rest are sent, being sent, or unknown ids)' : ''}`,
          );
        } finally {
          await store.close();
        }
      }),
    );
}
