import { postBody, type SendResult } from "../outbound/send.js";
import { type RunSummary, slackMessage } from "./message.js";

/**
 * Posts a run notification to a Slack incoming webhook. The URL is the operator's (config),
 * so it skips the webhook SSRF guard.
 *
 * @example
 * ```ts
 * const res = await sendSlack("https://hooks.slack.com/services/T000/B000/XXXX", summary, 10_000);
 * ```
 */
export function sendSlack(
  webhookUrl: string,
  summary: RunSummary,
  timeoutMs: number,
): Promise<SendResult> {
  return postBody(
    webhookUrl,
    JSON.stringify(slackMessage(summary)),
    {},
    {
      timeoutMs,
      allowPrivateAddresses: true,
      trusted: true,
    },
  );
}
