/**
 * Per-key request limits of the API (`api.rateLimits`, per role, requests a minute),
 * kept in the gateway's limiter store: on PostgreSQL every API process takes from the
 * same bucket, so N processes allow the rate once, not N times. Off unless configured:
 * a role without a limit costs nothing; a limited one costs one statement a request.
 */
import { LimiterStore } from "../../gateway/limiter/store.js";
import type { Db } from "../../store/db.js";
import type { Principal, Role } from "../../types/index.js";
import type { Logger } from "../../util/log.js";

export type ApiRateLimits = Partial<Record<Role, { rpm: number }>>;

export class ApiRateLimiter {
  private readonly store: LimiterStore;
  /** The roles that have a limit (the gateway's fast path leaves their calls to Hono). */
  readonly limitedRoles: ReadonlySet<Role>;

  constructor(
    db: Db,
    private readonly limits: ApiRateLimits,
    log: Logger,
  ) {
    this.store = new LimiterStore(db, `api:${process.pid}`, 60_000, log);
    this.limitedRoles = new Set(
      (Object.keys(limits) as Role[]).filter((r) => limits[r] !== undefined),
    );
  }

  /**
   * Takes one request from the key's bucket; returns 0 when granted, else the ms to wait.
   * The bucket is the key's (the bootstrap key's is `bootstrap`), in its project.
   */
  async take(p: Principal): Promise<number> {
    const rpm = this.limits[p.role]?.rpm;
    if (rpm === undefined) return 0;
    const key = `api:${p.project}:${p.keyId ?? "bootstrap"}`;
    const r = await this.store.take(
      key,
      [rpm, null, null, null, null],
      null,
      [1, 0, 0, 0, 0],
      [0, 0, 0, 0, 0],
      0,
    );
    return r.granted ? 0 : Math.max(1, Math.ceil(r.waitMs));
  }
}
