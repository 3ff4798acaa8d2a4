import { describe, expect, it } from 'vitest';
import { AnswerError, readCapped, readCappedJson } from './capped.js';

const streamed = (text: string) =>
  new Response(new ReadableStream({ start: (c) => (c.enqueue(new TextEncoder().encode(text)), c.close()) }));

describe('readCapped', () => {
  it('reads an answer under the cap', async () => {
    expect(await readCappedJson(new Response('{"result":true}'))).toEqual({ result: true });
    expect(await readCappedJson(new Response('not json'))).toBeUndefined();
  });

  it('refuses a larger answer, declared or streamed, without buffering it all', async () => {
    await expect(
      readCapped(new Response('x'.repeat(100), { headers: { 'content-length': '100' } }), 10),
    ).rejects.toBeInstanceOf(AnswerError);
    await expect(readCapped(streamed('x'.repeat(100)), 10)).rejects.toThrow(/over the 10 byte limit/);
  });
});
