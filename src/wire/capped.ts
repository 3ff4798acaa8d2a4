import { GatewayError } from '../errors.js';
/** What an answer of another server may weigh: genuine Bitrix24 and OAuth answers are a few kilobytes. */
export const MAX_ANSWER_BYTES = 64 * 1024;

/** Thrown when an answer is larger than the cap, or not JSON when JSON was expected. */
export class AnswerError extends GatewayError {
  constructor(message: string) {
    super('B24GW_ANSWER_REFUSED', message);
    this.name = 'AnswerError';
  }
}

/** Reads an answer's body up to `maxBytes`, cancelling the rest: a hostile server cannot make the gateway buffer without end. */
export async function readCapped(res: Response, maxBytes = MAX_ANSWER_BYTES): Promise<string> {
  const declared = Number(res.headers.get('content-length'));
  if (declared > maxBytes) {
    await res.body?.cancel().catch(() => undefined);
    throw new AnswerError(`answer is ${declared} bytes, over the ${maxBytes} byte limit`);
  }
  if (!res.body) return '';
  const reader: ReadableStreamDefaultReader<Uint8Array> = res.body.getReader();
  const chunks: Uint8Array[] = [];
  let size = 0;
  for (;;) {
    const { done, value } = await reader.read();
    if (done) break;
    size += value.byteLength;
    if (size > maxBytes) {
      await reader.cancel().catch(() => undefined);
      throw new AnswerError(`answer is over the ${maxBytes} byte limit`);
    }
    chunks.push(value);
  }
  return Buffer.concat(chunks, size).toString('utf8');
}

/** As readCapped, parsed as JSON; undefined when the body is not JSON. */
export async function readCappedJson(res: Response, maxBytes = MAX_ANSWER_BYTES): Promise<unknown> {
  const text = await readCapped(res, maxBytes);
  try {
    return JSON.parse(text) as unknown;
  } catch {
    return undefined;
  }
}
