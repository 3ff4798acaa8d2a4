import type { ResourceLimits } from 'node:worker_threads';
import type { Logger } from '../log.js';
import { GatewayThread, type ThreadData } from './gateway-thread.js';

/**
 * The gateway's worker on a thread of its own: handlers, state and calls to Bitrix24 never take
 * the event loop that answers Bitrix24, and the worker's database waits block only its own thread.
 */
export class WorkerThread extends GatewayThread<'wake' | 'wake-customers'> {
  private wakeQueued = false;
  private customersQueued = false;

  constructor(
    data: Omit<ThreadData, 'role'>,
    logger: Logger,
    onExit: (code: number) => void,
    resourceLimits?: ResourceLimits,
  ) {
    super({ ...data, role: 'worker' }, logger, onExit, resourceLimits);
  }

  /** New events are stored: one message per turn of the event loop, however many arrived. */
  wake(): void {
    if (this.wakeQueued) return;
    this.wakeQueued = true;
    setImmediate(() => {
      this.wakeQueued = false;
      this.post('wake');
    });
  }

  /** The channel sent customer actions: the customer sender looks for them, once per turn of the event loop. */
  wakeCustomers(): void {
    if (this.customersQueued) return;
    this.customersQueued = true;
    setImmediate(() => {
      this.customersQueued = false;
      this.post('wake-customers');
    });
  }
}
