import { createServer, type Server } from 'node:http';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { Receiver } from '../intake/intake.js';
import { createNodeHandler, sendResult } from '../intake/node.js';
import { healthRoutes, pathOf } from './routes.js';
import { closeServer, listen } from './listen.js';

export interface HttpServerOptions {
  host?: string;
  port?: number;
  /** Path that takes events. Default `/events`. */
  path?: string;
  /** False for a worker-only instance: health, no intake. Default true. */
  intake?: boolean;
  /** Takes the events instead of the gateway's own intake: an IntakeThread. */
  receiver?: Receiver;
}

export interface RunningServer {
  url: string;
  server: Server;
  /** Stops taking connections, lets requests in flight finish, then closes the store. */
  close(): Promise<void>;
}

/**
 * The built-in public server: POST /events, GET /healthz, GET /readyz. Metrics and other admin
 * routes are never served here: they are the admin listener's (startAdminServer).
 */
export async function startHttpServer(gateway: Gateway, options: HttpServerOptions = {}): Promise<RunningServer> {
  const events = createNodeHandler(options.receiver ?? gateway.intake, { path: options.path ?? '/events' });
  let closing = false;
  const health = new Map(Object.entries(healthRoutes(gateway, () => closing)));
  const server = createServer((req, res) => {
    const route = health.get(pathOf(req));
    if (route) return void route(req, res);
    if (closing) {
      res.setHeader('connection', 'close');
      const error = new GatewayError('B24GW_SHUTTING_DOWN');
      return sendResult(res, { status: error.status, error });
    }
    if (options.intake === false) {
      const error = new GatewayError('B24GW_NOT_FOUND', 'This instance runs with --role worker and takes no events');
      return sendResult(res, { status: error.status, error });
    }
    void events(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  const url = await listen(server, options.port ?? 3000, options.host ?? '127.0.0.1');
  return {
    url,
    server,
    async close() {
      closing = true;
      await closeServer(server);
      await gateway.close();
    },
  };
}
