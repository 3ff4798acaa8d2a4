import { afterEach, beforeEach, expect, it } from 'vitest';
import { formFixture } from '../../test/fixtures.js';
import { tempDir } from '../../test/helpers.js';
import { Gateway } from '../gateway.js';

let tmp: ReturnType<typeof tempDir>;
let gateway: Gateway;
beforeEach(() => {
  tmp = tempDir();
  gateway = new Gateway({
    db: `${tmp.dir}/f.db`,
    appTokens: new Map([['bac1cd5c8940947a75e0d71b1a84e348', '831c76b092f9f135d9b6b36c3a720757']]),
  });
});
afterEach(async () => {
  await gateway.close();
  tmp.cleanup();
});

const request = (body: string | ReadableStream<Uint8Array>, init: RequestInit = {}) =>
  new Request('http://gateway.test/api/bitrix', {
    method: 'POST',
    headers: { 'content-type': 'application/x-www-form-urlencoded' },
    body,
    ...init,
  });

it('stores an event through the Fetch API adapter', async () => {
  const res = await gateway.fetch(request(formFixture('imconnector-message-update')));
  expect(res.status).toBe(200);
  const { id } = (await res.json()) as { id: number };
  expect((await gateway.store.getEvent(id))?.code).toBe('ONIMCONNECTORMESSAGEUPDATE');
});

it('answers 405 with Allow, and 413 for a streamed body over the limit', async () => {
  const get = await gateway.fetch(new Request('http://gateway.test/', { method: 'GET' }));
  expect(get.status).toBe(405);
  expect(get.headers.get('allow')).toBe('POST');
  const big = new ReadableStream<Uint8Array>({
    start(c) {
      for (let i = 0; i < 20; i++) c.enqueue(new Uint8Array(64 * 1024).fill(97));
      c.close();
    },
  });
  const res = await gateway.fetch(request(big, { duplex: 'half' } as RequestInit));
  expect(res.status).toBe(413);
  expect(((await res.json()) as { error: { code: string } }).error.code).toBe('B24GW_BODY_TOO_LARGE');
});
