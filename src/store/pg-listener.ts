import pg from "pg";

interface Subscription {
  onMessage: (payload: string) => void;
  onReconnect?: (() => void) | undefined;
}

/**
 * One LISTEN connection per process, shared by every channel: a worker listens on three
 * channels (ready, cancel, the gateway's), and a connection each cost three of
 * PostgreSQL's 100 default connections per process — four workers and a benchmark ran
 * the server out ("too many clients"). On a lost connection it reconnects with backoff,
 * LISTENs again on every channel, and tells every subscriber: notifications may have
 * been missed meanwhile, so they poll once (NOTIFY is a latency hint, never the only path).
 */
export class PgListener {
  private client: pg.Client | undefined;
  private connecting: Promise<pg.Client> | undefined;
  private readonly subs = new Map<string, Set<Subscription>>();
  private retryTimer: NodeJS.Timeout | undefined;
  private closed = false;

  constructor(private readonly newClient: () => pg.Client) {}

  async subscribe(channel: string, sub: Subscription): Promise<() => Promise<void>> {
    let set = this.subs.get(channel);
    const fresh = !set;
    if (!set) {
      set = new Set();
      this.subs.set(channel, set);
    }
    set.add(sub);
    const client = await this.connection();
    if (fresh) await client.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    return async () => {
      set.delete(sub);
      if (set.size > 0 || this.subs.get(channel) !== set) return;
      this.subs.delete(channel);
      await this.client?.query(`UNLISTEN ${pg.escapeIdentifier(channel)}`).catch(() => {});
    };
  }

  private connection(): Promise<pg.Client> {
    if (this.client) return Promise.resolve(this.client);
    this.connecting ??= this.connect().finally(() => {
      this.connecting = undefined;
    });
    return this.connecting;
  }

  private async connect(): Promise<pg.Client> {
    const c = this.newClient();
    c.on("notification", (msg) => {
      for (const s of this.subs.get(msg.channel) ?? []) s.onMessage(msg.payload ?? "");
    });
    c.on("error", () => {
      if (this.client !== c) return;
      this.client = undefined;
      c.end().catch(() => {});
      this.scheduleReconnect(250);
    });
    await c.connect();
    for (const channel of this.subs.keys()) await c.query(`LISTEN ${pg.escapeIdentifier(channel)}`);
    if (this.closed) {
      await c.end().catch(() => {});
      throw new Error("listener closed");
    }
    this.client = c;
    return c;
  }

  private scheduleReconnect(delay: number): void {
    if (this.closed) return;
    this.retryTimer = setTimeout(() => {
      this.connection().then(
        () => {
          for (const set of this.subs.values()) for (const s of set) s.onReconnect?.();
        },
        () => this.scheduleReconnect(Math.min(delay * 2, 5_000)),
      );
    }, delay);
    this.retryTimer.unref();
  }

  async close(): Promise<void> {
    this.closed = true;
    if (this.retryTimer) clearTimeout(this.retryTimer);
    const c = this.client;
    this.client = undefined;
    await c?.end().catch(() => {});
  }
}
