import { BitrixClients, type BitrixOptions } from './effects/bitrix/client.js';
import { DeliveryStatusBatcher } from './effects/bitrix/status-batcher.js';
import { StatusSender } from './effects/bitrix/status-sender.js';
import { builtinHandler, type ChannelOptions } from './effects/builtin.js';
import { CustomerIntake, type CustomerResult } from './customer/intake.js';
import { CustomerSender, type CustomerSenderOptions } from './customer/sender.js';
import { secretKey, type HeaderSource } from './effects/channel/sign.js';
import { GatewayError } from './errors.js';
import { connectorCodes } from './events/registry.js';
import { Intake, type IntakeOptions } from './intake/intake.js';
import type { ConnectorStateStore } from './store/state/types.js';
import { HandlerRegistry, type ErrorHandler, type EventFor, type Handler } from './worker/handlers.js';
import { Retention, type RetentionOptions } from './worker/retention.js';
import { Puller, type PullOptions } from './sources/pull/puller.js';
import { Worker, type WorkerOptions } from './worker/worker.js';
import { createNodeHandler, type NodeHandlerOptions } from './intake/node.js';
import { handleFetch } from './intake/fetch.js';
import { loggerFrom, type Logger, type LoggerOption } from './log.js';
import { eventLabel } from './metric-labels.js';
import { Metrics } from './metrics.js';
import { completeStore } from './store/complete.js';
import { openStore } from './store/open.js';
import type { NewStatus, Store } from './store/types.js';

export interface GatewayOptions extends Omit<IntakeOptions, 'store' | 'logger'> {
  /** A SQLite file path, or a ready Store (every method of Store, or the Gateway refuses it). Default `./b24-im-gateway.db`. */
  db?: string | Store;
  /** Where the gateway logs: a pino logger, a level (`'warn'`), or false for nothing. Default: JSON lines on stdout at info (`B24GW_LOG_LEVEL`/`LOG_LEVEL` change it). */
  logger?: LoggerOption;
  /**
   * On PostgreSQL, how long an operation waits for the database to come back (a restart, a
   * failover) before it fails; an event arriving meanwhile is held, then committed, or answered
   * 503 with Retry-After once this has passed. Default 5 s.
   */
  storeWaitMs?: number;
  /** Node's process metrics beside the gateway's in /metrics. Default true. */
  defaultMetrics?: boolean;
  /** Report b24gw_queue_depth, which counts the store. Default true; of several gateways on one store, one is enough. */
  queueDepth?: boolean;
  /** How the worker runs handlers: concurrency, lease, retry schedule. */
  worker?: Omit<WorkerOptions, 'store' | 'handlers' | 'logger' | 'rest'>;
  /** Where connector events are delivered (signed JSON), or a function that delivers them. */
  channel?: ChannelOptions;
  /** Keep the connector state (ids, texts and history, dialogs), in the store's database. Default true. */
  state?: boolean;
  /** The application's OAuth client and the portals' REST limits. */
  bitrix?: Omit<BitrixOptions, 'store' | 'logger'>;
  /** Removes finished events older than this while the gateway runs (from `start()`). Default: kept for ever. */
  retention?: RetentionOptions;
  /**
   * The customer's side: what the channel's customers do (POST /channel/events, `fromChannel`),
   * kept and sent to Bitrix24. On whenever a channel is configured.
   */
  customers?: CustomerOptions;
  /**
   * Pull what Bitrix24 keeps for the application instead of posting it: Chatbots 2.0 bots in fetch
   * mode and the offline event queue, on every installed portal (`serve --pull`), and bots reached
   * through an incoming webhook with their botToken (`pull.webhooks`, `--pull-webhook`). Runs with the worker.
   */
  pull?: boolean | PullOptions;
}

export interface CustomerOptions {
  /** What POST /channel/events must be signed with; several during a rotation. Default: the channel's `secret`. */
  secret?: string | string[];
  /** How the customer outbox is sent: rounds, gathering, leases, the retry schedule (default: the worker's). */
  sender?: Omit<CustomerSenderOptions, 'store' | 'clients' | 'state' | 'owner' | 'logger'>;
}

/** What `fromChannel` answers: the action's id in the customer outbox, and whether an earlier one had its key. */
export interface CustomerAccepted {
  id: number;
  duplicate: boolean;
}

export const defaultDbFile = 'b24-im-gateway.db';

/**
 * The library's entry point: one store, the intake that fills it, the adapters that mount
 * the intake, and the worker that runs handlers on what was stored.
 */
