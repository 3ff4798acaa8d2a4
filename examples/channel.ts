// A custom channel's own server: takes the gateway's signed deliveries (the operators' side) and
// sends its customers' messages to the gateway's POST /channel/events, signed the same way.
// It needs only b24-im-gateway/channel, which loads nothing of the gateway itself.
import { randomUUID } from 'node:crypto';
import { createServer } from 'node:http';
import { sign, verifySignature, type ChannelPayload, type CustomerAction } from 'b24-im-gateway/channel';

const secret = process.env.CHANNEL_SECRET ?? '';
const gatewayUrl = process.env.GATEWAY_URL ?? 'http://127.0.0.1:3000';

createServer((req, res) => {
  const chunks: Buffer[] = [];
  req.on('data', (c: Buffer) => chunks.push(c));
  req.on('end', () => {
    const raw = Buffer.concat(chunks);
    if (!verifySignature(secret, req.headers, raw)) return void res.writeHead(401).end();
    const payload = JSON.parse(raw.toString('utf8')) as ChannelPayload;
    if (payload.type === 'message.created') {
      console.log(`operator in ${payload.chat.externalId}: ${payload.message.text}`);
      res.writeHead(200, { 'content-type': 'application/json' });
      return void res.end(JSON.stringify({ externalMessageIds: [`ch-${payload.id}`] }));
    }
    res.writeHead(204).end(); // 2xx for every type you do not handle
  });
}).listen(Number(process.env.PORT ?? 8080));

/** A customer wrote: one signed request; the same id on every retry of it. */
export async function customerWrites(memberId: string, chatId: string, messageId: string, text: string): Promise<void> {
  const action: CustomerAction = {
    version: 1,
    type: 'message.created',
    portal: { memberId },
    connector: { id: 'acme_chat', line: 1 },
    chat: { externalId: chatId },
    user: { externalId: 'customer-1', name: 'A customer' },
    message: { externalId: messageId, text },
  };
  const body = JSON.stringify(action);
  const id = randomUUID();
  const timestamp = Math.floor(Date.now() / 1000);
  const res = await fetch(`${gatewayUrl}/channel/events`, {
    method: 'POST',
    headers: {
      'content-type': 'application/json',
      'webhook-id': id,
      'webhook-timestamp': String(timestamp),
      'webhook-signature': sign(secret, id, timestamp, body),
    },
    body,
  });
  if (!res.ok) throw new Error(`the gateway answered ${res.status}: ${await res.text()}`);
}
