import { Intake, type IntakeOptions } from './intake/intake.js';
import { createNodeHandler, type NodeHandlerOptions } from './intake/node.js';
import { handleFetch } from './intake/fetch.js';
import { silentLogger, type Logger } from './log.js';
import { openStore } from './store/open.js';
import type { Store } from './store/types.js';

export interface GatewayOptions extends Omit<IntakeOptions, 'store' | 'logger'> {
  /** A SQLite file path, or a ready Store. Default `./b24-im-gateway.db`. */
  db?: string | Store;
  logger?: Logger;
}

export const defaultDbFile = 'b24-im-gateway.db';

/** The library's entry point: one store, one intake, and the adapters that mount it. */
export class Gateway {
  readonly store: Store;
  readonly intake: Intake;
  readonly logger: Logger;

  constructor(options: GatewayOptions = {}) {
    this.logger = options.logger ?? silentLogger;
    this.store = typeof options.db === 'object' ? options.db : openStore(options.db ?? defaultDbFile);
    this.intake = new Intake({ ...options, store: this.store, logger: this.logger });
  }

  /** For `http.createServer`, Express or Connect. */
  nodeHandler(options?: NodeHandlerOptions) {
    return createNodeHandler(this.intake, options);
  }

  /** For Fetch API runtimes: Hono, Next.js route handlers. */
  fetch = (request: Request): Promise<Response> => handleFetch(this.intake, request);

  /** Raw body plus content type in, answer out: for any other framework. */
  receive(body: Uint8Array | string, contentType?: string) {
    return this.intake.receive(body, contentType);
  }

  async close(): Promise<void> {
    await this.store.close();
  }
}
