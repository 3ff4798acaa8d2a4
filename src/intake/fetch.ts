import { GatewayError } from '../errors.js';
import { answerBody, type Intake } from './intake.js';

const json = (status: number, body: object, extra: Record<string, string> = {}): Response =>
  new Response(JSON.stringify(body), { status, headers: { 'content-type': 'application/json', ...extra } });

async function readLimited(request: Request, max: number): Promise<Uint8Array> {
  const declared = Number(request.headers.get('content-length'));
  if (declared > max)
    throw new GatewayError('B24GW_BODY_TOO_LARGE', `Body is ${declared} bytes, over the limit of ${max}`);
  if (!request.body) return new Uint8Array();
  const chunks: Uint8Array[] = [];
  let size = 0;
  const reader: ReadableStreamDefaultReader<Uint8Array> = request.body.getReader();
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > max) {
      await reader.cancel();
      throw new GatewayError('B24GW_BODY_TOO_LARGE', `Body is over the limit of ${max} bytes`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size);
}

/**
 * The intake for Fetch API runtimes (Hono, Next.js route handlers, Bun, Deno):
 * `export const POST = (req) => handleFetch(intake, req)`.
 */
export async function handleFetch(intake: Intake, request: Request): Promise<Response> {
  if (request.method !== 'POST') {
    const e = new GatewayError('B24GW_METHOD_NOT_ALLOWED', `${request.method} is not allowed; send events with POST`);
    return json(e.status, e.toJSON(), { allow: 'POST' });
  }
  let body: Uint8Array;
  try {
    body = await readLimited(request, intake.limits.maxBodyBytes);
  } catch (e) {
    const err = e instanceof GatewayError ? e : new GatewayError('B24GW_BAD_INPUT', 'Request body could not be read');
    return json(err.status, err.toJSON());
  }
  const result = await intake.receive(body, request.headers.get('content-type'));
  const retryAfter = 'error' in result ? result.error.retryAfter : undefined;
  return json(result.status, answerBody(result), retryAfter === undefined ? {} : { 'retry-after': String(retryAfter) });
}
