import type { IncomingMessage, ServerResponse } from 'node:http';
import type { CustomerReceiver } from '../customer/intake.js';
import type { Receiver } from '../intake/intake.js';
import type { Logger } from '../log.js';

/** One route of the built-in servers: it answers the request itself. */
export type Route = (req: IncomingMessage, res: ServerResponse) => void | Promise<void>;

/**
 * What the listeners serve, wherever the gateway runs: on the listeners' own thread, or on
 * threads of its own (then this thread holds only the sockets).
 */
export interface Served {
  /** Takes the bodies of POST /events; none when this server only processes. */
  receiver: Receiver | undefined;
  /** Takes the channel's signed POST /channel/events; none when this server only processes. */
  customers?: CustomerReceiver | undefined;
  /** True when the store takes writes. */
  ready(): Promise<boolean>;
  /** What /metrics answers. */
  metrics(): Promise<{ text: string; contentType: string }>;
  logger: Logger;
}

export const sendJson = (
  res: ServerResponse,
  status: number,
  body: object,
  headers: Record<string, string> = {},
): void => {
  const text = JSON.stringify(body);
  res
    .writeHead(status, { ...headers, 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) })
    .end(text);
};

/** The request's path, without its query. */
export const pathOf = (req: IncomingMessage): string => (req.url ?? '/').split('?')[0]!;

/**
 * GET /healthz (the process is up) and GET /readyz (the store takes writes, and the server is not
 * stopping): on the public listener for load balancers, and on the admin listener.
 */
export function healthRoutes(served: Pick<Served, 'ready'>, closing: () => boolean): Record<string, Route> {
  return {
    '/healthz': (_req, res) => sendJson(res, 200, { status: 'ok' }),
    '/readyz': async (_req, res) => {
      const ok = !closing() && (await served.ready().catch(() => false)) && !closing();
      sendJson(res, ok ? 200 : 503, { status: ok ? 'ready' : 'not ready' });
    },
  };
}
