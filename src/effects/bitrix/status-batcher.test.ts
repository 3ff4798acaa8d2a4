import { describe, expect, it } from 'vitest';
import {
  commandsOf,
  deliveryStatus as status,
  installPortal,
  requestsTo,
  useRigs,
  type Rig,
} from '../../../test/bitrix-sandbox.js';
import { BitrixApiError } from './errors.js';
import { DeliveryStatusBatcher, DELIVERY_METHOD, type DeliveryStatus } from './status-batcher.js';

const openRig = useRigs();
let r: Rig | undefined;
type Cmd = { CONNECTOR: string; LINE: string | number; MESSAGES: DeliveryStatus[] };
const sent = (rr: Rig) => commandsOf(rr.sb, DELIVERY_METHOD).map((c) => c.params as unknown as Cmd);
const requests = (rr: Rig) => requestsTo(rr.sb);
const settleAll = (ps: Promise<void>[]) => Promise.allSettled(ps);

describe('DeliveryStatusBatcher', () => {
  it('1,000 statuses on one line in one window: one HTTP request (a batch of 10 commands × 100)', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    const results = await settleAll(
      Array.from({ length: 1000 }, (_, i) => batcher.enqueue(r!.memberId, 'myconnector', 107, status(i))),
    );

    expect(results.every((x) => x.status === 'fulfilled')).toBe(true);
    expect(requests(r).map((q) => q.method)).toEqual(['batch']);
    const cmds = sent(r);
    expect(cmds).toHaveLength(10);
    expect(
      cmds.every((c) => c.CONNECTOR === 'myconnector' && Number(c.LINE) === 107 && c.MESSAGES.length === 100),
    ).toBe(true);
    const ids = cmds.flatMap((c) => c.MESSAGES.map((m) => m.message.id));
    expect(ids).toHaveLength(1000);
    expect(ids.every((id) => Array.isArray(id) && id.length === 1)).toBe(true);
    expect(new Set(ids.map((id) => id[0])).size).toBe(1000);
  });

  it('statuses of one line within the window go in ONE imconnector.send.status.delivery call', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    await Promise.all(
      Array.from({ length: 40 }, (_, i) => batcher.enqueue(r!.memberId, 'myconnector', 107, status(i))),
    );
    expect(requests(r).map((q) => q.method)).toEqual([DELIVERY_METHOD]);
    const body = requests(r)[0]!.params as unknown as Cmd;
    expect(body.MESSAGES).toHaveLength(40);
    expect(body.MESSAGES[0]).toEqual(status(0));
  });

  it('several connectors and lines of one portal: one batch with one command per line', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    const lines: [string, number][] = [
      ['myconnector', 1],
      ['myconnector', 2],
      ['other', 1],
    ];
    await Promise.all(
      Array.from({ length: 30 }, (_, i) => batcher.enqueue(r!.memberId, lines[i % 3]![0], lines[i % 3]![1], status(i))),
    );
    expect(requests(r).map((q) => q.method)).toEqual(['batch']);
    expect(sent(r).map((c) => [c.CONNECTOR, Number(c.LINE), c.MESSAGES.length])).toEqual([
      ['myconnector', 1, 10],
      ['myconnector', 2, 10],
      ['other', 1, 10],
    ]);
  });

  it('60 lines: two batch requests (50 + 10 commands)', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    await Promise.all(
      Array.from({ length: 120 }, (_, i) => batcher.enqueue(r!.memberId, 'myconnector', 1 + (i % 60), status(i))),
    );
    expect(requests(r).map((q) => q.method)).toEqual(['batch', 'batch']);
    expect(requests(r).map((q) => Object.keys(q.params.cmd as object).length)).toEqual([50, 10]);
    expect(sent(r)).toHaveLength(60);
  });

  it('reports per item: a failed command rejects its own statuses only', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    const bad = [0, 1].map((i) => batcher.enqueue(r!.memberId, 'unknown-connector', 5, status(i)));
    const good = [2, 3, 4].map((i) => batcher.enqueue(r!.memberId, 'myconnector', 5, status(i)));
    const [b, g] = await Promise.all([settleAll(bad), settleAll(good)]);

    expect(requests(r).map((q) => q.method)).toEqual(['batch']);
    expect(g.every((x) => x.status === 'fulfilled')).toBe(true);
    for (const x of b) {
      expect(x.status).toBe('rejected');
      const e = (x as PromiseRejectedResult).reason as BitrixApiError;
      expect(e).toBeInstanceOf(BitrixApiError);
      expect(e.bitrixCode).toBe('IMCONNECTOR_NO_CORRECT_PROVIDER');
      expect(e.message).toBe(
        'Bitrix24 imconnector.send.status.delivery for portal member-1 failed with IMCONNECTOR_NO_CORRECT_PROVIDER: Failed to find a suitable provider for the connector',
      );
    }
  });

  it('a failed single call rejects its statuses with the Bitrix24 error', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    await expect(batcher.enqueue(r.memberId, 'unknown-connector', 5, status(1))).rejects.toMatchObject({
      bitrixCode: 'IMCONNECTOR_NO_CORRECT_PROVIDER',
      httpStatus: 400,
    });
  });

  it('an answer without SUCCESS: true is not a confirmation', async () => {
    r = await openRig();
    r.sb.faults.set({ methodResults: { [DELIVERY_METHOD]: { result: { SUCCESS: false, DATA: [] } } } });
    const batcher = new DeliveryStatusBatcher(r.clients());
    await expect(batcher.enqueue(r.memberId, 'myconnector', 5, status(1))).rejects.toMatchObject({
      code: 'B24GW_NOT_ACCEPTED',
    });
  });

  it('a rate limit that outlasts the retries rejects every status with retryAfterMs', async () => {
    r = await openRig();
    r.sb.faults.set({
      methodErrors: { '*': { status: 503, error: 'QUERY_LIMIT_EXCEEDED', description: 'Too many requests' } },
    });
    const clients = r.clients({ sleep: async () => undefined, retry: { attempts: 2 } });
    const batcher = new DeliveryStatusBatcher(clients);
    const res = await settleAll([1, 2, 3].map((i) => batcher.enqueue(r!.memberId, 'c', 1 + (i % 2), status(i))));
    for (const x of res) {
      expect(x).toMatchObject({ status: 'rejected', reason: { bitrixCode: 'QUERY_LIMIT_EXCEEDED' } });
      expect((x as PromiseRejectedResult).reason.retryAfterMs).toBeGreaterThan(0);
    }
    expect(requests(r)).toHaveLength(2);
  });

  it('statuses that arrive while a send is in flight go together in the next one', async () => {
    r = await openRig();
    const later: Promise<void>[] = [];
    let first = true;
    // While the first request is on its way (the portal takes 100 ms to answer), 300 more statuses arrive over several ticks.
    r.sb.faults.set({ slowMs: 100 });
    const batcher = new DeliveryStatusBatcher(
      r.clients({
        fetch: (input, init) => {
          if (first) {
            first = false;
            for (let i = 0; i < 300; i++)
              setImmediate(() => later.push(batcher.enqueue(r!.memberId, 'myconnector', 1 + (i % 3), status(100 + i))));
          }
          return fetch(input, init);
        },
      }),
    );
    await Promise.all(Array.from({ length: 5 }, (_, i) => batcher.enqueue(r!.memberId, 'myconnector', 1, status(i))));
    expect(later).toHaveLength(300);
    await Promise.all(later);
    expect(requests(r).map((q) => q.method)).toEqual([DELIVERY_METHOD, 'batch']);
    expect(sent(r).map((c) => c.MESSAGES.length)).toEqual([5, 100, 100, 100]);
  });

  it('keeps portals apart: one request per portal', async () => {
    r = await openRig();
    const other = r.sb.addPortal({ memberId: 'member-2' });
    other.registerConnector('myconnector');
    await installPortal(r.store, other, r.sb.issueTokens(other));
    const batcher = new DeliveryStatusBatcher(r.clients());
    await Promise.all([
      ...Array.from({ length: 10 }, (_, i) => batcher.enqueue('member-1', 'myconnector', 1, status(i))),
      ...Array.from({ length: 10 }, (_, i) => batcher.enqueue('member-2', 'myconnector', 1, status(i))),
    ]);
    expect(requests(r).map((q) => q.method)).toEqual([DELIVERY_METHOD, DELIVERY_METHOD]);
    expect(new Set(requests(r).map((q) => q.accessToken)).size).toBe(2);
  });

  it('sends message.id as a list even when a caller passed a string', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients());
    const loose = { ...status(1), message: { id: 'ext-1' } } as unknown as DeliveryStatus;
    await batcher.enqueue(r.memberId, 'myconnector', 1, loose);
    expect((requests(r)[0]!.params as unknown as Cmd).MESSAGES[0]!.message.id).toEqual(['ext-1']);
  });

  it('flush() sends what is gathered without waiting for the window', async () => {
    r = await openRig();
    const batcher = new DeliveryStatusBatcher(r.clients(), { windowMs: 60_000 });
    const p = batcher.enqueue(r.memberId, 'myconnector', 1, status(1));
    await batcher.flush();
    await expect(p).resolves.toBeUndefined();
    expect(requests(r)).toHaveLength(1);
  });
});
