import { expect, it } from 'vitest';
import { commandsOf, deliveryStatus as status, useRigs, type Rig } from '../../../test/bitrix-sandbox.js';
import { DeliveryStatusBatcher, DELIVERY_METHOD } from './status-batcher.js';
import { StatusSender } from './status-sender.js';

const openRig = useRigs();
let r: Rig | undefined;

it('a status Bitrix24 keeps refusing is retried on the schedule, then dead; the others are sent once', async () => {
  r = await openRig();
  let now = 1_000_000;
  const sender = new StatusSender({
    store: r.store,
    batcher: new DeliveryStatusBatcher(r.clients()),
    owner: 'sender',
    schedule: [1_000, 1_000],
    gatherMs: 0,
    now: () => now,
  });
  await r.store.enqueueStatuses([
    { memberId: r.memberId, connector: 'myconnector', line: 107, item: JSON.stringify(status(1)), eventId: 1 },
    // No such connector on the portal: every attempt fails.
    { memberId: r.memberId, connector: 'unknown-connector', line: 5, item: JSON.stringify(status(2)), eventId: 2 },
  ]);
  await sender.drain();
  expect(await r.store.countStatuses()).toEqual({ pending: 1, sent: 1, dead: 0 });
  // Not due yet: nothing is sent.
  await sender.drain();
  expect(commandsOf(r.sb, DELIVERY_METHOD)).toHaveLength(2);
  // Two retries (a budget of three attempts), then the status is a dead letter.
  for (let retry = 0; retry < 2; retry++) {
    now += 60_000;
    await sender.drain();
  }
  expect(await r.store.countStatuses()).toEqual({ pending: 0, sent: 1, dead: 1 });
  const calls = commandsOf(r.sb, DELIVERY_METHOD).map((c) => (c.params as { CONNECTOR: string }).CONNECTOR);
  expect(calls).toEqual(['myconnector', 'unknown-connector', 'unknown-connector', 'unknown-connector']);
  const dead = await r.store.claimStatuses('another', now + 1e9, 1_000, 10, 3);
  expect(dead).toEqual([]);
});
