/**
 * The AI gateway's public surface. See ARCHITECTURE.md beside this file.
 */

export { DEFAULT_PRICES, type Price } from "./accounting/pricing.js";
export type { Attribution, CallOutcome } from "./accounting/recorder.js";
export type { GatewayAnswer, GatewayCall } from "./call-types.js";
export type { GatewayConfigInput, Target, WireFormat } from "./config.js";
export { GATEWAY_ERROR_CODES, GatewayError, type GatewayErrorCode } from "./errors.js";
export {
  createGateway,
  Gateway,
  type GatewayOptions,
  type UsageQuery,
  type UsageRow,
} from "./gateway.js";
export { type CallRequest, GatewayHttp, type Reply } from "./http/call.js";
export { GATEWAY_PATHS, mountGateway } from "./http/mount.js";
export {
  type FastListener,
  type FastPathOptions,
  GATEWAY_BODY_LIMIT_BYTES,
  gatewayFastPath,
} from "./http/node.js";
export { CAP_KEY_PREFIX, type Cap, CapTable } from "./limiter/caps.js";
export { DIMENSIONS, type LimitSpec } from "./limiter/dimensions.js";
export type { BucketKey, BucketReader, BucketState } from "./limiter/store.js";
