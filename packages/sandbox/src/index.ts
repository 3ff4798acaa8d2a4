/**
 * A fake Bitrix24 on loopback for testing Bitrix24 applications: OAuth server, REST API
 * (imconnector, imbot and imbot.v2, im.v2 events, events, batch) with real limits, and an event sender that posts
 * exactly what Bitrix24 posts. `./php` has PHP's http_build_query and parse_str alone,
 * `./cli` the command line. See README.md.
 */
export { startSandbox, Sandbox, type FaultControl, type InstallResult } from './sandbox.js';
export { SandboxError, sandboxErrorCodes, type SandboxErrorCode } from './errors.js';
export type { SandboxOptions } from './core.js';
export type {
  Portal,
  PortalInit,
  AppStatus,
  EventHandler,
  ConnectorState,
  LineState,
  BotState,
  ChatState,
  MessageState,
} from './portal.js';
export type { Faults, FaultsInput, MethodFault, MethodResult, OperationTimeFault } from './faults.js';
export { planLimits, type Plan, type BucketParams } from './limits.js';
export type { Recorder, CallRecord, DeliveryRecord, StatusRecord, TokenRecord, RecordKind } from './recorder.js';
export type { TokenPair } from './oauth.js';
export type { DeliveryResult, QueuedRecord, SendOptions } from './events/deliver.js';
export type { ChatbotAct, ChatbotOutcome } from './events/chatbots.js';
export type { BotV2Settings, BotOwner, EventMode, ChatV2, BotMessage, CommandV2 } from './chatbots.js';
export type { EventPage, QueuedEvent } from './event-queue.js';
export type { ScenarioName, ScenarioOptions, ScenarioResult, ScenarioStep, LoadStats } from './events/scenarios.js';
export type { OperatorMessageInput, OperatorMessage, BotEventKind } from './events/actions.js';
export * as payloads from './events/payloads/index.js';
export { httpBuildQuery, urlencode, phpFloat, parseStr, decodeForm } from './php/index.js';
export { startCapture, type Capture, type CapturedRequest } from './capture.js';
export { callRest, control as callControl, frozenAt, type RestReply } from './testing.js';
export { OfflineQueue, type OfflineRecord } from './offline-queue.js';
