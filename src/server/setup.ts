import { isAbsolute, resolve } from 'node:path';
import { pathToFileURL } from 'node:url';
import type { ChannelTarget } from '../effects/channel/deliver.js';
import type { TextFormat } from '../effects/channel/bbcode.js';
import { GatewayError, isGatewayError } from '../errors.js';
import { Gateway, type GatewayOptions } from '../gateway.js';

/** Which part of the gateway a server runs: both, only the intake (POST /events), or only the worker. */
export type ServerRole = 'all' | 'intake' | 'worker';
export const serverRoles: readonly ServerRole[] = ['all', 'intake', 'worker'];

/**
 * What `startServer` builds a Gateway from, on each thread that needs one: the options, as plain
 * data that can cross to a thread (a database location, not a Store; a channel URL, not a
 * function), and the setup module that turns them into a Gateway with your handlers. `logger`
 * is used on the thread that calls `startServer`; the other threads log at its level.
 */
export type GatewaySpec = Omit<
  GatewayOptions,
  'db' | 'fetch' | 'onStored' | 'onRejected' | 'installLiveness' | 'worker' | 'bitrix' | 'channel'
> & {
  /** A SQLite file path or a postgres:// URL. Default `./b24-im-gateway.db`. */
  db?: string;
  worker?: Omit<NonNullable<GatewayOptions['worker']>, 'now' | 'onFinished'>;
  bitrix?: Omit<NonNullable<GatewayOptions['bitrix']>, 'fetch' | 'now' | 'sleep' | 'onCall'>;
  /** The channel as a URL; a channel that is a function is given by the setup module. */
  channel?: Omit<ChannelTarget, 'fetch'> & { format?: TextFormat };
  /**
   * A module (a file path, or a `file:` URL) whose default export builds each thread's Gateway:
   * `(options, { role }) => Gateway`. Build it from the options given (they carry the database,
   * what the role runs and the logger), add what cannot cross a thread (a channel's `deliver`,
   * hooks) and register the handlers. Default: `new Gateway(options)`.
   */
  setup?: string | URL;
};

/** The default export of a setup module. `role` says which part the gateway runs here: the intake or the worker. */
export type GatewaySetup = (
  options: GatewayOptions,
  context: { role: 'intake' | 'worker' },
) => Gateway | Promise<Gateway>;

/** The module as a URL a thread can import: a path is taken from the current folder. */
export function setupUrl(setup: string | URL): string {
  if (setup instanceof URL) return setup.href;
  if (/^(file|data):/i.test(setup)) return setup;
  return pathToFileURL(isAbsolute(setup) ? setup : resolve(setup)).href;
}

/** The options the gateway of one role is built with: what only the worker uses stays with the worker. */
export function optionsFor(role: 'intake' | 'worker', options: GatewayOptions): GatewayOptions {
  if (role === 'worker') return options;
  const { channel, retention: _retention, pull: _pull, ...intake } = options;
  // The intake verifies the channel's requests with its secret, and delivers nothing.
  const secret = options.customers?.secret ?? (channel && 'secret' in channel ? channel.secret : undefined);
  return { ...intake, state: false, ...(secret === undefined ? {} : { customers: { ...options.customers, secret } }) };
}

/** Builds a Gateway through the setup module, or plainly without one. */
export async function buildGateway(
  setup: string | undefined,
  options: GatewayOptions,
  role: 'intake' | 'worker',
): Promise<Gateway> {
  if (setup === undefined) return new Gateway(options);
  let build: unknown;
  try {
    build = ((await import(setup)) as { default?: unknown }).default;
  } catch (e) {
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `The setup module ${setup} could not be loaded: ${(e as Error).message}`,
      { cause: e },
    );
  }
  if (typeof build !== 'function')
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `The setup module ${setup} must export a function by default: (options, { role }) => Gateway`,
    );
  let gateway: unknown;
  try {
    gateway = await (build as GatewaySetup)(options, { role });
  } catch (e) {
    // A coded error (a store that cannot be opened) keeps its code.
    if (isGatewayError(e)) throw e;
    throw new GatewayError('B24GW_BAD_CONFIG', `The setup module ${setup} failed: ${(e as Error).message}`, {
      cause: e,
    });
  }
  // Not instanceof: the module may have loaded its own copy of the package.
  const g = gateway as Partial<Gateway> | null;
  if (
    typeof g !== 'object' ||
    g === null ||
    typeof g.receive !== 'function' ||
    typeof g.start !== 'function' ||
    typeof g.close !== 'function'
  ) {
    throw new GatewayError('B24GW_BAD_CONFIG', `The setup module ${setup} returned no Gateway`);
  }
  return gateway as Gateway;
}
