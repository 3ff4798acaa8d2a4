import { createServer, request, type IncomingMessage } from 'node:http';
import type { AddressInfo } from 'node:net';

/**
 * A tiny load balancer for the multi-instance scenarios: each request goes to the next backend
 * that is ready (its /readyz polled every 100 ms), and to the one after when a backend refuses the
 * connection, as a load balancer does. Anything else a backend answers is passed on as it is.
 */
export interface Balancer {
  url: string;
  /** Backend URLs by slot; undefined for a slot with nothing behind it. */
  backends: (string | undefined)[];
  /** Requests passed on to another backend after a refused connection. */
  rerouted: number;
  /** Requests no backend took (answered 502). */
  unrouted: number;
  close(): Promise<void>;
}

const readBody = (req: IncomingMessage) =>
  new Promise<Buffer>((resolve, reject) => {
    const chunks: Buffer[] = [];
    req.on('data', (c: Buffer) => chunks.push(c));
    req.on('end', () => resolve(Buffer.concat(chunks)));
    req.on('error', reject);
  });

type Forwarded = { status: number; headers: Record<string, string>; body: Buffer } | { refused: true };

function forward(backend: string, req: IncomingMessage, body: Buffer): Promise<Forwarded> {
  const target = new URL(req.url ?? '/', backend);
  return new Promise((resolve) => {
    const out = request(
      target,
      {
        method: req.method,
        agent: false,
        headers: { ...req.headers, host: target.host, 'content-length': String(body.length), connection: 'close' },
      },
      (res) => {
        void readBody(res).then(
          (b) => {
            const headers: Record<string, string> = {};
            for (const [k, v] of Object.entries(res.headers))
              if (typeof v === 'string' && k !== 'connection' && k !== 'transfer-encoding') headers[k] = v;
            resolve({ status: res.statusCode ?? 502, headers, body: b });
          },
          () => resolve({ status: 502, headers: {}, body: Buffer.from('backend reset') }),
        );
      },
    );
    out.on('error', (e: NodeJS.ErrnoException) =>
      resolve(
        e.code === 'ECONNREFUSED' ? { refused: true } : { status: 502, headers: {}, body: Buffer.from(e.message) },
      ),
    );
    out.end(body);
  });
}

export async function startBalancer(backends: (string | undefined)[] = []): Promise<Balancer> {
  const ready = new Map<string, boolean>();
  let next = 0;
  const poll = setInterval(() => {
    for (const b of lb.backends)
      if (b)
        void fetch(`${b}/readyz`, { signal: AbortSignal.timeout(500) }).then(
          (r) => ready.set(b, r.ok),
          () => ready.set(b, false),
        );
  }, 100);
  const server = createServer((req, res) => {
    void (async () => {
      const body = await readBody(req);
      const live = lb.backends.filter((b): b is string => b !== undefined);
      // Ready ones first; a backend not known ready yet is still tried once they all refused.
      const up = live.filter((b) => ready.get(b) !== false);
      const start = next++;
      const order = [...up.map((_, i) => up[(start + i) % up.length]!), ...live.filter((b) => ready.get(b) === false)];
      for (const backend of order) {
        const got = await forward(backend, req, body);
        if ('refused' in got) {
          lb.rerouted++;
          continue;
        }
        res.writeHead(got.status, got.headers).end(got.body);
        return;
      }
      lb.unrouted++;
      res.writeHead(502).end('no backend took the request');
    })();
  });
  await new Promise<void>((r) => server.listen(0, '127.0.0.1', () => r()));
  const { port } = server.address() as AddressInfo;
  const lb: Balancer = {
    url: `http://127.0.0.1:${port}`,
    backends,
    rerouted: 0,
    unrouted: 0,
    close: () =>
      new Promise<void>((r) => {
        clearInterval(poll);
        server.close(() => r());
        server.closeAllConnections();
      }),
  };
  return lb;
}
