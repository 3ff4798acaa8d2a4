import { createHmac } from 'node:crypto';
import { mkdtempSync, readFileSync, writeFileSync } from 'node:fs';
import { createServer, type IncomingHttpHeaders, type ServerResponse } from 'node:http';
import type { AddressInfo } from 'node:net';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { pathToFileURL } from 'node:url';
import { afterEach, describe, expect, it } from 'vitest';
import { formFixture } from '../../../test/fixtures.js';
import { parseEvent } from '../../events/registry.js';
import { decodeBody } from '../../wire/decode.js';
import { ChannelDeliveryError, deliverToChannel, MAX_ANSWER_BYTES, parseRetryAfter } from './deliver.js';
import { channelPayloads } from './payload.js';
import { generateSecret, verifySignature } from './sign.js';

const secret = generateSecret();
const payload = channelPayloads(
  parseEvent(decodeBody(formFixture('imconnector-message-update'), 'form')).event,
  { eventId: 9, memberId: 'bac1cd5c8940947a75e0d71b1a84e348', domain: 'some-domain.bitrix24.com' },
  'html',
)[0]!;

interface Received {
  headers: IncomingHttpHeaders;
  method: string | undefined;
  body: string;
}

/** A fake channel on a real socket: `answer` decides the response to each request. */
async function channel(answer: (res: ServerResponse, n: number) => void) {
  const received: Received[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      received.push({ headers: req.headers, method: req.method, body: Buffer.concat(chunks).toString('utf8') });
      answer(res, received.length);
    });
  });
  let connections = 0;
  server.on('connection', () => connections++);
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const url = `http://127.0.0.1:${(server.address() as AddressInfo).port}/hooks/b24?token=t`;
  const close = () => {
    server.closeAllConnections();
    return new Promise<void>((resolve) => server.close(() => resolve()));
  };
  opened.push(close);
  return { url, received, close, connections: () => connections };
}

const opened: (() => Promise<void>)[] = [];
afterEach(async () => {
  await Promise.all(opened.splice(0).map((close) => close()));
});

const failure = async (p: Promise<unknown>): Promise<ChannelDeliveryError> => {
  try {
    await p;
  } catch (e) {
    if (e instanceof ChannelDeliveryError) return e;
    throw e;
  }
  throw new Error('expected a ChannelDeliveryError');
};

