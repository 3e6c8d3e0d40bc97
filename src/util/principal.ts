import type { Context } from "hono";
import { DEFAULT_PRINCIPAL, type Principal } from "../types/index.js";

/**
 * The caller of a request, as the auth middleware resolved it from its credential. Every
 * route that reads or writes scoped data takes the project from here, never from the
 * request. Without auth configured (`outlast dev` with no key), the caller is the default
 * project's admin.
 */
export function principalOf(c: Context): Principal {
  return (c.get("principal" as never) as Principal | undefined) ?? DEFAULT_PRINCIPAL;
}

/** Sets the caller; only the auth middleware calls it. */
export function setPrincipal(c: Context, p: Principal): void {
  c.set("principal" as never, p as never);
}
