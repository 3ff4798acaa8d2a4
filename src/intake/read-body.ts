import type { IncomingMessage } from 'node:http';
import { GatewayError } from '../errors.js';

/**
 * Reads a request body up to a limit. A declared length over the limit is refused
 * before reading; a body that grows past it is refused as soon as it does.
 */
export function readBody(req: IncomingMessage, maxBytes: number, timeoutMs: number): Promise<Buffer> {
  const declared = Number(req.headers['content-length']);
  if (declared > maxBytes) {
    req.resume();
    return Promise.reject(
      new GatewayError('B24GW_BODY_TOO_LARGE', `Body is ${declared} bytes, over the limit of ${maxBytes}`),
    );
  }
  return new Promise((resolve, reject) => {
    const chunks: Buffer[] = [];
    let size = 0;
    const timer = setTimeout(
      () => fail(new GatewayError('B24GW_BODY_TIMEOUT', `Body was not received within ${timeoutMs} ms`)),
      timeoutMs,
    );
    const done = () => {
      clearTimeout(timer);
      req.off('data', onData).off('end', onEnd).off('error', onError);
    };
    const fail = (e: unknown) => {
      done();
      req.resume();
      reject(e);
    };
    const onData = (chunk: Buffer) => {
      size += chunk.length;
      if (size > maxBytes)
        fail(new GatewayError('B24GW_BODY_TOO_LARGE', `Body is over the limit of ${maxBytes} bytes`));
      else chunks.push(chunk);
    };
    const onEnd = () => {
      done();
      resolve(chunks.length === 1 ? chunks[0]! : Buffer.concat(chunks, size));
    };
    const onError = (e: Error) => fail(e);
    req.on('data', onData).on('end', onEnd).on('error', onError);
  });
}
