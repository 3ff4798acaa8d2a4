import { createServer } from 'node:http';
import { BlockList, isIP } from 'node:net';
import { lookup } from 'node:dns/promises';
import { GatewayError, isGatewayError } from '../errors.js';
import { secretDigest, secretsEqual } from '../verify/compare.js';
import type { Listener } from './public.js';
import { healthRoutes, pathOf, sendJson, type Route, type Served } from './routes.js';
import { closeServer, listen } from './listen.js';

export interface AdminOptions {
  /** Default 127.0.0.1. Any address other than loopback needs a token. */
  host?: string;
  port: number;
  /**
   * When set, every admin request needs it: `Authorization: Bearer <token>`, or basic auth with the
   * token as the password (any user name), which a browser asks for by itself. At least 16 characters.
   */
  token?: string;
  /**
   * More admin routes by path, served beside /metrics, /healthz and /readyz, behind the same token.
   * A path ending in `/*` takes every path under it (`/api/*`: /api/events, /api/events/7).
   */
  routes?: Record<string, Route>;
}

export const MIN_ADMIN_TOKEN = 16;

const loopback = new BlockList();
loopback.addSubnet('127.0.0.0', 8, 'ipv4');
loopback.addAddress('::1', 'ipv6');

/** True when every address `host` names is loopback: only this machine can reach a listener there. */
export async function isLoopbackHost(host: string): Promise<boolean> {
  const check = (address: string) => loopback.check(address, isIP(address) === 6 ? 'ipv6' : 'ipv4');
  if (isIP(host)) return check(host);
  const addresses = await lookup(host, { all: true }).catch(() => []);
  return addresses.length > 0 && addresses.every((a) => check(a.address));
}

/** Refuses an admin listener that others could reach without a token, and a token too short to resist guessing. */
export async function checkAdminOptions(o: Pick<AdminOptions, 'host' | 'token'>): Promise<void> {
  const host = o.host ?? '127.0.0.1';
  if (o.token !== undefined && o.token.length < MIN_ADMIN_TOKEN) {
    throw new GatewayError('B24GW_BAD_CONFIG', `The admin token must be at least ${MIN_ADMIN_TOKEN} characters`);
  }
  if (o.token === undefined && !(await isLoopbackHost(host))) {
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      `The admin listener on ${host} is reachable from other machines: give it a token (--admin-token or B24GW_ADMIN_TOKEN), or listen on 127.0.0.1`,
    );
  }
}

/** The routes every admin listener serves; another admin route joins this list (or `routes`). */
function builtinRoutes(served: Served, closing: () => boolean): Record<string, Route> {
  return {
    ...healthRoutes(served, closing),
    '/metrics': async (_req, res) => {
      let metrics: { text: string; contentType: string };
      try {
        metrics = await served.metrics();
      } catch (e) {
        throw new GatewayError('B24GW_STORE_FAILED', `metrics unavailable: ${(e as Error).message}`);
      }
      res.writeHead(200, { 'content-type': metrics.contentType }).end(metrics.text);
    },
  };
}

/** The token a request carries: as a bearer token, or as the password of basic auth. */
export function presentedToken(authorization: string | undefined): string {
  const header = authorization ?? '';
  const bearer = /^Bearer +(\S+) *$/i.exec(header)?.[1];
  if (bearer !== undefined) return bearer;
  const basic = /^Basic +([A-Za-z0-9+/=]+) *$/i.exec(header)?.[1];
  if (basic === undefined) return '';
  const pair = Buffer.from(basic, 'base64').toString('utf8');
  const colon = pair.indexOf(':');
  return colon < 0 ? '' : pair.slice(colon + 1);
}

/** The route for a path: its own, or the longest `/*` prefix that holds it. */
function routeFor(routes: Map<string, Route>, path: string): Route | undefined {
  const exact = routes.get(path);
  if (exact) return exact;
  for (let cut = path.lastIndexOf('/'); cut > 0; cut = path.lastIndexOf('/', cut - 1)) {
    const under = routes.get(`${path.slice(0, cut)}/*`);
    if (under) return under;
  }
  return undefined;
}

/**
 * The admin listener: GET /metrics (Prometheus), /healthz, /readyz and any `routes`, apart from
 * the public one that takes events, on loopback by default. With a token, each request must
 * carry it, as a bearer token or a basic auth password (compared in constant time), or gets 401.
 */
export async function listenAdmin(served: Served, options: AdminOptions, closing: () => boolean): Promise<Listener> {
  await checkAdminOptions(options);
  const builtin = builtinRoutes(served, closing);
  for (const path of Object.keys(options.routes ?? {})) {
    if (path in builtin) throw new GatewayError('B24GW_BAD_CONFIG', `The admin route ${path} is built in`);
  }
  const routes = new Map(Object.entries({ ...builtin, ...options.routes }));
  const digest = options.token === undefined ? undefined : secretDigest(options.token);
  const server = createServer((req, res) => {
    if (closing()) res.setHeader('connection', 'close');
    if (digest) {
      if (!secretsEqual(presentedToken(req.headers.authorization), digest)) {
        req.resume();
        const body = JSON.stringify(new GatewayError('B24GW_ADMIN_UNAUTHORIZED').toJSON());
        // Both challenges: scripts send the bearer token, a browser asks its user for the basic one.
        res
          .writeHead(401, {
            'content-type': 'application/json',
            'content-length': Buffer.byteLength(body),
            'www-authenticate': [
              'Bearer realm="b24-im-gateway admin"',
              'Basic realm="b24-im-gateway admin", charset="UTF-8"',
            ],
          })
          .end(body);
        return;
      }
    }
    const route = routeFor(routes, pathOf(req));
    if (!route) {
      req.resume();
      return sendJson(
        res,
        404,
        new GatewayError('B24GW_NOT_FOUND', `No admin route at ${pathOf(req).slice(0, 200)}`).toJSON(),
      );
    }
    void (async () => route(req, res))().catch((e: unknown) => {
      const error = isGatewayError(e) ? e : new GatewayError('B24GW_ADMIN_FAILED');
      served.logger.error({ err: e, path: pathOf(req) }, 'admin route failed');
      const retry: Record<string, string> =
        error.retryAfter === undefined ? {} : { 'retry-after': String(error.retryAfter) };
      if (!res.headersSent) sendJson(res, error.status, error.toJSON(), retry);
      else res.destroy();
    });
  });
  server.requestTimeout = 30_000;
  const url = await listen(server, options.port, options.host ?? '127.0.0.1');
  return { url, close: () => closeServer(server) };
}
