/** The `metrics` section of the config (src/config/schema.ts composes it). */
import { z } from "zod";

export const metricsSchema = z
  .object({
    /**
     * Values kept per unbounded label of `/metrics` (tenant, feature, rate-limit key): the
     * top N by calls or waiters; the rest are summed under `other`.
     */
    topN: z.number().int().positive().max(1000).default(20),
  })
  .prefault({});
