import type { ResourceLimits } from 'node:worker_threads';
import { AggregatorRegistry } from 'prom-client';
import { GatewayError } from '../errors.js';
import { checkChannel, Gateway } from '../gateway.js';
import { loggerFrom, type Logger } from '../log.js';
import { checkAdminOptions, listenAdmin, type AdminOptions } from './admin.js';
import { listenPublic, type Listener } from './public.js';
import type { Served } from './routes.js';
import { buildGateway, optionsFor, serverRoles, setupUrl, type GatewaySpec, type ServerRole } from './setup.js';
import { WorkerThread } from './worker-thread.js';

export interface ServerOptions {
  /** Address of the public listener. Default 127.0.0.1. */
  host?: string;
  /** Port of the public listener; 0 picks a free one. Default 3000. */
  port?: number;
  /** Path that takes events. Default `/events`. */
  path?: string;
  /** Path that takes the channel's customer actions. Default `/channel/events`. */
  channelPath?: string;
  /**
   * `all` (default): the intake and the worker; `intake`: POST /events only; `worker`: processing
   * only (the public listener then answers health alone). With a GatewaySpec and `all`, the worker
   * runs on a thread of its own and the intake on this one.
   */
  role?: ServerRole;
  /** The admin listener (/metrics, /healthz, /readyz and your routes), apart from the public one. Without it, no metrics are served. */
  admin?: AdminOptions;
  /**
   * The worker thread stopped by itself (a crash): the server cannot go on as it was. Default: log
   * it and close the server (readiness fails, the sockets close). `serve` exits instead, so that a
   * supervisor restarts the whole gateway.
   */
  onThreadExit?: (role: 'intake' | 'worker', exitCode: number) => void;
  /**
   * The worker thread's heap limits (Node's `ResourceLimits`). Default: a young generation of
   * 12 MB, so that a busy thread's short-lived garbage is collected before it takes memory (V8
   * lets it grow to about three times that); the old generation is V8's to size.
   */
  workerLimits?: ResourceLimits;
  /**
   * On close, how long /readyz answers 503 while events are still taken, before the listeners
   * close: a load balancer that polls readiness stops sending here first. Default 0.
   */
  drainDelayMs?: number;
}

export interface RunningServer {
  /** The public listener: POST `{url}/events`, `/healthz`, `/readyz`. */
  url: string;
  /** The admin listener, when `admin` was given. */
  adminUrl: string | undefined;
  /** The gateway on this thread: the one given, or the one built for the role (the intake's with role `all`: the worker then runs on a thread). */
  gateway: Gateway | undefined;
  /**
   * Stops: readiness goes false at once; after `drainDelayMs` the listeners stop taking
   * connections (a load balancer then sends elsewhere) and finish the requests they took, then the
   * intake stops and the worker finishes what it holds (handlers get their grace period). The
   * gateway is closed with it.
   */
  close(): Promise<void>;
}

/** The gateway behind the listeners, on this thread or on threads of its own. */
interface Parts {
  served: Served;
  gateway: Gateway | undefined;
  /** Starts processing, once the listeners are up. */
  start(): void;
  stop(): Promise<void>;
}

/**
 * Serves a gateway as `b24-im-gateway serve` does: the public listener (POST /events, /healthz,
 * /readyz), the admin listener when asked (/metrics of every thread merged, behind its token
 * rules), the role's parts, and a graceful `close()`.
 *
 * Give a Gateway you built, and everything runs on this thread. Give a GatewaySpec (plain
 * options and your setup module), and the gateway is built where it runs: with role `all`, the
 * worker on a thread of its own and the intake on this one, each building its Gateway through the
 * setup module: handlers, the channel and the worker's database waits never hold up an answer.
 */
