import { createServer } from 'node:http';
import { GatewayError } from '../errors.js';
import { createNodeHandler, sendResult } from '../intake/node.js';
import { closeServer, listen } from './listen.js';
import { healthRoutes, pathOf, type Served } from './routes.js';

export interface PublicListenerOptions {
  host: string;
  port: number;
  /** Path that takes events. */
  path: string;
}

/** A listener that `startServer` runs; its owner stops the gateway behind it. */
export interface Listener {
  url: string;
  /** Stops taking connections and lets the requests in flight finish. */
  close(): Promise<void>;
}

/**
 * The public listener: POST /events (unless the server only processes), GET /healthz and GET
 * /readyz. Metrics and other admin routes are never served here: they are the admin listener's.
 */
export async function listenPublic(served: Served, options: PublicListenerOptions, closing: () => boolean): Promise<Listener> {
  const receiver = served.receiver;
  const events = receiver && createNodeHandler(receiver, { path: options.path });
  const health = new Map(Object.entries(healthRoutes(served, closing)));
  const server = createServer((req, res) => {
    // While stopping, every answer ends its connection, so that the listener can close.
    if (closing()) res.setHeader('connection', 'close');
    const route = health.get(pathOf(req));
    if (route) return void route(req, res);
    if (closing()) {
      const error = new GatewayError('B24GW_SHUTTING_DOWN');
      return sendResult(res, { status: error.status, error });
    }
    if (!events) {
      req.resume();
      const error = new GatewayError('B24GW_NOT_FOUND', 'This server runs with role worker and takes no events');
      return sendResult(res, { status: error.status, error });
    }
    void events(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  const url = await listen(server, options.port, options.host);
  return { url, close: () => closeServer(server) };
}
