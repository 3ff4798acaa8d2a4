export { convertBbcode } from './bbcode.js';
export {
  ChannelDeliveryError,
  deliverToChannel,
  parseRetryAfter,
  type ChannelTarget,
  type Delivered,
  type DeliveryFailure,
} from './deliver.js';
export { channelPayloads, deliveryId, type PayloadMeta } from './payload.js';
export { generateSecret, secretKey, sign, verifySignature, SECRET_PREFIX, type HeaderSource } from './sign.js';
export * from './types.js';
