import { createServer, type Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { generateSecret, sign, verifySignature } from '../../../effects/channel/sign.js';
import type { ChannelPayload } from '../../../effects/channel/types.js';

// The sample external channel: node:http in this process, verifying Standard Webhooks signatures.

export interface ChannelHit {
  payload: ChannelPayload;
  answer: { externalMessageIds?: string[] };
  /** The same webhook-id came before (a retry); answered as before, not acted on again. */
  repeat: boolean;
}

export interface DemoChannel {
  url: string;
  secret: string;
  hits: ChannelHit[];
  /** Requests whose signature did not verify (answered 401). */
  refused: number;
  onHit?: (hit: ChannelHit) => void;
  /** What a customer did, sent to the gateway's POST /channel/events signed with the channel's secret; the answer's status and body. */
  send(
    channelEventsUrl: string,
    action: object,
  ): Promise<{
    status: number;
    body: { ok?: boolean; id?: number; duplicate?: boolean; error?: { code: string; message: string } };
  }>;
  close(): Promise<void>;
}

/** A channel as its developers would write one: verify the raw body's signature, de-duplicate by id, answer fast. */
export async function startChannel(): Promise<DemoChannel> {
  const secret = generateSecret();
  const answered = new Map<string, ChannelHit['answer']>();
  let next = 1;
  let requests = 0;
  const channel: DemoChannel = {
    url: '',
    secret,
    hits: [],
    refused: 0,
    send: async (url, action) => {
      const id = `demo-${++requests}`;
      const body = JSON.stringify(action);
      const ts = Math.floor(Date.now() / 1000);
      const res = await fetch(url, {
        method: 'POST',
        headers: {
          'content-type': 'application/json',
          'webhook-id': id,
          'webhook-timestamp': String(ts),
          'webhook-signature': sign(secret, id, ts, body),
        },
        body,
      });
      return { status: res.status, body: (await res.json()) as { ok?: boolean } };
    },
    close: () => closeServer(server),
  };
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const raw = Buffer.concat(chunks);
      if (req.method !== 'POST' || !verifySignature(secret, req.headers, raw)) {
        channel.refused++;
        res.writeHead(401).end();
        return;
      }
      let payload: ChannelPayload;
      try {
        payload = JSON.parse(raw.toString('utf8')) as ChannelPayload;
      } catch {
        res.writeHead(400).end();
        return;
      }
      const seen = answered.get(payload.id);
      const answer =
        seen ??
        (payload.type === 'message.created' ? { externalMessageIds: [`ext-${String(next++).padStart(3, '0')}`] } : {});
      answered.set(payload.id, answer);
      const hit = { payload, answer, repeat: seen !== undefined };
      channel.hits.push(hit);
      channel.onHit?.(hit);
      const body = JSON.stringify(answer);
      res.writeHead(200, { 'content-type': 'application/json', 'content-length': Buffer.byteLength(body) }).end(body);
    });
  });
  channel.url = `${await listen(server)}/bitrix-webhooks`;
  return channel;
}

async function listen(server: Server): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', reject);
    server.listen(0, '127.0.0.1', () => resolve());
  });
  return `http://127.0.0.1:${(server.address() as AddressInfo).port}`;
}

function closeServer(server: Server): Promise<void> {
  return new Promise((resolve) => {
    server.close(() => resolve());
    server.closeAllConnections();
  });
}
