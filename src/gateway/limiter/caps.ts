/**
 * Outlast's own caps by project, feature and tenant (`gateway.caps`), on top of what the
 * providers enforce. Each capped name is one more limiter key in the shared store, so
 * every process draws from the same bucket, exactly as for a provider's limits.
 *
 * A call reserves from every cap that applies to it once, before any target is tried
 * (a cache hit takes nothing), and waits for them like for a provider's quota. It is
 * charged at the end what the providers billed across all its attempts:
 *
 *   acquire every cap (project → feature → tenant; a refusal gives back what was taken)
 *     └─▶ attempts: each target permit is wrapped, and what it is released with is summed
 *           └─▶ call over (answered, failed or thrown) and every attempt released
 *                 └─▶ each cap released with the sum (or kept charged when an attempt's
 *                     billing is unknown: a timeout)
 */
import type { GatewaySettings } from "../config.js";
import { add, isUnlimited, type LimitSpec, specOf, type Vec, zero } from "./dimensions.js";
import type { Permit } from "./key-limiter.js";
import { QuotaUnavailable } from "./key-limiter.js";
import type { Limiter } from "./limiter.js";

export type CapScope = "project" | "feature" | "tenant";

/** In the order a call acquires them: the same everywhere, so no two calls deadlock. */
const SCOPES: readonly CapScope[] = ["project", "feature", "tenant"];

export interface Cap {
  scope: CapScope;
  name: string;
  /** How messages, `/v1/quota` and a throttled run's `waiting_for` name it: `tenant "acme"`. */
  label: string;
  /** The limiter key: `cap|<scope>|<name>`, apart from providers' `provider|model|key`. */
  key: string;
  spec: LimitSpec;
}

/** Every cap's limiter key starts so; providers' keys never do. */
export const CAP_KEY_PREFIX = "cap|";

function cap(scope: CapScope, name: string, spec: LimitSpec): Cap {
  return {
    scope,
    name,
    label: `${scope} "${name}"`,
    key: `${CAP_KEY_PREFIX}${scope}|${name}`,
    spec,
  };
}

/** A cap refused a call: over its limit until the deadline, or the call alone exceeds it. */
export class CapUnavailable extends Error {
  constructor(
    readonly cap: Cap,
    readonly quota: QuotaUnavailable,
  ) {
    super(
      quota.tooLarge
        ? `the request alone exceeds the ${quota.blocked.slice(10)} cap of ${cap.label}`
        : `${cap.label} is over its ${quota.blocked} cap for ~${Math.ceil(quota.retryAfterMs)} ms`,
    );
    this.name = "CapUnavailable";
  }
}

/** The configured caps, looked up per call by its attribution. */
export class CapTable {
  private readonly byScope = new Map<CapScope, Map<string, LimitSpec>>();

  constructor(caps: GatewaySettings["caps"]) {
    for (const scope of SCOPES) {
      const specs = new Map<string, LimitSpec>();
      for (const [name, limits] of Object.entries(caps[scope])) {
        const spec = specOf(limits);
        if (!isUnlimited(spec)) specs.set(name, spec);
      }
      if (specs.size > 0) this.byScope.set(scope, specs);
    }
  }

  get empty(): boolean {
    return this.byScope.size === 0;
  }

  /** The caps a call with this attribution is held to, in acquiring order. */
  for(attribution: Partial<Record<CapScope, string | undefined>>): Cap[] {
    const out: Cap[] = [];
    for (const scope of SCOPES) {
      const name = attribution[scope];
      const spec = name === undefined ? undefined : this.specOf(scope, name);
      if (name !== undefined && spec) out.push(cap(scope, name, spec));
    }
    return out;
  }

  /** Every cap configured by name (not `"*"`), used or not. */
  named(): Cap[] {
    const out: Cap[] = [];
    for (const [scope, specs] of this.byScope) {
      for (const [name, spec] of specs) if (name !== "*") out.push(cap(scope, name, spec));
    }
    return out;
  }

  /** The cap a stored limiter key belongs to, if it is one that is still configured. */
  fromKey(key: string): Cap | undefined {
    if (!key.startsWith(CAP_KEY_PREFIX)) return undefined;
    const rest = key.slice(CAP_KEY_PREFIX.length);
    const bar = rest.indexOf("|");
    const scope = rest.slice(0, bar) as CapScope;
    const name = rest.slice(bar + 1);
    const spec = bar > 0 && SCOPES.includes(scope) ? this.specOf(scope, name) : undefined;
    return spec ? cap(scope, name, spec) : undefined;
  }

  private specOf(scope: CapScope, name: string): LimitSpec | undefined {
    const specs = this.byScope.get(scope);
    return specs?.get(name) ?? specs?.get("*");
  }
}

/** The caps one call holds, released with what its attempts were billed. */
export class CapHold {
  private billed: Vec = zero();
  private unknown = false;
  private open = 0;
  private ended = false;
  private settled = false;

  private constructor(private readonly permits: Permit[]) {}

  /**
   * Reserves `need` from every cap, waiting until `deadline` (epoch ms). Throws
   * CapUnavailable, having given back what it took, when one cannot be had in time.
   */
  static async acquire(
    limiter: Limiter,
    caps: Cap[],
    need: Vec,
    deadline: number,
    signal: AbortSignal,
  ): Promise<CapHold> {
    const permits: Permit[] = [];
    try {
      for (const cap of caps) {
        try {
          permits.push(await limiter.key(cap.key, cap.spec).acquire(need, deadline, signal));
        } catch (err) {
          throw err instanceof QuotaUnavailable ? new CapUnavailable(cap, err) : err;
        }
      }
    } catch (err) {
      for (const p of permits) p.release(zero());
      throw err;
    }
    return new CapHold(permits);
  }

  /** A target permit whose release is also counted against the caps. */
  wrap(permit: Permit): Permit {
    this.open++;
    let released = false;
    return {
      key: permit.key,
      reserved: permit.reserved,
      release: (actual) => {
        permit.release(actual);
        if (released) return;
        released = true;
        if (actual === null) this.unknown = true;
        else this.billed = add(this.billed, actual);
        this.open--;
        this.settle();
      },
    };
  }

  /** No attempt follows; the caps are released once every attempt has been. */
  end(): void {
    this.ended = true;
    this.settle();
  }

  private settle(): void {
    if (this.settled || !this.ended || this.open > 0) return;
    this.settled = true;
    for (const p of this.permits) p.release(this.unknown ? null : this.billed);
  }
}
