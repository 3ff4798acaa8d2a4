import type { IncomingMessage, ServerResponse } from 'node:http';
import { decodeBody } from '../wire/decode.js';
import type { Params } from './rest/params.js';

export const MAX_BODY_BYTES = 4 * 1024 * 1024;

export class BodyError extends Error {
  constructor(
    readonly status: number,
    message: string,
  ) {
    super(message);
  }
}

export function readBody(req: IncomingMessage): Promise<Buffer> {
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    req.on('data', (c: Buffer) => {
      size += c.byteLength;
      if (size > MAX_BODY_BYTES) {
        reject(new BodyError(413, `Body is larger than ${MAX_BODY_BYTES} bytes`));
        req.destroy();
        return;
      }
      chunks.push(c);
    });
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });
}

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
