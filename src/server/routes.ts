import type { IncomingMessage, ServerResponse } from 'node:http';
import type { Gateway } from '../gateway.js';

/** One route of the built-in servers: it answers the request itself. */
export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

export const sendJson = (res: ServerResponse, status: number, body: object, headers: Record<string, string> = {}): void => {
  const text = JSON.stringify(body);
  res.writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
};

/** The request's path, without its query. */
export const pathOf = (req: IncomingMessage): string => (req.url ?? '/').split('?')[0]!;

/**
 * GET /healthz (the process is up) and GET /readyz (the store takes writes, and the server is not
 * stopping): on the public listener for load balancers, and on the admin listener.
 */
export function healthRoutes(gateway: Gateway, closing: () => boolean): Record<string, Route> {
  return {
    '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': async (_req, res) => {
      const ok = await gateway.store.ping().catch(() => false);
      sendJson(res, ok && !closing() ? 200 : 503, { status: ok && !closing() ? 'ready' : 'not ready' });
    },
  };
}
