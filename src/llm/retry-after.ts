/** Moved to the gateway, which owns provider signals; re-exported for existing imports. */
export { parseGoDuration, retryAfterMs } from "../gateway/retry-after.js";
