export { Gateway, defaultDbFile, type GatewayOptions } from './gateway.js';
export { Intake, answerBody, type IntakeOptions, type IntakeResult } from './intake/intake.js';
export { createNodeHandler, type NodeHandlerOptions } from './intake/node.js';
export { handleFetch } from './intake/fetch.js';
export { startServer, type RunningServer, type ServerOptions } from './server/start.js';
export type { GatewaySetup, GatewaySpec, ServerRole } from './server/setup.js';
export type { AdminOptions } from './server/admin.js';
export type { Route } from './server/routes.js';
export type { MetricsJson } from './metrics.js';
export { pruneAll, type PruneLoopOptions } from './store/prune.js';
export type { RetentionOptions } from './worker/retention.js';
export { GatewayError, errorCodes, isGatewayError, type ErrorCode } from './errors.js';
export { decodeBody, formatOf, type BodyFormat } from './wire/decode.js';
export { decodeForm } from './wire/form.js';
export { defaultLimits, type DecodeLimits } from './wire/limits.js';
export type { WireObject, WireValue } from './wire/types.js';
export {
  chatbotsV2Codes,
  eventSchemas,
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
export {
  imbotV2,
  type ImbotV2,
  type ImbotV2Options,
  type MessageFieldsV2,
  type DialogEventV2,
  type CommandEventV2,
} from './effects/bitrix/imbot-v2.js';
export { SqliteStore } from './store/sqlite/store.js';
export type { ConnectorStateStore } from './store/state/types.js';
export {
  FINISHED_STATUSES,
  type Store,
  type StoredEvent,
  type EventStatus,
  type FinishedStatus,
  type PortalRecord,
  type NewEvent,
  type PruneQuery,
  type Delivery as EventDelivery,
  type PullCursor,
  type PullKind,
  type PullTarget,
  type PullStatus,
} from './store/types.js';
export { Puller, pullSchedule, type PullOptions, type PullerOptions } from './sources/pull/puller.js';
export { createLogger, type Logger } from './log.js';
export type { CustomerAccepted, CustomerOptions } from './gateway.js';
export {
  parseCustomerAction,
  customerActionTypes,
  type CustomerAction,
  type CustomerActionType,
} from './customer/actions.js';
export type { CustomerResult } from './customer/intake.js';
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
export type { ConversationEntry, CustomerMessageView } from './store/state/types.js';
export type { CustomerActionRecord, CustomerActionStatus } from './store/types.js';
