import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { AggregatorRegistry } from 'prom-client';
import { GatewayError } from '../errors.js';
import type { Gateway } from '../gateway.js';
import type { Receiver } from '../intake/intake.js';
import { createNodeHandler, sendResult } from '../intake/node.js';
import type { MetricsJson } from '../metrics.js';

export interface HttpServerOptions {
  host?: string;
  port?: number;
  /** Path that takes events. Default `/events`. */
  path?: string;
  /** False for a worker-only instance: health and metrics, no intake. Default true. */
  intake?: boolean;
  /** Takes the events instead of the gateway's own intake: an IntakeThread. */
  receiver?: Receiver;
  /** Metrics kept elsewhere (the gateway's threads), served with the gateway's own. */
  moreMetrics?: () => Promise<MetricsJson[]>;
}

/** The gateway's metrics, merged with those kept elsewhere: counters add up, gauges say how they merge. */
async function metricsText(gateway: Gateway, more?: () => Promise<MetricsJson[]>): Promise<string> {
  if (!more) return gateway.metrics.registry.metrics();
  return AggregatorRegistry.aggregate([await gateway.metrics.registry.getMetricsAsJSON(), ...(await more())]).metrics();
}

export interface RunningServer {
  url: string;
  server: Server;
  /** Stops taking connections, lets requests in flight finish, then closes the store. */
  close(): Promise<void>;
}

const sendJson = (res: import('node:http').ServerResponse, status: number, body: object) => {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
};

/** The built-in server: POST /events, GET /healthz, GET /readyz, GET /metrics. */
export async function startHttpServer(gateway: Gateway, options: HttpServerOptions = {}): Promise<RunningServer> {
  const events = createNodeHandler(options.receiver ?? gateway.intake, { path: options.path ?? '/events' });
  let closing = false;
  const server = createServer((req, res) => {
    const path = (req.url ?? '/').split('?')[0];
    if (path === '/healthz') return sendJson(res, 200, { status: 'ok' });
    if (path === '/metrics') {
      void metricsText(gateway, options.moreMetrics).then(
        (text) => res.writeHead(200, { 'content-type': gateway.metrics.registry.contentType }).end(text),
        (e: unknown) => sendJson(res, 500, new GatewayError('B24GW_STORE_FAILED', `metrics unavailable: ${(e as Error).message}`).toJSON()),
      );
      return;
    }
    if (path === '/readyz') {
      void gateway.store.ping().then(
        (ok) => sendJson(res, ok && !closing ? 200 : 503, { status: ok && !closing ? 'ready' : 'not ready' }),
        () => sendJson(res, 503, { status: 'not ready' }),
      );
      return;
    }
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
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(options.port ?? 3000, options.host ?? '127.0.0.1', () => resolve());
  });
  const { address, port } = server.address() as AddressInfo;
  const host = address.includes(':') ? `[${address}]` : address;
  return {
    url: `http://${host}:${port}`,
    server,
    async close() {
      closing = true;
      await new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeIdleConnections();
      });
      await gateway.close();
    },
  };
}
