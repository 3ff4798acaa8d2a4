import { createServer, type IncomingHttpHeaders } from 'node:http';
import type { AddressInfo } from 'node:net';
import { setTimeout as sleep } from 'node:timers/promises';

/** A request a capture server received, byte for byte. */
export interface CapturedRequest {
  method: string;
  url: string;
  headers: IncomingHttpHeaders;
  body: Buffer;
  text: string;
}

export interface CaptureReply {
  status?: number;
  body?: string;
  /** Wait this long before answering (to look slow or time out). */
  delayMs?: number;
  /** Drop the connection instead of answering. */
  reset?: boolean;
}

/** A stand-in event handler: records what arrives and answers as told. */
export interface Capture {
  /** http://127.0.0.1:PORT – append any path. */
  url: string;
  requests: CapturedRequest[];
  /** How to answer from now on: a fixed reply or one chosen per request. */
  reply(r: CaptureReply | ((req: CapturedRequest) => CaptureReply)): void;
  /** Resolves when `count` requests have arrived. */
  waitFor(count: number, timeoutMs?: number): Promise<CapturedRequest[]>;
  close(): Promise<void>;
}

/** Starts a capture server on loopback (a handler for the sandbox's events in tests and demos). */
export async function startCapture(initial: CaptureReply = {}): Promise<Capture> {
  const requests: CapturedRequest[] = [];
  let reply: CaptureReply | ((req: CapturedRequest) => CaptureReply) = initial;
  const waiters: (() => void)[] = [];
  const server = createServer((req, res) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => {
      const body = Buffer.concat(chunks);
      const captured = {
        method: req.method ?? '',
        url: req.url ?? '',
        headers: req.headers,
        body,
        text: body.toString('utf8'),
      };
      requests.push(captured);
      waiters.splice(0).forEach((w) => w());
      const r = typeof reply === 'function' ? reply(captured) : reply;
      void (async () => {
        if (r.delayMs) await sleep(r.delayMs);
        if (r.reset) {
          req.socket.destroy();
          return;
        }
        res.writeHead(r.status ?? 200, { 'Content-Type': 'text/plain' });
        res.end(r.body ?? 'OK');
      })();
    });
  });
  await new Promise<void>((resolve) => server.listen(0, '127.0.0.1', resolve));
  const { port } = server.address() as AddressInfo;
  return {
    url: `http://127.0.0.1:${port}`,
    requests,
    reply(r) {
      reply = r;
    },
    async waitFor(count, timeoutMs = 5000) {
      const end = Date.now() + timeoutMs;
      while (requests.length < count) {
        const left = end - Date.now();
        if (left <= 0) throw new Error(`Only ${requests.length} of ${count} requests arrived within ${timeoutMs} ms`);
        await Promise.race([new Promise<void>((r) => waiters.push(r)), sleep(left)]);
      }
      return requests.slice(0, count);
    },
    close: () =>
      new Promise<void>((resolve) => {
        server.close(() => resolve());
        server.closeAllConnections();
      }),
  };
}
