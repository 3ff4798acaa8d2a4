export { BitrixClients, type BitrixOptions, type PortalClient, type RetryOptions } from './client.js';
export { MAX_BATCH_COMMANDS, type BatchCall, type BatchItem, type BatchResult } from './batch.js';
export { BitrixApiError } from './errors.js';
export { planLimits, type BucketLimits, type Plan } from './limiter.js';
export { DEFAULT_OAUTH_SERVER } from './oauth.js';
export {
  DeliveryStatusBatcher,
  DELIVERY_METHOD,
  type DeliveryStatus,
  type DeliveryStatusBatcherOptions,
} from './status-batcher.js';
export { imbotV2, type ImbotV2, type ImbotV2Options, type MessageFieldsV2 } from './imbot-v2.js';
