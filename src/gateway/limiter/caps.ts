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
 *
 * Projects partition the buckets: a feature's or tenant's cap is configured once for the
 * deployment and counted per project — tenant "acme" of project A does not draw from
 * tenant "acme" of project B. The default project's keys are `cap|<scope>|<name>` (as
 * before projects); another project's feature and tenant keys are
 * `cap|@<project>|<scope>|<name>`. A project's own cap is keyed by its name alone.
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
  /** The project whose calls draw from it (a project cap's is its name). */
  project: string;
  /** How messages, `/v1/quota` and a throttled run's `waiting_for` name it: `tenant "acme"`. */
  label: string;
  /** The limiter key: `cap|<scope>|<name>`, apart from providers' `provider|model|key`. */
  key: string;
  spec: LimitSpec;
}

/** Every cap's limiter key starts so; providers' keys never do. */
export const CAP_KEY_PREFIX = "cap|";

/** The project whose calls go unnamed (in-process callers, the bootstrap key). */
const DEFAULT_PROJECT = "default";

/** Where another project's feature and tenant buckets are kept: `cap|@<project>|`. */
function projectPrefix(project: string): string {
  return `${CAP_KEY_PREFIX}@${project}|`;
}

function cap(scope: CapScope, name: string, spec: LimitSpec, project: string): Cap {
  const own = scope === "project" ? name : project;
  return {
    scope,
    name,
    project: own,
    label: `${scope} "${name}"`,
    key:
      scope === "project" || own === DEFAULT_PROJECT
        ? `${CAP_KEY_PREFIX}${scope}|${name}`
        : `${projectPrefix(own)}${scope}|${name}`,
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

  /**
   * The caps a call with this attribution is held to, in acquiring order. Without a
   * project, the call is the default project's.
   */
  for(attribution: Partial<Record<CapScope, string | undefined>>): Cap[] {
    const project = attribution.project ?? DEFAULT_PROJECT;
    const out: Cap[] = [];
    for (const scope of SCOPES) {
      const name = attribution[scope];
      const spec = name === undefined ? undefined : this.specOf(scope, name);
      if (name !== undefined && spec) out.push(cap(scope, name, spec, project));
    }
    return out;
  }

  /**
   * The caps `project` is held to that can be named without seeing a call: its own
   * project cap (by name or `"*"`), and every feature and tenant cap configured by name.
   */
  named(project: string = DEFAULT_PROJECT): Cap[] {
    const out: Cap[] = [];
    const own = this.specOf("project", project);
    if (own) out.push(cap("project", project, own, project));
    for (const [scope, specs] of this.byScope) {
      if (scope === "project") continue;
      for (const [name, spec] of specs) if (name !== "*") out.push(cap(scope, name, spec, project));
    }
    return out;
  }

  /** Where the buckets of `project`'s feature and tenant caps are kept (a key prefix). */
  static keyPrefix(project: string): string {
    return project === DEFAULT_PROJECT ? CAP_KEY_PREFIX : projectPrefix(project);
  }

  /** The cap a stored limiter key belongs to, if it is one that is still configured. */
  fromKey(key: string): Cap | undefined {
    if (!key.startsWith(CAP_KEY_PREFIX)) return undefined;
    let rest = key.slice(CAP_KEY_PREFIX.length);
    let project = DEFAULT_PROJECT;
    if (rest.startsWith("@")) {
      const end = rest.indexOf("|");
      if (end < 0) return undefined;
      project = rest.slice(1, end);
      rest = rest.slice(end + 1);
    }
    const bar = rest.indexOf("|");
    const scope = rest.slice(0, bar) as CapScope;
    const name = rest.slice(bar + 1);
    const spec = bar > 0 && SCOPES.includes(scope) ? this.specOf(scope, name) : undefined;
    return spec ? cap(scope, name, spec, project) : undefined;
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
