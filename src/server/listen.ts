import type { Server } from 'node:http';
import type { AddressInfo } from 'node:net';
import { GatewayError } from '../errors.js';

/** Listens, and gives the URL the server answers on. A port taken or refused is B24GW_LISTEN_FAILED. */
export async function listen(server: Server, port: number, host: string): Promise<string> {
  await new Promise<void>((resolve, reject) => {
    server.once('error', (e: NodeJS.ErrnoException) =>
      reject(
        new GatewayError('B24GW_LISTEN_FAILED', `cannot listen on ${host}:${port}: ${e.code ?? e.message}`, {
          cause: e,
        }),
      ),
    );
    server.listen(port, host, () => resolve());
  });
  const { address, port: bound } = server.address() as AddressInfo;
  return `http://${address.includes(':') ? `[${address}]` : address}:${bound}`;
}

/** Stops taking connections and lets requests in flight finish. */
export const closeServer = (server: Server): Promise<void> =>
  new Promise<void>((resolve) => {
    // A connection whose request finishes from now on ends then, instead of idling for keepAliveTimeout.
    server.keepAliveTimeout = 1;
    server.close(() => resolve());
    server.closeIdleConnections();
  });
