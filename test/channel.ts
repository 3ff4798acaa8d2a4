import { randomBytes } from 'node:crypto';
import { createServer, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

export interface ChannelDelivery {
  webhookId: string;
  payload: {
    type: string;
    id: string;
    chat?: { externalId?: string };
    message?: { externalIds?: string[] };
    source: { eventId: number };
  };
}

/** A fake external channel: records every signed delivery; can be told to fail. */
export async function fakeChannel(answer: (p: ChannelDelivery['payload']) => object = () => ({})) {
  const deliveries: ChannelDelivery[] = [];
  let failing = false;
  const server = createServer((req: IncomingMessage, res) => {
    let body = '';
    req.on('data', (c: Buffer) => (body += c.toString()));
    req.on('end', () => {
      if (failing) return res.writeHead(503).end('down');
      const payload = JSON.parse(body) as ChannelDelivery['payload'];
      deliveries.push({ webhookId: String(req.headers['webhook-id']), payload });
      res.writeHead(200, { 'content-type': 'application/json' }).end(JSON.stringify(answer(payload)));
    });
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}/bitrix`,
    secret: `whsec_${randomBytes(32).toString('base64')}`,
    deliveries,
    fail: (on: boolean) => {
      failing = on;
    },
    close: () => new Promise<void>((r) => server.close(() => r())),
  };
}
