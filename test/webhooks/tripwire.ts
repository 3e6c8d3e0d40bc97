import net from "node:net";

/**
 * A tripwire on outgoing TCP connections of this process, for tests of the SSRF guard:
 * every connection attempt to one of `hosts` is recorded and failed before it starts, so
 * a test can assert that none was attempted — and a broken guard sends nothing to
 * 10.0.0.1 or 169.254.169.254 from this machine. Other connections (the database, local
 * receivers) pass untouched. Call the returned function to remove it.
 */
export function connectionTripwire(hosts: readonly string[]): {
  attempts: string[];
  remove: () => void;
} {
  const watched = new Set(hosts.map((h) => h.replace(/^\[(.*)\]$/, "$1")));
  const attempts: string[] = [];
  const original = net.Socket.prototype.connect;
  // net.connect and http.request call socket.connect(options | [options, cb] | port, host).
  const patched = function (this: net.Socket, ...args: unknown[]): net.Socket {
    const first = Array.isArray(args[0]) ? args[0][0] : args[0];
    const host =
      typeof first === "object" && first !== null
        ? (first as { host?: string }).host
        : typeof args[1] === "string"
          ? args[1]
          : undefined;
    if (host !== undefined && watched.has(host)) {
      attempts.push(host);
      process.nextTick(() =>
        this.destroy(
          Object.assign(new Error(`test tripwire: a connection to ${host} was attempted`), {
            code: "ECONNREFUSED",
          }),
        ),
      );
      return this;
    }
    return (original as (...a: unknown[]) => net.Socket).apply(this, args);
  };
  net.Socket.prototype.connect = patched as typeof original;
  return {
    attempts,
    remove: () => {
      net.Socket.prototype.connect = original;
    },
  };
}