export async function startServer(gateway: Gateway | GatewaySpec, options: ServerOptions = {}): Promise<RunningServer> {
  const role = options.role ?? 'all';
  if (!serverRoles.includes(role))
    throw new GatewayError('B24GW_BAD_CONFIG', `role must be one of ${serverRoles.join(', ')}, got "${String(role)}"`);
  // Before anything is opened: an admin listener others could reach without a token is refused.
  if (options.admin) await checkAdminOptions(options.admin);
  const logger = gateway instanceof Gateway ? gateway.logger : loggerFrom(gateway.logger);
  let closing = false;
  /** Readiness is false from the start of close(); events are refused only once `closing`. */
  let draining = false;
  /** The server's close(), once it listens. */
  const self: { close?: () => Promise<void> } = {};
  const onThreadExit =
    options.onThreadExit ??
    ((thread: 'intake' | 'worker', code: number) => {
      logger.fatal({ code }, `the ${thread} thread stopped; closing the server`);
      void self.close?.();
    });
  const parts =
    gateway instanceof Gateway
      ? onThisThread(gateway, role)
      : await fromSpec(gateway, role, logger, onThreadExit, options.workerLimits);
  const listeners: Listener[] = [];
  try {
    const isClosing = () => closing;
    const isDraining = () => draining || closing;
    listeners.push(
      await listenPublic(
        { ...parts.served, ready: () => (isDraining() ? Promise.resolve(false) : parts.served.ready()) },
        {
          host: options.host ?? '127.0.0.1',
          port: options.port ?? 3000,
          path: options.path ?? '/events',
          channelPath: options.channelPath ?? '/channel/events',
        },
        isClosing,
      ),
    );
    if (options.admin)
      listeners.unshift(
        await listenAdmin(
          { ...parts.served, ready: () => (isDraining() ? Promise.resolve(false) : parts.served.ready()) },
          options.admin,
          isClosing,
        ),
      );
  } catch (e) {
    closing = true;
    await Promise.all(listeners.map((l) => l.close()));
    // A gateway given stays its owner's; one built here is stopped.
    if (!(gateway instanceof Gateway)) await parts.stop();
    throw e;
  }
  // Processing starts only once both listeners are up: a server that cannot listen has begun no work.
  parts.start();
  let closed: Promise<void> | undefined;
  self.close = () =>
    (closed ??= (async () => {
      draining = true;
      logger.info({ drainDelayMs: options.drainDelayMs ?? 0 }, 'not ready: draining before the listeners close');
      if (options.drainDelayMs) await new Promise((r) => setTimeout(r, options.drainDelayMs));
      closing = true;
      // Both listeners stop taking connections at once (a refused connection goes to another
      // instance) and finish the requests they took; then the intake stops before the worker.
      await Promise.all(listeners.map((l) => l.close()));
      await parts.stop();
    })());
  return {
    url: listeners.at(-1)!.url,
    adminUrl: options.admin ? listeners[0]!.url : undefined,
    gateway: parts.gateway,
    close: self.close,
  };
}

/** A Gateway on this thread: it receives, processes, or both. */
function onThisThread(gateway: Gateway, role: ServerRole): Parts {
  return {
    served: {
      receiver: role === 'worker' ? undefined : gateway.intake,
      customers: role === 'worker' ? undefined : gateway.customers,
      ready: () => gateway.store.ping(),
      metrics: async () => ({
        text: await gateway.metrics.registry.metrics(),
        contentType: gateway.metrics.registry.contentType,
      }),
      logger: gateway.logger,
    },
    gateway,
    start: () => void (role !== 'intake' && gateway.start()),
    stop: () => gateway.close(),
  };
}

/** Builds the gateway from its spec: on this thread for one role; for both, the worker on a thread. */
async function fromSpec(
  spec: GatewaySpec,
  role: ServerRole,
  logger: Logger,
  onThreadExit: (role: 'intake' | 'worker', code: number) => void,
  limits: ResourceLimits = { maxYoungGenerationSizeMb: 12 },
): Promise<Parts> {
  const { setup, logger: _logger, ...options } = spec;
  checkChannel(options); // here, before any thread is started
  const url = setup === undefined ? undefined : setupUrl(setup);
  if (role === 'intake' && options.retention)
    throw new GatewayError(
      'B24GW_BAD_CONFIG',
      'retention runs with the worker: give it to a server with role all or worker',
    );
  if (role !== 'all')
    return onThisThread(await buildGateway(url, optionsFor(role, { ...options, logger }), role), role);

  // The worker on a thread of its own, so handlers and its database waits never hold up the answers;
  // the intake here, beside the sockets (its commits are the SQLite writer thread's or the server's).
  const worker = new WorkerThread(
    { setup: url, logLevel: logger.level, gateway: options },
    logger,
    (code) => onThreadExit('worker', code),
    limits,
  );
  let intake: Gateway;
  try {
    await worker.ready;
    // The queue is counted once, by the worker thread.
    intake = await buildGateway(url, optionsFor('intake', { ...options, logger, queueDepth: false }), 'intake');
  } catch (e) {
    await worker.stop();
    throw e;
  }
  const own = onThisThread(intake, 'intake').served;
  return {
    served: {
      ...own,
      // What is stored wakes the worker thread: its store on the same file or database hears nothing of
      // this one's. Here, not through onStored, which a setup module may set for itself.
      receiver: {
        limits: intake.intake.limits,
        receive: (body, type) => intake.receive(body, type ?? undefined).then((r) => woke(r, () => worker.wake())),
      },
      customers: {
        receive: (body, headers) =>
          intake.customers.receive(body, headers).then((r) => woke(r, () => worker.wakeCustomers())),
      },
      metrics: async () => {
        const all = await Promise.all([intake.metrics.registry.getMetricsAsJSON(), worker.metrics()]);
        const merged = AggregatorRegistry.aggregate(all);
        return { text: await merged.metrics(), contentType: merged.contentType };
      },
    },
    gateway: intake,
    start: () => worker.start(),
    stop: async () => {
      await intake.close();
      await worker.stop();
    },
  };
}

/** Passes an answer on, after `wake` when it stored something new. */
function woke<R extends { status: number }>(r: R, wake: () => void): R {
  if (r.status === 200 && 'duplicate' in r && r.duplicate === false) wake();
  return r;
}
