import type { Command } from 'commander';
import { BitrixClients } from '../effects/bitrix/client.js';
import type { Plan } from '../effects/bitrix/limiter.js';
import { GatewayError } from '../errors.js';
import type { Store } from '../store/types.js';
import { dbHelp, defaultDb } from './open-db.js';

/** What the commands that call a portal take: its database, which portal, and the application's OAuth client. */
export interface PortalFlags {
  db: string;
  portal?: string;
  clientId?: string;
  clientSecret?: string;
  oauthServer?: string;
  plan: string;
}

const plans = ['standard', 'enterprise'];

export function portalOptions(command: Command): Command {
  return oauthOptions(
    command
      .option('--db <location>', dbHelp, defaultDb())
      .option(
        '--portal <member_id>',
        'the portal (member_id); may be left out when only one is installed (env B24GW_PORTAL)',
        process.env.B24GW_PORTAL,
      ),
  );
}

/** The application's OAuth client, to refresh portals' tokens, and the portals' REST plan. */
export function oauthOptions(command: Command): Command {
  return command
    .option(
      '--client-id <id>',
      "the application's OAuth client_id, to refresh portal tokens (env B24GW_CLIENT_ID)",
      process.env.B24GW_CLIENT_ID,
    )
    .option('--client-secret <secret>', 'its client_secret (env B24GW_CLIENT_SECRET)', process.env.B24GW_CLIENT_SECRET)
    .option(
      '--oauth-server <url>',
      'OAuth server for token refresh (env B24GW_OAUTH_SERVER; default https://oauth.bitrix.info)',
      process.env.B24GW_OAUTH_SERVER,
    )
    .option(
      '--plan <plan>',
      'REST limits per portal: standard (50 burst, 2/s) or enterprise (250, 5/s) (env B24GW_PLAN)',
      process.env.B24GW_PLAN ?? 'standard',
    );
}

/** The portal named, or the only one installed. */
export async function pickPortal(store: Store, named: string | undefined): Promise<string> {
  const installed = (await store.listPortals()).filter((p) => p.uninstalledAt === null);
  if (named !== undefined) {
    if (!installed.some((p) => p.memberId === named)) {
      throw new GatewayError(
        'B24GW_PORTAL_NOT_INSTALLED',
        `Portal ${named} is not installed in this database${installed.length ? `; installed: ${installed.map((p) => `${p.memberId} (${p.domain})`).join(', ')}` : ''}`,
      );
    }
    return named;
  }
  if (installed.length === 1) return installed[0]!.memberId;
  if (installed.length === 0)
    throw new GatewayError(
      'B24GW_PORTAL_NOT_INSTALLED',
      'No portal is installed in this database: install the application with the gateway as its install handler first',
    );
  throw new GatewayError(
    'B24GW_BAD_INPUT',
    `Several portals are installed: say which with --portal (${installed.map((p) => `${p.memberId} (${p.domain})`).join(', ')})`,
  );
}

export function clientsFor(store: Store, o: PortalFlags): BitrixClients {
  if (!plans.includes(o.plan))
    throw new GatewayError('B24GW_BAD_INPUT', `--plan must be one of ${plans.join(', ')}, got "${o.plan}"`);
  return new BitrixClients({
    store,
    plan: o.plan as Plan,
    ...(o.clientId ? { clientId: o.clientId } : {}),
    ...(o.clientSecret ? { clientSecret: o.clientSecret } : {}),
    ...(o.oauthServer ? { oauthServer: o.oauthServer } : {}),
  });
}
