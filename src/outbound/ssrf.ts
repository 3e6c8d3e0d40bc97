import { lookup as dnsLookup, type LookupAddress } from "node:dns";
import { BlockList, isIP } from "node:net";

/**
 * Server-side request forgery guard for webhook URLs, which anyone with an API key can set:
 * without it, a webhook could make the server POST to its own loopback services, the
 * cloud metadata endpoint (169.254.169.254) or the private network.
 *
 * The check runs inside the DNS lookup of the connection itself (http.request's `lookup`
 * option), so a name that resolves to a public address when checked and to a private one
 * when connecting (DNS rebinding) is still refused. IP literals skip DNS and are checked
 * before connecting. Redirects are never followed.
 */
const blocked = new BlockList();
for (const [net, prefix] of [
  ["0.0.0.0", 8], // "this network"
  ["10.0.0.0", 8],
  ["100.64.0.0", 10], // carrier-grade NAT
  ["127.0.0.0", 8],
  ["169.254.0.0", 16], // link-local, cloud metadata
  ["172.16.0.0", 12],
  ["192.0.0.0", 24],
  ["192.0.2.0", 24],
  ["192.168.0.0", 16],
  ["198.18.0.0", 15],
  ["198.51.100.0", 24],
  ["203.0.113.0", 24],
  ["224.0.0.0", 4], // multicast
  ["240.0.0.0", 4], // reserved, broadcast
] as const) {
  blocked.addSubnet(net, prefix, "ipv4");
}
for (const [net, prefix] of [
  ["::", 128],
  ["::1", 128],
  ["100::", 64], // discard
  ["2001:db8::", 32], // documentation
  ["fc00::", 7], // unique local
  ["fe80::", 10], // link-local
  ["fec0::", 10], // site-local (deprecated)
  ["ff00::", 8], // multicast
] as const) {
  blocked.addSubnet(net, prefix, "ipv6");
}

/** The IPv4 address inside an IPv4-mapped (::ffff:a.b.c.d) or NAT64 (64:ff9b::) address. */
function embeddedIpv4(ip: string): string | undefined {
  const m = /^(?:::ffff:|64:ff9b::)(?:0:)?([\d.]+|[0-9a-f]{1,4}:[0-9a-f]{1,4})$/i.exec(ip);
  if (!m?.[1]) return undefined;
  if (m[1].includes(".")) return m[1];
  const [hi, lo] = m[1].split(":").map((h) => Number.parseInt(h, 16)) as [number, number];
  return [hi >> 8, hi & 255, lo >> 8, lo & 255].join(".");
}

/** True for loopback, private, link-local, CGNAT, multicast, reserved and unspecified addresses. */
export function isPrivateAddress(ip: string): boolean {
  const family = isIP(ip);
  if (family === 4) return blocked.check(ip, "ipv4");
  if (family === 6) {
    const v4 = embeddedIpv4(ip.toLowerCase());
    if (v4) return isIP(v4) !== 4 || blocked.check(v4, "ipv4");
    return blocked.check(ip, "ipv6");
  }
  return true; // not an address at all: refuse
}

/**
 * Which private addresses deliveries may reach: none (`false`, the default outside
 * `outlast dev`), loopback only (`"loopback"`, dev's default: a receiver on this machine,
 * never the private network or the metadata endpoint), or all (`true`).
 */
export type PrivateAddressPolicy = boolean | "loopback";

/** 127.0.0.0/8, ::1 and their IPv4-mapped forms. */
export function isLoopbackAddress(ip: string): boolean {
  const v4 = isIP(ip) === 6 ? (embeddedIpv4(ip.toLowerCase()) ?? ip) : ip;
  if (isIP(v4) === 4) return v4.split(".")[0] === "127";
  return /^(?:0{0,4}:){7}0{0,3}1$|^::1$/i.test(ip);
}

/** Whether `policy` refuses a connection to `ip`. */
export function refusesAddress(ip: string, policy: PrivateAddressPolicy): boolean {
  if (policy === true || !isPrivateAddress(ip)) return false;
  return !(policy === "loopback" && isLoopbackAddress(ip));
}

export class RefusedAddressError extends Error {
  readonly code = "OUTLAST_WEBHOOK_REFUSED";
  constructor(host: string, address: string) {
    super(
      `${host} resolves to ${address}, a private, loopback or link-local address; set webhooks.allowPrivateAddresses to deliver there`,
    );
    this.name = "RefusedAddressError";
  }
}

type LookupCallback = (
  err: NodeJS.ErrnoException | null,
  address: string | LookupAddress[],
  family?: number,
) => void;

/** A `lookup` for http.request that refuses the private addresses `policy` does not allow. */
export function guardedLookup(policy: PrivateAddressPolicy) {
  return (
    hostname: string,
    options: { all?: boolean; family?: number | string },
    callback: LookupCallback,
  ): void => {
    dnsLookup(hostname, { ...options, all: true } as { all: true }, (err, addresses) => {
      if (err) return callback(err, []);
      const list = addresses as LookupAddress[];
      const bad = list.find((a) => refusesAddress(a.address, policy));
      if (bad) return callback(new RefusedAddressError(hostname, bad.address) as never, []);
      if (options.all) return callback(null, list);
      const first = list[0];
      if (!first)
        return callback(
          Object.assign(new Error(`no address for ${hostname}`), { code: "ENOTFOUND" }),
          [],
        );
      callback(null, first.address, first.family);
    });
  };
}

/** The host of a URL without IPv6 brackets. */
export function urlHost(url: URL): string {
  return url.hostname.replace(/^\[(.*)\]$/, "$1");
}

/**
 * Checks a URL before it is stored (an early, friendly refusal; the check that counts runs
 * at every delivery). Returns the reason it is refused, or undefined.
 */
export async function refusalReason(
  raw: string,
  policy: PrivateAddressPolicy,
): Promise<string | undefined> {
  let url: URL;
  try {
    url = new URL(raw);
  } catch {
    return "not a URL";
  }
  if (url.protocol !== "https:" && url.protocol !== "http:") return "only http and https URLs";
  if (url.username || url.password) return "credentials in the URL are not allowed";
  if (policy === true) return undefined;
  const host = urlHost(url);
  if (isIP(host)) {
    return refusesAddress(host, policy) ? new RefusedAddressError(host, host).message : undefined;
  }
  const addresses = await new Promise<LookupAddress[]>((resolve) =>
    dnsLookup(host, { all: true }, (err, list) => resolve(err ? [] : list)),
  );
  const bad = addresses.find((a) => refusesAddress(a.address, policy));
  // A name that does not resolve now may later: the delivery-time check decides then.
  return bad ? new RefusedAddressError(host, bad.address).message : undefined;
}