export class Gateway {
  readonly store: Store;
  readonly intake: Intake;
  readonly logger: Logger;
  readonly handlers = new HandlerRegistry();
  readonly worker: Worker;
  readonly metrics: Metrics;
  readonly bitrix: BitrixClients;
  /** The connector state, when kept. */
  readonly state: ConnectorStateStore | undefined;
  /** Sends the status outbox to Bitrix24, when a channel is configured. */
  readonly statuses: StatusSender | undefined;
  /** Removes old finished events, when `retention` is set. */
  readonly retention: Retention | undefined;
  /** Takes what the channel's customers do: signed requests, or actions from this process. */
  readonly customers: CustomerIntake;
  /** Sends what the customers did to Bitrix24 (the customer outbox), when a channel (or `customers`) is configured. */
  readonly customerSender: CustomerSender | undefined;
  /** Pulls fetch-mode bots' events and the offline queue, when `pull` is set. */
  readonly puller: Puller | undefined;

  constructor(options: GatewayOptions = {}) {
    checkChannel(options);
    this.logger = loggerFrom(options.logger);
    this.store =
      typeof options.db === 'object'
        ? completeStore(options.db)
        : openStore(options.db ?? defaultDbFile, { logger: this.logger, waitMs: options.storeWaitMs });
    const metrics = (this.metrics = new Metrics(this.store, {
      defaultMetrics: options.defaultMetrics,
      queueDepth: options.queueDepth,
    }));
    this.bitrix = new BitrixClients({
      ...options.bitrix,
      store: this.store,
      logger: this.logger,
      onCall: (method, result) => {
        options.bitrix?.onCall?.(method, result);
        metrics.restCall(method, result);
      },
    });
    this.state = options.state === false ? undefined : this.store.state;
    this.retention =
      options.retention && new Retention({ ...options.retention, store: this.store, logger: this.logger });
    this.worker = new Worker({
      ...options.worker,
      store: this.store,
      handlers: this.handlers,
      logger: this.logger,
      rest: (memberId) => this.bitrix.forPortal(memberId),
      onTakenOver: (event) => {
        options.worker?.onTakenOver?.(event);
        metrics.takeovers.inc({ queue: 'events' });
      },
      onFinished: (event, outcome, ms) => {
        options.worker?.onFinished?.(event, outcome, ms);
        const code = eventLabel(event.code);
        metrics.processed.inc({ event: code, outcome });
        metrics.processing.observe({ event: code }, ms / 1000);
        if (outcome === 'done') metrics.endToEnd.observe({ event: code }, (Date.now() - event.receivedAt) / 1000);
      },
    });
    const sender = options.channel
      ? new StatusSender({
          store: this.store,
          batcher: new DeliveryStatusBatcher(this.bitrix),
          owner: this.worker.owner,
          logger: this.logger,
          schedule: options.worker?.schedule,
          now: options.worker?.now,
        })
      : undefined;
    this.statuses = sender;
    if (this.state || options.channel) {
      const statuses = sender && ((list: NewStatus[]) => this.store.enqueueStatuses(list).then(() => sender.wake()));
      const builtin = builtinHandler({ state: this.state, channel: options.channel, statuses });
      for (const code of connectorCodes) this.handlers.on(code, builtin);
    }
    this.puller = options.pull
      ? new Puller({
          ...(options.pull === true ? {} : options.pull),
          store: this.store,
          clients: this.bitrix,
          owner: this.worker.owner,
          logger: this.logger,
          onStored: (count, delivery, duplicates) => {
            if (count > 0) {
              metrics.pulled.inc({ delivery, duplicate: 'false' }, count);
              this.worker.wake();
            }
            if (duplicates > 0) metrics.pulled.inc({ delivery, duplicate: 'true' }, duplicates);
          },
        })
      : undefined;
    if (this.puller) {
      const puller = this.puller;
      // Stored events tell the puller what changed, whichever instance or thread received them.
      this.handlers.on('ONOFFLINEEVENT', (_e, ctx) => puller.wake(ctx.memberId, 'offline'));
      this.handlers.on('ONIMBOTV2DELETE', (_e, ctx) => puller.discover(ctx.memberId));
      this.handlers.on('ONAPPINSTALL', (_e, ctx) => puller.discover(ctx.memberId));
    }
    const channelSecret = options.channel && 'secret' in options.channel ? options.channel.secret : undefined;
    this.customerSender =
      options.channel || options.customers
        ? new CustomerSender({
            ...options.customers?.sender,
            schedule: options.customers?.sender?.schedule ?? options.worker?.schedule,
            now: options.customers?.sender?.now ?? options.worker?.now,
            store: this.store,
            clients: this.bitrix,
            state: this.state,
            owner: this.worker.owner,
            logger: this.logger,
          })
        : undefined;
    this.customers = new CustomerIntake({
      store: this.store,
      secret: options.customers?.secret ?? channelSecret,
      maxBodyBytes: options.limits?.maxBodyBytes,
      logger: this.logger,
      onStored: (_id, duplicate) => {
        if (!duplicate) this.customerSender?.wake();
      },
    });
    const { clientId, clientSecret, oauthServer } = options.bitrix ?? {};
    this.intake = new Intake({
      ...(clientId && clientSecret ? { oauth: { clientId, clientSecret, server: oauthServer } } : {}),
      installLiveness: (memberId) => this.bitrix.installLiveness(memberId),
      ...options,
      store: this.store,
      logger: this.logger,
      onStored: (id, code, duplicate) => {
        options.onStored?.(id, code, duplicate);
        metrics.receive(code, duplicate);
        if (!duplicate) this.worker.wake();
      },
      onRejected: (reason) => {
        options.onRejected?.(reason);
        metrics.reject(reason);
      },
    });
  }

