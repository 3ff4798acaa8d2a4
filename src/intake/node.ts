import type { IncomingMessage, ServerResponse } from 'node:http';
import { GatewayError, isGatewayError } from '../errors.js';
import { answerBody, type IntakeResult, type Receiver } from './intake.js';
import { readBody } from './read-body.js';

export interface NodeHandlerOptions {
  /** Only this path is handled; others go to `next`, or get a 404. Default `/events`. */
  path?: string;
  /** How long a client may take to send its body. Default 10 s. */
  bodyTimeoutMs?: number;
}

type Next = (err?: unknown) => void;

/** Writes an intake answer as JSON. */
export function sendResult(res: ServerResponse, result: IntakeResult | { status: number; error: GatewayError }): void {
  const payload = JSON.stringify(answerBody(result));
  // Headers as a flat list: Node skips building and checking a headers object.
  const headers = ['content-type', 'application/json', 'content-length', String(Buffer.byteLength(payload))];
  if (result.status === 405) headers.push('allow', 'POST');
  if ('error' in result && result.error.retryAfter !== undefined)
    headers.push('retry-after', String(result.error.retryAfter));
  res.writeHead(result.status, headers).end(payload);
}

const failure = (e: unknown) => {
  const error = isGatewayError(e) ? e : new GatewayError('B24GW_BAD_INPUT', 'Request could not be read');
  return { status: error.status, error };
};

/**
 * A handler for Node's `http` server, and for Express or Connect (`app.use(handler)`).
 * Mount it before any body parser: verification needs the raw body. If a parser already
 * kept the body as a Buffer or string, that is used.
 */
export function createNodeHandler(intake: Receiver, options: NodeHandlerOptions = {}) {
  const path = options.path ?? '/events';
  const timeout = options.bodyTimeoutMs ?? 10_000;
  return async (req: IncomingMessage & { body?: unknown }, res: ServerResponse, next?: Next): Promise<void> => {
    const url = req.url ?? '/';
    const q = url.indexOf('?');
    if ((q < 0 ? url : url.slice(0, q)) !== path) {
      if (next) return next();
      return sendResult(
        res,
        failure(new GatewayError('B24GW_NOT_FOUND', `Nothing at ${url.slice(0, 200)}; events go to POST ${path}`)),
      );
    }
    if (req.method !== 'POST') {
      req.resume();
      return sendResult(
        res,
        failure(
          new GatewayError(
            'B24GW_METHOD_NOT_ALLOWED',
            `${req.method} is not allowed on ${path}; send events with POST`,
          ),
        ),
      );
    }
    let body: Buffer | string;
    try {
      if (Buffer.isBuffer(req.body) || typeof req.body === 'string') body = req.body;
      else if (req.readableEnded)
        throw new GatewayError(
          'B24GW_BAD_INPUT',
          'The body was consumed by another parser; mount the gateway before body parsers',
        );
      else body = await readBody(req, intake.limits.maxBodyBytes, timeout);
    } catch (e) {
      res.setHeader('connection', 'close');
      return sendResult(res, failure(e));
    }
    sendResult(res, await intake.receive(body, req.headers['content-type']));
  };
}
