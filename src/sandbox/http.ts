import type { IncomingMessage, ServerResponse } from 'node:http';
import { readBody as readLimited } from '../intake/read-body.js';
import { decodeBody } from '../wire/decode.js';
import type { Params } from './rest/params.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

/** A request's body, refused (413) past 4 MiB or when it takes over 30 s. */
export const readBody = (req: IncomingMessage): Promise<Buffer> => readLimited(req, MAX_BODY_BYTES, 30_000);

export type Transport = 'json' | 'form' | 'query';

/**
 * Parameters of a call the way PHP would see them: the query string and a form or JSON
 * body, both read with PHP bracket rules, the body winning on clashes.
 */
export function requestParams(req: IncomingMessage, url: URL, body: Buffer): { params: Params; transport: Transport } {
  const query = url.search.length > 1 ? decode(url.search.slice(1), 'form') : {};
  if (body.byteLength === 0) return { params: query, transport: 'query' };
  const json = (req.headers['content-type'] ?? '').toLowerCase().includes('json');
  return { params: { ...query, ...decode(body, json ? 'json' : 'form') }, transport: json ? 'json' : 'form' };
}

function decode(input: Buffer | string, format: 'json' | 'form'): Params {
  try {
    return decodeBody(input, format);
  } catch (e) {
    throw new BodyError(400, `${format === 'json' ? 'JSON' : 'Form'} parameters could not be read: ${(e as Error).message}`);
  }
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, { 'Content-Type': 'application/json; charset=utf-8', 'Content-Length': Buffer.byteLength(text) });
  res.end(text);
}
