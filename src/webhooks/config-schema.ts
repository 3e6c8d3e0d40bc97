/**
 * Webhook and notifier settings (`webhooks`, `notifiers` in the config): owned here,
 * composed into the whole config by src/config/schema.ts.
 */
import { z } from "zod";
import { EVENT_FILTER_RE } from "../events/types.js";

const positiveInt = z.number().int().positive();

/** Events a notifier or per-run webhook gets by default: the end of a run. */
const terminalEvents = ["run.succeeded", "run.failed", "run.cancelled"];
const eventPattern = z
  .string()
  .regex(EVENT_FILTER_RE, 'expected an event type such as "run.failed", or "run.*", "step.*", "*"');

/** Webhook delivery (src/webhooks): signing, SSRF guard, retries. */
export const webhooksSchema = z
  .object({
    /**
     * Deliver to private, loopback and link-local addresses (127.0.0.1, 10/8, 169.254/16…):
     * `true` all of them, `"loopback"` only this machine's (127/8, ::1). Off by default: a
     * webhook URL is anyone's with an API key, and must not reach internal services.
     * `outlast dev`, bound to 127.0.0.1, defaults to `"loopback"` unless the config says.
     */
    allowPrivateAddresses: z.union([z.boolean(), z.literal("loopback")]).optional(),
    /** `whsec_…` secret that signs per-run webhooks without a secret of their own. Default: generated and kept in the database. */
    secret: z
      .string()
      .regex(/^whsec_[A-Za-z0-9+/]{22,}={0,2}$/, "expected whsec_ and at least 16 bytes in base64")
      .optional(),
    /** A receiver must answer within this long. */
    timeoutMs: positiveInt.default(10_000),
    /** Attempts per delivery before it is given up (then redeliver by hand). */
    maxAttempts: positiveInt.default(12),
    /** First retry delay; each next one ×3 with ±20% jitter, capped: 5 s … 2 h, ~12 h in all. */
    initialDelayMs: positiveInt.default(5_000),
    maxDelayMs: positiveInt.default(2 * 60 * 60_000),
    /** How long a claimed delivery is this process's before another may try it (a killed deliverer). */
    leaseMs: positiveInt.default(60_000),
    /** Deliveries in flight per process. */
    concurrency: positiveInt.default(16),
    /** Fallback poll for new events and due retries. */
    pollIntervalMs: positiveInt.default(1_000),
  })
  .prefault({});

/** Messages about runs to people: Slack incoming webhooks and email over SMTP. */
export const notifiersSchema = z
  .object({
    /** Base URL of links in messages, e.g. https://outlast.example.com. Default: the API's address. */
    publicUrl: z.url().optional(),
    slack: z
      .object({
        /** A Slack incoming webhook URL (https://hooks.slack.com/services/…). */
        webhookUrl: z.url(),
        events: z.array(eventPattern).min(1).default(terminalEvents),
        /** Only runs of these agents. Default: all. */
        agents: z.array(z.string()).optional(),
      })
      .optional(),
    email: z
      .object({
        host: z.string().min(1),
        port: z.number().int().min(1).max(65535).default(587),
        /** TLS from the start (port 465); otherwise STARTTLS when the server offers it. */
        secure: z.boolean().default(false),
        user: z.string().optional(),
        pass: z.string().optional(),
        from: z.string().min(3),
        to: z.array(z.string().min(3)).min(1),
        events: z.array(eventPattern).min(1).default(terminalEvents),
        agents: z.array(z.string()).optional(),
      })
      .optional(),
  })
  .prefault({});