describe('deliverToChannel: delivered', () => {
  it('POSTs the JSON payload, signed as the README says', async () => {
    const ch = await channel((res) => res.writeHead(200).end('ok'));
    const result = await deliverToChannel({ url: ch.url, secret, userAgent: 'test-gw/1' }, payload);
    expect(result.status).toBe(200);
    expect(result.ms).toBeGreaterThanOrEqual(0);

    const [r] = ch.received;
    expect(r!.method).toBe('POST');
    expect(r!.headers['content-type']).toBe('application/json');
    expect(r!.headers['user-agent']).toBe('test-gw/1');
    expect(JSON.parse(r!.body)).toEqual(payload);
    expect(r!.headers['webhook-id']).toBe('evt_9_0');
    const ts = Number(r!.headers['webhook-timestamp']);
    expect(Math.abs(ts - Date.now() / 1000)).toBeLessThan(5);
    // The README's recipe, computed here without sign.ts.
    const key = Buffer.from(secret.slice('whsec_'.length), 'base64');
    const mac = createHmac('sha256', key).update(`${r!.headers['webhook-id']}.${ts}.${r!.body}`).digest('base64');
    expect(r!.headers['webhook-signature']).toBe(`v1,${mac}`);
    expect(verifySignature(secret, r!.headers, r!.body)).toBe(true);
  });

  it("the README's verify() accepts a real delivery and nothing else", async () => {
    // The snippet channel developers copy, run as they would run it.
    const readme = readFileSync(new URL('./README.md', import.meta.url), 'utf8');
    const snippet = /```js\n(import \{ createHmac[\s\S]*?)```/.exec(readme)?.[1];
    expect(snippet).toBeDefined();
    const file = join(mkdtempSync(join(tmpdir(), 'channel-readme-')), 'verify.mjs');
    writeFileSync(file, snippet!);
    const { verify } = (await import(pathToFileURL(file).href)) as {
      verify: (s: string, h: IncomingHttpHeaders, b: string | Buffer, t?: number) => boolean;
    };

    const ch = await channel((res) => res.writeHead(204).end());
    await deliverToChannel({ url: ch.url, secret }, payload);
    const [r] = ch.received;
    expect(verify(secret, r!.headers, Buffer.from(r!.body))).toBe(true);
    expect(verify(secret, r!.headers, r!.body)).toBe(true);
    expect(verify(secret, r!.headers, r!.body.replace('Samantha', 'Samanta'))).toBe(false);
    expect(verify(generateSecret(), r!.headers, r!.body)).toBe(false);
    expect(verify(secret, { ...r!.headers, 'webhook-timestamp': 'x' }, r!.body)).toBe(false);
    expect(
      verify(secret, { ...r!.headers, 'webhook-timestamp': String(Math.floor(Date.now() / 1000) - 600) }, r!.body),
    ).toBe(false);
  });

  it('any 2xx counts as delivered', async () => {
    for (const status of [200, 201, 202, 204, 299]) {
      const ch = await channel((res) => res.writeHead(status).end(status === 204 ? undefined : '{"ok":true}'));
      expect(await deliverToChannel({ url: ch.url, secret }, payload)).toMatchObject({ status });
    }
  });

  it('keeps its connection to the channel for the next delivery, after a success and after a failure', async () => {
    const ch = await channel((res, n) => res.writeHead(n === 2 ? 503 : 200).end(n === 2 ? 'later' : '{"ok":true}'));
    // A connection goes back to the pool a moment after its answer was read.
    const pause = () => new Promise((r) => setTimeout(r, 10));
    await deliverToChannel({ url: ch.url, secret }, payload);
    await pause();
    await failure(deliverToChannel({ url: ch.url, secret }, payload));
    await pause();
    await deliverToChannel({ url: ch.url, secret }, payload);
    expect([ch.received.length, ch.connections()]).toEqual([3, 1]);
  });

  it('two deliveries of one payload share the webhook-id; each attempt is signed afresh', async () => {
    const ch = await channel((res) => res.writeHead(204).end());
    await deliverToChannel({ url: ch.url, secret }, payload);
    await deliverToChannel({ url: ch.url, secret }, payload);
    const [a, b] = ch.received;
    expect(a!.headers['webhook-id']).toBe('evt_9_0');
    expect(b!.headers['webhook-id']).toBe(a!.headers['webhook-id']);
    expect(b!.body).toBe(a!.body);
    for (const r of [a!, b!]) expect(verifySignature(secret, r.headers, r.body)).toBe(true);
  });

  it("reads the channel's ids from the whole answer, wherever they come in it", async () => {
    // The ids after 5,000 characters of other fields: the first 200 alone do not hold them.
    const answer = JSON.stringify({ received: 'x'.repeat(5_000), externalMessageIds: ['abc-1', 'abc-2'] });
    expect(answer.indexOf('externalMessageIds')).toBeGreaterThan(200);
    const ch = await channel((res) => res.writeHead(200, { 'content-type': 'application/json' }).end(answer));
    expect(await deliverToChannel({ url: ch.url, secret }, payload)).toMatchObject({
      status: 200,
      externalIds: ['abc-1', 'abc-2'],
    });
    // Whitespace in the answer is the JSON's, kept as sent.
    const spaced = await channel((res) =>
      res.writeHead(201).end(`{\n  "note": "${' '.repeat(300)}",\n  "externalMessageId": "a  b"\n}`),
    );
    expect(await deliverToChannel({ url: spaced.url, secret }, payload)).toMatchObject({
      status: 201,
      externalIds: ['a  b'],
    });
    // Numbers are ids too; an empty list, a list with anything else, or no JSON names none.
    for (const [body, ids] of [
      ['{"externalMessageIds": [7, "b"]}', ['7', 'b']],
      ['{"externalMessageId": 8}', ['8']],
      ['{"externalMessageIds": []}', undefined],
      ['{"externalMessageIds": ["a", {}]}', undefined],
      ['{"externalMessageIds": "a"}', undefined],
      ['not json', undefined],
    ] as const) {
      const ch2 = await channel((res) => res.writeHead(200).end(body));
      expect((await deliverToChannel({ url: ch2.url, secret }, payload)).externalIds, body).toEqual(ids);
    }
  });

  it('an answer cut short after its status is no delivery, and is retried', async () => {
    const ch = await channel((res) => {
      res.writeHead(200, { 'content-length': '1000' }).write('{"externalMessageIds"');
      setTimeout(() => res.destroy(), 20);
    });
    const e = await failure(deliverToChannel({ url: ch.url, secret }, payload));
    expect(e).toMatchObject({ kind: 'answer', httpStatus: 200, retryable: true });
    expect(e.message).toMatch(/answered 200, but its answer was cut short/);
  });

  it('refuses a 2xx answer larger than 64 KiB, declared or streamed: not counted as delivered, with a clear error', async () => {
    const big = JSON.stringify({ externalMessageIds: ['abc-1'], pad: 'x'.repeat(MAX_ANSWER_BYTES) });
    for (const chunked of [false, true]) {
      const ch = await channel((res) => {
        if (chunked) res.writeHead(200, { 'transfer-encoding': 'chunked' }).end(big);
        else res.writeHead(200, { 'content-length': String(Buffer.byteLength(big)) }).end(big);
      });
      const e = await failure(deliverToChannel({ url: ch.url, secret }, payload));
      expect(e).toMatchObject({ kind: 'answer', httpStatus: 200, retryable: false });
      expect(e.message).toMatch(
        /^Delivery evt_9_0 failed: http:\/\/127\.0\.0\.1:\d+ answered 200 with more than 64 KiB; the answer is refused unread/,
      );
    }
    // Exactly the limit is read.
    const fits = JSON.stringify({ externalMessageIds: ['abc-1'], pad: '' });
    const at = await channel((res) =>
      res.writeHead(200).end(fits.replace('"pad":""', `"pad":"${'x'.repeat(MAX_ANSWER_BYTES - fits.length)}"`)),
    );
    expect(await deliverToChannel({ url: at.url, secret }, payload)).toMatchObject({ externalIds: ['abc-1'] });
  });

  it('stops at the abort signal it is given, throwing its reason', async () => {
    const ch = await channel(() => undefined);
    const reason = Object.assign(new Error('handlers did not finish within 50 ms'), { name: 'TimeoutError' });
    const abort = new AbortController();
    setTimeout(() => abort.abort(reason), 50);
    await expect(deliverToChannel({ url: ch.url, secret }, payload, abort.signal)).rejects.toBe(reason);
    await expect(deliverToChannel({ url: ch.url, secret }, payload, abort.signal)).rejects.toBe(reason);
    expect(ch.received).toHaveLength(1);
  });

  it('uses the fetch it is given', async () => {
    const calls: string[] = [];
    const fake: typeof fetch = async (input) => {
      calls.push(String(input));
      return new Response(null, { status: 202 });
    };
    expect(await deliverToChannel({ url: 'https://channel.example/in', secret, fetch: fake }, payload)).toMatchObject({
      status: 202,
    });
    expect(calls).toEqual(['https://channel.example/in']);
  });
});

