import type { Db } from "../store/db.js";
import type { Repo } from "../store/repo.js";
import { isTerminalStatus } from "../types/index.js";

/**
 * Lets API requests wait for runs to finish (`POST /v1/runs?wait=N`). Finishing workers
 * NOTIFY `outlast_done` with the ids of a batch; a one-second poll of the waited ids
 * covers notifications lost while the listening connection was down (NOTIFY is a latency
 * hint, never the only path).
 */
export class RunWaiter {
  private readonly waiting = new Map<string, Set<() => void>>();
  private unlisten: (() => Promise<void>) | undefined;
  private poller: NodeJS.Timeout | undefined;

  constructor(
    private readonly db: Db,
    private readonly repo: Repo,
  ) {}

  async start(): Promise<void> {
    this.unlisten = await this.db.listen(
      "outlast_done",
      (payload) => {
        for (const id of payload.split(",")) this.fire(id);
      },
      () => void this.poll(),
    );
    this.poller = setInterval(() => void this.poll(), 1_000);
    this.poller.unref();
  }

  private fire(id: string): void {
    const ws = this.waiting.get(id);
    if (!ws) return;
    this.waiting.delete(id);
    for (const w of ws) w();
  }

  private async poll(): Promise<void> {
    if (this.waiting.size === 0) return;
    try {
      const rows = await this.repo.getStatuses([...this.waiting.keys()]);
      for (const r of rows) if (isTerminalStatus(r.status)) this.fire(r.id);
    } catch {
      // Database away: the next tick tries again.
    }
  }

  /** Resolves true when the run reached a final state, false on timeout. */
  async wait(id: string, timeoutMs: number): Promise<boolean> {
    let resolve!: (done: boolean) => void;
    const p = new Promise<boolean>((r) => {
      resolve = r;
    });
    const done = (): void => resolve(true);
    let set = this.waiting.get(id);
    if (!set) {
      set = new Set();
      this.waiting.set(id, set);
    }
    set.add(done);
    const timer = setTimeout(() => resolve(false), timeoutMs);
    // The run may have finished between the caller's read and our registration.
    const row = await this.repo.getRun(id);
    if (row && isTerminalStatus(row.status)) resolve(true);
    const result = await p;
    clearTimeout(timer);
    this.waiting.get(id)?.delete(done);
    if (this.waiting.get(id)?.size === 0) this.waiting.delete(id);
    return result;
  }

  async stop(): Promise<void> {
    if (this.poller) clearInterval(this.poller);
    await this.unlisten?.();
  }
}
