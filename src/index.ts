// The package's public API: what the README and the guides tell users to import. Anything not
// named here is internal and may change without notice. The channel's side (signing and
// verifying, the payload types) is also `b24-im-gateway/channel`, which loads no database driver.

// The gateway and its adapters (gateway.nodeHandler(), gateway.fetch, gateway.receive)
export { Gateway, defaultDbFile, type GatewayOptions, type CustomerAccepted, type CustomerOptions } from './gateway.js';
export type { IntakeResult } from './intake/intake.js';
export type { NodeHandlerOptions } from './intake/node.js';
export type { CustomerResult } from './customer/intake.js';

// The server `b24-im-gateway serve` runs
export { startServer, type RunningServer, type ServerOptions } from './server/start.js';
export type { GatewaySetup, GatewaySpec, ServerRole } from './server/setup.js';
export type { AdminOptions } from './server/admin.js';
export { consoleRoutes, type ConsoleSource } from './console/routes.js';
export type { Route } from './server/routes.js';
export type { MetricsJson } from './metrics.js';
export type { RetentionOptions } from './worker/retention.js';

// Handlers
export type { HandlerContext, BotAuth, RestClient } from './worker/context.js';
export { HandlerError, type AnyEvent, type EventFor, type Handler, type ErrorHandler } from './worker/handlers.js';

// Errors: the gateway's codes, and Bitrix24's kept apart
export { GatewayError, errorCodes, isGatewayError, type ErrorCode, type ErrorInfo } from './errors.js';
export { BitrixApiError } from './effects/bitrix/errors.js';
export { OAuthError } from './verify/oauth.js';
export { ChannelDeliveryError, type DeliveryFailure } from './effects/channel/deliver.js';

// Events as Bitrix24 sends them
export {
  chatbotsV2Codes,
  isEventCode,
  normalizeCode,
  parseEvent,
  parseFetched,
  type ChatbotsV2Code,
  type EventCode,
  type FetchedEvent,
  type EventMap,
  type KnownEvent,
  type ParsedEvent,
  type UnknownEvent,
} from './events/registry.js';
export type { EventAuth } from './events/auth.js';
export type { BotV2, ChatV2, MessageV2, UserV2 } from './events/entities-v2.js';
export { decodeForm } from './wire/form.js';
export { defaultLimits, type DecodeLimits } from './wire/limits.js';
export type { WireObject, WireValue } from './wire/types.js';

// Calling Bitrix24
export type { BitrixClients, BitrixOptions, PortalClient, RetryOptions } from './effects/bitrix/client.js';
export {
  imbotV2,
  type ImbotV2,
  type ImbotV2Options,
  type MessageFieldsV2,
  type DialogEventV2,
  type CommandEventV2,
} from './effects/bitrix/imbot-v2.js';

// The external channel
export type * from './effects/channel/types.js';
export { verifySignature, generateSecret, type HeaderSource } from './effects/channel/sign.js';

// Stores
export { SqliteStore } from './store/sqlite/store.js';
export { PgStore, type PgStoreOptions } from './store/postgres/store.js';
export type { ConnectorStateStore, ConversationEntry, CustomerMessageView } from './store/state/types.js';
export {
  FINISHED_STATUSES,
  type Store,
  type StoredEvent,
  type EventStatus,
  type FinishedStatus,
  type PortalRecord,
  type NewEvent,
  type PruneQuery,
  type CustomerActionRecord,
  type CustomerActionStatus,
  type Delivery as EventDelivery,
  type PullCursor,
  type PullKind,
  type PullTarget,
  type PullStatus,
} from './store/types.js';
export { pruneAll, type PruneLoopOptions } from './store/prune.js';

// Pulling: Chatbots 2.0 fetch mode and offline events
export { Puller, pullSchedule, type PullOptions, type PullerOptions } from './sources/pull/puller.js';

// Logging
export { createLogger, type Logger, type LoggerOption } from './log.js';

// The customer's side: actions from the channel into Bitrix24
export {
  parseCustomerAction,
  customerActionTypes,
  type CustomerAction,
  type CustomerActionType,
} from './customer/actions.js';

// Setup and the doctor
export {
  setupConnector,
  teardownConnector,
  type ConnectorSetupOptions,
  type TeardownOptions,
  type SetupReport,
  type SetupStep,
} from './setup/connector.js';
export { connectorEvents, type Delivery } from './setup/bindings.js';
export { setupBot, teardownBot, type BotSetupOptions, type BotCommand } from './setup/bot.js';
export { diagnose, type Check, type DoctorOptions } from './doctor/checks.js';
