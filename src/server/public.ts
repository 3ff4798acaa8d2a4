import { createServer, type IncomingMessage, type ServerResponse } from 'node:http';
import { GatewayError } from '../errors.js';
import { customerAnswerBody, signatureHeaders, type CustomerReceiver } from '../customer/intake.js';
import { createNodeHandler, sendResult } from '../intake/node.js';
import { readBody } from '../intake/read-body.js';
import { SETTINGS_PATH } from '../setup/connector.js';
import { closeServer, listen } from './listen.js';
import { healthRoutes, pathOf, type Served } from './routes.js';

export interface PublicListenerOptions {
  host: string;
  port: number;
  /** Path that takes events. */
  path: string;
  /** Path that takes the channel's customer actions. */
  channelPath: string;
}

/** A listener that `startServer` runs; its owner stops the gateway behind it. */
export interface Listener {
  url: string;
  /** Stops taking connections and lets the requests in flight finish. */
  close(): Promise<void>;
}

/**
 * The public listener: POST /events and POST /channel/events (unless the server only processes),
 * GET /healthz and GET /readyz. Metrics and other admin routes are never served here: they are the
 * admin listener's.
 */
export async function listenPublic(
  served: Served,
  options: PublicListenerOptions,
  closing: () => boolean,
): Promise<Listener> {
  const receiver = served.receiver;
  const events = receiver && createNodeHandler(receiver, { path: options.path });
  const health = new Map(Object.entries(healthRoutes(served, closing)));
  const server = createServer((req, res) => {
    // While stopping, every answer ends its connection, so that the listener can close. A request
    // on a connection taken before the listener closed is still served: the intake stops after it.
    if (closing()) res.setHeader('connection', 'close');
    const route = health.get(pathOf(req));
    if (route) return void route(req, res);
    if (!events) {
      req.resume();
      const error = new GatewayError('B24GW_NOT_FOUND', 'This server runs with role worker and takes no events');
      return sendResult(res, { status: error.status, error });
    }
    if (served.customers && pathOf(req) === options.channelPath)
      return void fromChannel(served.customers, req, res, receiver.limits.maxBodyBytes);
    if (pathOf(req) === SETTINGS_PATH) return settingsPage(req, res);
    void events(req, res);
  });
  server.keepAliveTimeout = 65_000;
  server.headersTimeout = 66_000;
  server.requestTimeout = 30_000;
  const url = await listen(server, options.port, options.host);
  return { url, close: () => closeServer(server) };
}

/** POST /channel/events: the raw body and the signature's headers to the receiver, its answer back. */
async function fromChannel(
  customers: CustomerReceiver,
  req: IncomingMessage,
  res: ServerResponse,
  maxBytes: number,
): Promise<void> {
  const send = (status: number, body: object) => {
    const text = JSON.stringify(body);
    res.writeHead(status, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(text) }).end(text);
  };
  if (req.method !== 'POST') {
    req.resume();
    const error = new GatewayError(
      'B24GW_METHOD_NOT_ALLOWED',
      `${req.method} is not allowed; the channel sends with POST`,
    );
    res.setHeader('allow', 'POST');
    return send(error.status, error.toJSON());
  }
  let body: Buffer;
  try {
    body = await readBody(req, maxBytes, 10_000);
  } catch (e) {
    res.setHeader('connection', 'close');
    const error = e instanceof GatewayError ? e : new GatewayError('B24GW_BAD_INPUT', 'Request could not be read');
    return send(error.status, error.toJSON());
  }
  const headers: Record<string, string> = {};
  for (const name of signatureHeaders) {
    const value = req.headers[name];
    if (typeof value === 'string') headers[name] = value;
  }
  const result = await customers.receive(body, headers);
  if ('error' in result && result.error.retryAfter !== undefined)
    res.setHeader('retry-after', String(result.error.retryAfter));
  send(result.status, customerAnswerBody(result));
}

/**
 * The connector's settings page, which Bitrix24 opens in a slider (its PLACEMENT_HANDLER, unless
 * setup was given another): the gateway's connectors are set up from the command line, and this
 * says so. Static: nothing of the request is read or shown.
 */
function settingsPage(req: IncomingMessage, res: ServerResponse): void {
  req.resume();
  const html =
    '<!doctype html><meta charset="utf-8"><title>Connector</title><body style="font-family:sans-serif;margin:2em">' +
    '<h1>This connector runs on b24-im-gateway</h1>' +
    '<p>It is set up with <code>b24-im-gateway connector setup</code> and checked with <code>b24-im-gateway doctor</code>.</p></body>';
  res
    .writeHead(200, { 'content-type': 'text/html; charset=utf-8', 'content-length': Buffer.byteLength(html) })
    .end(html);
}
