import type { Command } from 'commander';
import { diagnose, type Check } from '../../doctor/checks.js';
import { GatewayError } from '../../errors.js';
import { parseDuration } from '../../queue/schedule.js';
import type { Plan } from '../../effects/bitrix/limiter.js';
import { action } from '../fail.js';
import { openExistingDb } from '../open-db.js';
import { collect, positiveInt } from '../options.js';
import { clientsFor, pickPortal, portalOptions, type PortalFlags } from '../portal.js';

interface DoctorFlags extends PortalFlags {
  url?: string;
  connector?: string;
  line?: string[];
  timeout: string;
  json?: boolean;
}

const mark = (c: Check) => (c.ok === true ? '✔' : c.ok === false ? '✖' : '–');

export function registerDoctorCommand(program: Command): void {
  portalOptions(
    program
      .command('doctor')
      .description(
        "Why don't my events arrive? Checks one portal end to end: install and token, bindings, a live round trip, the connector, REST budget, clocks, and what waits in the gateway",
      ),
  )
    .option(
      '--url <url>',
      "the gateway's events URL the bindings must point at (env B24GW_PUBLIC_URL)",
      process.env.B24GW_PUBLIC_URL,
    )
    .option(
      '--connector <id>',
      "the connector's code, to check it is registered and active (env B24GW_CONNECTOR)",
      process.env.B24GW_CONNECTOR,
    )
    .option(
      '--line <n>',
      'an Open Line the connector must be active on, repeatable (default: the lines the gateway has seen its events on, else 1)',
      collect,
    )
    .option('--timeout <duration>', 'how long the round trip waits for the test event', '10s')
    .option('--json', 'print the checks as JSON')
    .addHelpText(
      'after',
      '\nRun it on the database of the running gateway: the round trip looks for the test event there.\nExits 1 when a check fails.\nExample:\n  b24-im-gateway doctor --url https://gw.example.com/events --connector acme_chat\n',
    )
    .action(
      action(async (o: DoctorFlags) => {
        let roundTripMs: number;
        try {
          roundTripMs = parseDuration(o.timeout);
        } catch (e) {
          throw new GatewayError('B24GW_BAD_INPUT', `--timeout: ${(e as Error).message}`);
        }
        const store = openExistingDb(o.db);
        const clients = clientsFor(store, o);
        let checks: Check[];
        try {
          const memberId = await pickPortal(store, o.portal).catch(async (e: unknown) => {
            // No portal at all is itself the first thing to say.
            if (o.portal === undefined && e instanceof GatewayError && e.code === 'B24GW_PORTAL_NOT_INSTALLED')
              return undefined;
            throw e;
          });
          checks =
            memberId === undefined
              ? [
                  {
                    name: 'portal',
                    ok: false,
                    detail: 'no portal is installed in this database',
                    fix: 'install the application with the gateway as its install handler (ONAPPINSTALL to its /events)',
                  },
                ]
              : await diagnose({
                  store,
                  clients,
                  memberId,
                  url: o.url,
                  connector: o.connector,
                  ...(o.line?.length ? { lines: o.line.map((l) => positiveInt('--line')(l)) } : {}),
                  plan: o.plan as Plan,
                  roundTripMs,
                });
        } finally {
          clients.close();
          await store.close();
        }
        if (o.json) process.stdout.write(`${JSON.stringify(checks, null, 2)}\n`);
        else for (const c of checks) console.log(`${mark(c)} ${c.name}: ${c.detail}${c.fix ? ` — fix: ${c.fix}` : ''}`);
        const failed = checks.filter((c) => c.ok === false);
        if (failed.length > 0)
          throw new GatewayError(
            'B24GW_CHECKS_FAILED',
            `${failed.length} check${failed.length > 1 ? 's' : ''} failed: ${failed.map((c) => c.name).join(', ')}`,
          );
      }),
    );
}
