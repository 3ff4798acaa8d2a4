import { expect, it } from 'vitest';
import { startSandbox } from '@b24-im-gateway/sandbox';
import { sign } from '../../src/effects/channel/sign.js';
import { SqliteStore } from '../../src/store/sqlite/store.js';
import { startGatewayProcess } from '../process.js';
import { figures, sleep, waitUntil } from './lib.js';
import { sandboxFlags, useRig } from './rig.js';

/**
 * Scenario 8: the customers' side under load. 16 channel senders post new messages and edits to
 * POST /channel/events for 6 s, each request 3 times at once (a channel that retries everything),
 * while Bitrix24's REST API is down from 1.5 to 4 s. Every acknowledged message must appear in the
 * sandbox exactly once, each chat's messages in the order the channel sent them, each edited
 * message with its last text, and no action dead.
 */

const rig = useRig();
const CONNECTOR = 'reliability_customers';
const LINE = 5;
const SENDERS = 16;
const CHATS_PER_SENDER = 4;
const COPIES = 3;

it('customers: every request sent 3 times under load and through a REST outage; each message in Bitrix24 once, in order, nothing lost', async () => {
  rig.sb = await startSandbox({ plan: 'enterprise' });
  const db = `${rig.tmp.dir}/customers.db`;
  rig.gw = await startGatewayProcess([
    ...sandboxFlags(rig, rig.sb, db),
    '--plan',
    'enterprise',
    '--retry-schedule',
    '200ms,500ms,1s,2s,5s,5s,5s',
    '--lease',
    '2s',
    '--log-level',
    'error',
  ]);
  const portal = rig.sb.portal;
  expect((await rig.sb.install(portal, `${rig.gw.url}/events`)).ok).toBe(true);
  portal.ensureConnector(CONNECTOR, LINE);

  let requests = 0;
  let refused = 0;
  let seq = 0;
  /** One action sent as a retrying channel would: the same signed request three times at once. */
  const send = async (action: object): Promise<boolean> => {
    const id = `req-${++seq}`;
    const body = JSON.stringify({
      version: 1,
      portal: { memberId: portal.memberId },
      connector: { id: CONNECTOR, line: LINE },
      ...action,
    });
    const copies = await Promise.all(
      Array.from({ length: COPIES }, async () => {
        requests++;
        const ts = Math.floor(Date.now() / 1000);
        const res = await fetch(`${rig.gw!.url}/channel/events`, {
          method: 'POST',
          headers: {
            'content-type': 'application/json',
            'webhook-id': id,
            'webhook-timestamp': String(ts),
            'webhook-signature': sign(rig.channel.secret, id, ts, body),
          },
          body,
        }).catch(() => undefined);
        return res?.status === 200;
      }),
    );
    if (!copies.some(Boolean)) refused++;
    return copies.some(Boolean);
  };

  const acked = new Map<string, string[]>(); // chat → message ids in the order acknowledged
  const lastText = new Map<string, string>(); // message id → the text it must end with
  let stop = false;
  const t0 = Date.now();
  const sender = async (k: number) => {
    for (let i = 0; !stop; i++) {
      const chat = `chat-${k}-${i % CHATS_PER_SENDER}`;
      const id = `m-${k}-${i}`;
      const text = `message ${k}/${i}`;
      if (
        await send({
          type: 'message.created',
          chat: { externalId: chat },
          user: { externalId: `user-${chat}` },
          message: { externalId: id, text },
        })
      ) {
        acked.set(chat, [...(acked.get(chat) ?? []), id]);
        lastText.set(id, text);
      }
      // Every third message is edited right away, its edit retried as well.
      if (
        i % 3 === 2 &&
        (await send({
          type: 'message.updated',
          chat: { externalId: chat },
          message: { externalId: id, text: `${text}, edited` },
        }))
      )
        lastText.set(id, `${text}, edited`);
      await sleep(10);
    }
  };
  const load = Promise.all(Array.from({ length: SENDERS }, (_, k) => sender(k)));
  const at = (ms: number) => sleep(Math.max(0, t0 + ms - Date.now()));
  await at(1_500);
  rig.sb.faults.set({ outage: 'http503' });
  await at(4_000);
  rig.sb.faults.set({ outage: false });
  const recovered = Date.now();
  await at(6_000);
  stop = true;
  await load;

  const store = new SqliteStore(db);
  try {
    const expected = [...acked.values()].reduce((n, l) => n + l.length, 0);
    const settled = await waitUntil(
      async () => {
        const c = await store.countCustomerActions();
        return (
          c.pending === 0 &&
          c.dead === 0 &&
          [...rig.sb!.portal.messages.values()].filter((m) => m.direction === 'in').length >= expected
        );
      },
      90_000,
      200,
    );
    const recoveryMs = Date.now() - recovered;
    await sleep(500); // room for any (wrong) second copy to show up
    const inbound = [...portal.messages.values()].filter((m) => m.direction === 'in');
    const times = new Map<string, number>();
    for (const m of inbound) for (const id of m.externalIds) times.set(id, (times.get(id) ?? 0) + 1);
    const allAcked = [...acked.values()].flat();
    const lost = allAcked.filter((id) => !times.has(id)).length;
    const twice = [...times.values()].filter((n) => n > 1).length;
    const outOfOrder = [...acked].filter(([chat, ids]) => {
      const inBitrix = inbound
        .filter((m) => portal.chats.get(m.chatId)?.externalChatId === chat)
        .map((m) => m.externalIds[0]);
      return JSON.stringify(inBitrix) !== JSON.stringify(ids);
    }).length;
    const wrongText = allAcked.filter(
      (id) => inbound.find((m) => m.externalIds.includes(id))?.text !== lastText.get(id),
    ).length;
    const counts = await store.countCustomerActions();
    const retried = (
      store.db.prepare('SELECT COUNT(*) AS n FROM customer_actions WHERE attempts > 1').get() as { n: number }
    ).n;
    const restRequests = rig.sb.recorder
      .calls()
      .filter(
        (c) =>
          c.transport !== 'batch' &&
          (c.method === 'batch' || c.method.startsWith('imconnector.')) &&
          c.method !== 'imconnector.send.status.delivery',
      ).length;
    figures('customers', {
      requests,
      acknowledged: allAcked.length,
      'in-bitrix': inbound.length,
      lost,
      'appeared-twice': twice,
      'out-of-order-chats': outOfOrder,
      'wrong-text': wrongText,
      'actions-sent': counts.sent,
      dead: counts.dead,
      'retried-actions': retried,
      'rest-requests': restRequests,
      refused,
      'recovery-ms': recoveryMs,
    });
    expect(settled).toBe(true);
    expect(refused).toBe(0);
    expect(lost).toBe(0);
    expect(twice).toBe(0);
    expect(inbound).toHaveLength(allAcked.length);
    expect(outOfOrder).toBe(0);
    expect(wrongText).toBe(0);
    expect(counts.dead).toBe(0);
    // The outage really bit: actions were retried.
    expect(retried).toBeGreaterThan(0);
  } finally {
    await store.close();
  }
}, 180_000);
