// `b24-im-gateway/channel`: what an external channel's own server needs, without the gateway
// (no database driver is loaded): verify what the gateway sends, sign what it sends the gateway,
// and the payloads' types.
export {
  verifySignature,
  sign,
  generateSecret,
  secretKey,
  SECRET_PREFIX,
  type HeaderSource,
} from './effects/channel/sign.js';
export { PAYLOAD_VERSION } from './effects/channel/types.js';
export type * from './effects/channel/types.js';
export type { CustomerAction, CustomerActionType } from './customer/actions.js';
export { GatewayError, isGatewayError, type ErrorCode } from './errors.js';
