import { isUtf8 } from 'node:buffer';
import { GatewayError } from '../errors.js';
import { decodeForm } from './form.js';
import { decodeJson } from './json.js';
import { defaultLimits, type DecodeLimits } from './limits.js';
import type { WireObject } from './types.js';

export type BodyFormat = 'form' | 'json';

/**
 * The format named by a Content-Type header. Bitrix24 always sends a form body,
 * so a request without the header is read as one.
 */
export function formatOf(contentType: string | null | undefined): BodyFormat {
  if (!contentType) return 'form';
  // Every Bitrix24 delivery carries the same header: no parsing for it.
  if (contentType === 'application/x-www-form-urlencoded') return 'form';
  const [type = '', ...params] = contentType.toLowerCase().split(';');
  const mime = type.trim();
  const charset = params
    .map((p) => p.trim())
    .find((p) => p.startsWith('charset='))
    ?.slice(8)
    .replace(/"/g, '');
  if (charset !== undefined && charset !== 'utf-8' && charset !== 'utf8') {
    throw new GatewayError('B24GW_UNSUPPORTED_MEDIA_TYPE', `Charset "${charset}" is not supported; send UTF-8`);
  }
  if (mime === 'application/x-www-form-urlencoded') return 'form';
  if (mime === 'application/json' || (mime.startsWith('application/') && mime.endsWith('+json'))) return 'json';
  throw new GatewayError(
    'B24GW_UNSUPPORTED_MEDIA_TYPE',
    `Content-Type "${mime}" is not supported; send application/x-www-form-urlencoded or application/json`,
  );
}

/** A body's text, once its size and UTF-8 are checked. */
export function bodyText(body: Uint8Array | string, limits: DecodeLimits = defaultLimits): string {
  const bytes = typeof body === 'string' ? Buffer.byteLength(body) : body.byteLength;
  if (bytes > limits.maxBodyBytes) {
    throw new GatewayError('B24GW_BODY_TOO_LARGE', `Body is ${bytes} bytes, over the limit of ${limits.maxBodyBytes}`);
  }
  if (bytes === 0) throw new GatewayError('B24GW_EMPTY_BODY');
  if (typeof body === 'string') return body;
  if (!isUtf8(body)) throw new GatewayError('B24GW_INVALID_UTF8', 'Body contains bytes that are not valid UTF-8');
  return Buffer.from(body.buffer, body.byteOffset, body.byteLength).toString('utf8');
}

/**
 * Decodes a whole body under the limits: bytes, UTF-8, then the format's own rules.
 * For a form body, `secrets` collects the ranges of secret values (see decodeForm).
 */
export function decodeBody(
  body: Uint8Array | string,
  format: BodyFormat,
  limits: DecodeLimits = defaultLimits,
  secrets?: number[],
): WireObject {
  return decodeText(bodyText(body, limits), format, limits, secrets);
}

/** Decodes a body's text, once bodyText has checked it. */
export const decodeText = (text: string, format: BodyFormat, limits: DecodeLimits, secrets?: number[]): WireObject =>
  format === 'json' ? decodeJson(text, limits) : decodeForm(text, limits, secrets);
