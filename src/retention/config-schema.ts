/** The `retention` section of the config (src/config/schema.ts composes it). */
import { z } from "zod";
import { parseDuration } from "../engine/duration.js";

const positiveInt = z.number().int().positive();

/** How long data is kept: ms, or "90s", "12h", "30d"; `false` keeps it forever. */
const keepFor = z
  .union([z.number().int().nonnegative(), z.string(), z.literal(false)])
  .transform((v, ctx): number | false => {
    if (v === false) return false;
    try {
      return parseDuration(v);
    } catch (err) {
      ctx.addIssue({ code: "custom", message: (err as Error).message });
      return z.NEVER;
    }
  });

/**
 * Retention (src/retention): what a worker process prunes in the background, in small
 * batches. Usage rollups are kept whatever `usage` says.
 */
export const retentionSchema = z
  .object({
    /** Finished runs (succeeded, failed, cancelled) with their steps, events, signals and deliveries, by finish time. */
    runs: keepFor.default(30 * 86_400_000),
    /** Events of runs still kept, by age; never one pending webhook delivery nor a run's latest. */
    events: keepFor.default(7 * 86_400_000),
    /** Raw gateway call rows (`/v1/usage` by run or step needs them); rollups stay. */
    usage: keepFor.default(30 * 86_400_000),
    /** Delivered and failed webhook deliveries with their attempt logs, by last update. */
    deliveries: keepFor.default(7 * 86_400_000),
    /** Idle threads, whole (messages, versions), by their last write; kept forever by default. */
    threads: keepFor.default(false),
    /** Pause between pruning passes. */
    intervalMs: positiveInt.default(60_000),
  })
  .strict()
  .prefault({});