describe('deliverToChannel: failures', () => {
  it('500: status, the start of the answer, retryable; the URL path is not in the message', async () => {
    const ch = await channel((res) =>
      res.writeHead(500, { 'content-type': 'text/plain' }).end(`boom\n${'x'.repeat(5000)}`),
    );
    const e = await failure(deliverToChannel({ url: ch.url, secret }, payload));
    expect(e).toMatchObject({
      kind: 'http',
      httpStatus: 500,
      retryable: true,
      deliveryId: 'evt_9_0',
      retryAfterMs: undefined,
    });
    expect(e.body).toHaveLength(200);
    expect(e.body!.startsWith('boom xxx')).toBe(true);
    expect(e.message).toMatch(
      /^Delivery evt_9_0 failed: http:\/\/127\.0\.0\.1:\d+ answered 500 Internal Server Error: boom x+$/,
    );
    expect(e.message).not.toContain('token');
  });

  it('4xx: not retryable unless it says "later" (408, 409, 425, 429)', async () => {
    const expected: Record<number, boolean> = {
      400: false,
      401: false,
      404: false,
      410: false,
      422: false,
      408: true,
      409: true,
      425: true,
      429: true,
      503: true,
    };
    for (const [status, retryable] of Object.entries(expected)) {
      const ch = await channel((res) => res.writeHead(Number(status)).end());
      expect(await failure(deliverToChannel({ url: ch.url, secret }, payload))).toMatchObject({
        kind: 'http',
        httpStatus: Number(status),
        retryable,
      });
    }
  });

  it('Retry-After in seconds or as a date becomes retryAfterMs', async () => {
    let ch = await channel((res) => res.writeHead(429, { 'retry-after': '7' }).end('slow down'));
    expect(await failure(deliverToChannel({ url: ch.url, secret }, payload))).toMatchObject({
      httpStatus: 429,
      retryAfterMs: 7000,
    });

    const at = new Date(Date.now() + 120_000).toUTCString();
    ch = await channel((res) => res.writeHead(503, { 'retry-after': at }).end());
    const e = await failure(deliverToChannel({ url: ch.url, secret }, payload));
    expect(e.retryAfterMs).toBeGreaterThan(100_000);
    expect(e.retryAfterMs).toBeLessThanOrEqual(120_000);
  });

  it('a redirect is a failure and is not followed', async () => {
    const ch = await channel((res) => res.writeHead(301, { location: 'https://elsewhere.example/in' }).end());
    const e = await failure(deliverToChannel({ url: ch.url, secret }, payload));
    expect(e).toMatchObject({ kind: 'redirect', httpStatus: 301, retryable: false });
    expect(e.message).toContain('https://elsewhere.example/in');
    expect(ch.received).toHaveLength(1);
    // Every 3xx, from 300 on: none counts as delivered.
    for (const status of [300, 308, 399]) {
      const other = await channel((res) => res.writeHead(status).end());
      expect(await failure(deliverToChannel({ url: other.url, secret }, payload))).toMatchObject({
        kind: 'redirect',
        httpStatus: status,
      });
    }
  });

  it('a channel that does not answer in time: timeout, retryable', async () => {
    const ch = await channel(() => undefined);
    // A channel that never answers: without the time limit, this test would wait for its own.
    const e = await failure(deliverToChannel({ url: ch.url, secret, timeoutMs: 200 }, payload));
    expect(e).toMatchObject({ kind: 'timeout', httpStatus: undefined, retryable: true });
    expect(e.message).toContain('did not answer within 200 ms');
  });

  it('a refused connection: network error, retryable', async () => {
    const ch = await channel(() => undefined);
    await ch.close();
    const e = await failure(deliverToChannel({ url: ch.url, secret }, payload));
    expect(e).toMatchObject({ kind: 'network', httpStatus: undefined, retryable: true });
    expect(e.message).toMatch(/could not be reached: .*ECONNREFUSED/);
  });

  it('a bad URL or secret: config error, not retryable, nothing sent', async () => {
    for (const options of [
      { url: 'not a url', secret },
      { url: 'ftp://channel.example/', secret },
      { url: 'https://channel.example/', secret: 'whsec_short' },
    ]) {
      const sent: unknown[] = [];
      const fake: typeof fetch = async (input) => (sent.push(input), new Response(null));
      expect(await failure(deliverToChannel({ ...options, fetch: fake }, payload))).toMatchObject({
        kind: 'config',
        retryable: false,
      });
      expect(sent).toEqual([]);
    }
  });
});

describe('parseRetryAfter', () => {
  it('reads seconds and HTTP dates; ignores what it cannot read', () => {
    const now = Date.parse('2026-11-22T10:00:00Z');
    expect(parseRetryAfter('120', now)).toBe(120_000);
    expect(parseRetryAfter(' 0 ', now)).toBe(0);
    expect(parseRetryAfter('Sun, 22 Nov 2026 10:01:30 GMT', now)).toBe(90_000);
    expect(parseRetryAfter('Sun, 22 Nov 2026 09:00:00 GMT', now)).toBe(0);
    expect(parseRetryAfter('soon', now)).toBeUndefined();
    expect(parseRetryAfter('-5', now)).toBeUndefined();
    expect(parseRetryAfter('7x', now)).toBeUndefined();
    expect(parseRetryAfter('22 Nov 2026 10:01:30 GMT', now)).toBeUndefined();
    expect(parseRetryAfter(null, now)).toBeUndefined();
  });
});
