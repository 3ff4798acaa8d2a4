import { Gateway, type GatewayOptions } from '../src/gateway.js';
import { formFixture } from './fixtures.js';

/**
 * Stores these form fixtures in `db` as a gateway does, and runs them once with no retries: the
 * message update's handler throws, so that event is a dead letter.
 */
export async function storeWithDeadLetter(db: string, names: string[], o: Partial<GatewayOptions> = {}): Promise<void> {
  const gateway = new Gateway({
    db,
    appTokens: new Map([['bac1cd5c8940947a75e0d71b1a84e348', '831c76b092f9f135d9b6b36c3a720757']]),
    worker: { schedule: [] },
    ...o,
  });
  gateway.on('ONIMCONNECTORMESSAGEUPDATE', () => {
    throw new Error('channel unreachable');
  });
  for (const name of names) await gateway.receive(formFixture(name), 'application/x-www-form-urlencoded');
  await gateway.worker.drain();
  await gateway.close();
}
