/**
 * `outlast/client`: the typed HTTP client for applications that submit and follow runs.
 * It depends on nothing but `fetch`, so importing it loads none of the server.
 *
 * @example
 * ```ts
 * import { OutlastClient } from "outlast/client";
 * const outlast = new OutlastClient({ url: "http://127.0.0.1:7373", apiKey: process.env.OUTLAST_API_KEY });
 * const run = await outlast.submit({ agent: "hello", input: { name: "Ada" } }, { waitSeconds: 10 });
 * ```
 */
export {
  type ClientOptions,
  OutlastApiError,
  OutlastClient,
  type RunEvent,
  type RunResource,
} from "./client.js";
