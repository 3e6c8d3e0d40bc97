import { DEFAULT_PROJECT } from "../types/index.js";

/**
 * The project a run belongs to. Runs get a `project` column with issue 20 (migration 015);
 * until then every run is in the default project. This and `outlast.run_project` (migration
 * 016) are the only places that say so: swap both for the column when it lands.
 */
export function runProject(_run: { id: string }): string {
  return DEFAULT_PROJECT;
}