  /** Runs `handler` for every stored event with this code (any case: `OnImConnectorMessageUpdate` too). */
  on<C extends string>(code: C, handler: Handler<EventFor<C>>): this {
    this.handlers.on(code, handler);
    return this;
  }

  onAny(handler: Handler): this {
    this.handlers.onAny(handler);
    return this;
  }

  /** Sees every failed run (all of one event's handler errors together) before it is retried. */
  onError(handler: ErrorHandler): this {
    this.handlers.onError(handler);
    return this;
  }

  /** Starts processing stored events and customer actions (and pruning old events, with `retention`). Intake works without it. */
  start(): this {
    this.worker.start();
    this.puller?.start();
    this.statuses?.start();
    this.customerSender?.start();
    this.retention?.start();
    return this;
  }

  /** Runs everything runnable now: pulls (with `pull`), events, then the delivery statuses they left, then the customer actions. For tests and scripts. */
  async drain(): Promise<void> {
    await this.puller?.drain();
    await this.worker.drain();
    await this.statuses?.drain();
    await this.customerSender?.drain();
  }

  /**
   * What a customer did in the channel (wrote, edited, deleted, read, renamed a chat), from this
   * process: validated, committed, then sent to Bitrix24 in order per chat. A new message is kept
   * once per the channel's message id; give `id` (the channel's own id of this request) to make a
   * repeat of anything else the same action too. Throws a GatewayError when the action is invalid
   * or its portal is not installed. The payloads are those of POST /channel/events.
   */
  async fromChannel(action: unknown, options: { id?: string } = {}): Promise<CustomerAccepted> {
    if (!this.customerSender)
      throw new GatewayError(
        'B24GW_CHANNEL_NOT_CONFIGURED',
        'fromChannel needs a Gateway with a channel (or the customers option)',
      );
    return this.customers.accept(action, options.id);
  }

  /** A signed POST /channel/events from the channel, for a server of your own: the raw body and its headers in, the answer out. */
  receiveFromChannel(body: Uint8Array | string, headers: HeaderSource): Promise<CustomerResult> {
    return this.customers.receive(body, headers);
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

  /** Finishes the events in flight, then closes the store. */
  async close(): Promise<void> {
    await this.retention?.stop();
    await this.puller?.stop();
    await this.worker.stop();
    await this.statuses?.stop();
    await this.customerSender?.stop();
    this.bitrix.close();
    await this.store.close();
  }
}

/** A channel's URL and secrets are checked when the Gateway is made, not at the first delivery. */
export function checkChannel(options: GatewayOptions): void {
  const channel = options.channel;
  const secrets = [
    ...(channel && 'secret' in channel ? [channel.secret] : []),
    ...[options.customers?.secret ?? []].flat(),
  ];
  for (const secret of secrets) secretKey(secret);
  if (channel && 'url' in channel) {
    const protocol = URL.canParse(channel.url) ? new URL(channel.url).protocol : undefined;
    if (protocol !== 'http:' && protocol !== 'https:')
      throw new GatewayError('B24GW_BAD_CONFIG', `the channel URL must be http(s), got "${channel.url}"`);
  }
}
