import type { IncomingMessage, ServerResponse } from 'node:http';
import { SandboxError } from './errors.js';
import { bodyText, decodeForm, decodeJson } from './php/decode.js';
import type { Params } from './rest/params.js';

const MAX_BODY_BYTES = 4 * 1024 * 1024;
const BODY_TIMEOUT_MS = 30_000;

/** A request's body, refused past 4 MiB (declared or received) or when it takes over 30 s. */
export function readBody(req: IncomingMessage): Promise<Buffer> {
  if (Number(req.headers['content-length']) > MAX_BODY_BYTES) {
    req.resume();
    return Promise.reject(new SandboxError('B24SB_BODY_TOO_LARGE'));
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    let settled = false;
    const finish = (error?: unknown) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      req.removeAllListeners('data').removeAllListeners('end');
      if (error === undefined) return resolve(Buffer.concat(chunks, size));
      req.resume();
      reject(error);
    };
    const timer = setTimeout(() => finish(new SandboxError('B24SB_BODY_TIMEOUT')), BODY_TIMEOUT_MS);
    req.on('data', (chunk: Buffer) => {
      size += chunk.length;
      if (size > MAX_BODY_BYTES) finish(new SandboxError('B24SB_BODY_TOO_LARGE'));
      else chunks.push(chunk);
    });
    req.once('end', () => finish());
    // Stays attached: a socket error after the answer must not go unhandled.
    req.on('error', (e) => finish(e));
  });
}

export type Transport = 'json' | 'form' | 'query';

export interface RequestParams {
  params: Params;
  transport: Transport;
  /** What PHP would have warned about while reading them (and dropped). */
  warnings: string[];
}

/**
 * Parameters of a call the way the portal's PHP sees them: the query string and a form body
 * read as parse_str reads them, or a JSON body; the body wins on clashes.
 */
export function requestParams(req: IncomingMessage, url: URL, body: Buffer): RequestParams {
  const query = url.search.length > 1 ? decodeForm(url.search.slice(1)) : { params: {}, warnings: [] };
  if (body.byteLength === 0) return { params: query.params, transport: 'query', warnings: query.warnings };
  const text = bodyText(body);
  if ((req.headers['content-type'] ?? '').toLowerCase().includes('json')) {
    return { params: { ...query.params, ...decodeJson(text) }, transport: 'json', warnings: query.warnings };
  }
  const form = decodeForm(text);
  return {
    params: { ...query.params, ...form.params },
    transport: 'form',
    warnings: [...query.warnings, ...form.warnings],
  };
}

export function sendJson(res: ServerResponse, status: number, body: unknown): void {
  const text = JSON.stringify(body);
  res.writeHead(status, {
    'Content-Type': 'application/json; charset=utf-8',
    'Content-Length': Buffer.byteLength(text),
  });
  res.end(text);
}
