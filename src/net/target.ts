/**
 * @module target: the address of one configured backend, and its parsing.
 * Pure: no sockets here.
 */

/** An endpoint written `host:port` or `[v6]:port`. `address` is the canonical spelling used as its key. */
export interface Endpoint {
  host: string;
  port: number;
  address: string;
  /** the configured host-name endpoint this address was resolved from (src/upstream/discovery.ts). */
  origin?: string;
  /** a target's share against the app's others (1-1000; 1 when unset). */
  weight?: number;
  /** the most open connections this target takes; 0 or unset: no limit. */
  maxConnections?: number;
}

const HOSTNAME = /^(?=.{1,253}$)[A-Za-z0-9_]([A-Za-z0-9_-]{0,62})(\.[A-Za-z0-9_]([A-Za-z0-9_-]{0,62}))*\.?$/;

const HEX_GROUP = /^[0-9A-Fa-f]{1,4}$/;
const DOTTED_QUAD = /^((25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)\.){3}(25[0-5]|2[0-4]\d|1\d\d|[1-9]?\d)$/;

/** isIPv4 checks a dotted quad: four decimal octets 0-255, no leading zeros. */
export function isIPv4(text: string): boolean {
  return DOTTED_QUAD.test(text);
}

/**
 * isIPv6 checks an IPv6 literal (RFC 4291 text forms, an embedded IPv4 tail
 * allowed). Written here rather than imported from node:net, which costs the
 * binary about 10 ms and 8 MB RSS at start-up.
 */
export function isIPv6(text: string): boolean {
  const halves = text.split("::");
  if (halves.length > 2) return false;
  const groups = (part: string, tailOk: boolean): number => {
    if (part === "") return 0;
    let n = 0;
    const items = part.split(":");
    for (let i = 0; i < items.length; i++) {
      const g = items[i]!;
      if (HEX_GROUP.test(g)) n += 1;
      else if (tailOk && i === items.length - 1 && DOTTED_QUAD.test(g)) n += 2;
      else return -Infinity;
    }
    return n;
  };
  if (halves.length === 1) return groups(text, true) === 8;
  const total = groups(halves[0]!, false) + groups(halves[1]!, true);
  return total >= 0 && total <= 7;
}

/** isPort is true for an integer in 1–65535. */
export function isPort(n: unknown): n is number {
  return typeof n === "number" && Number.isInteger(n) && n >= 1 && n <= 65535;
}

/**
 * parseEndpoint reads `host:port` or `[v6]:port`.
 * It returns the reason as a string when the text is not a valid endpoint, so
 * callers can attach their own key path.
 */
export function parseEndpoint(text: string): Endpoint | string {
  const bad = `${JSON.stringify(text)} is not host:port`;
  let host: string;
  let portText: string;
  if (text.startsWith("[")) {
    const close = text.indexOf("]");
    if (close < 0 || text[close + 1] !== ":") return bad;
    host = text.slice(1, close);
    portText = text.slice(close + 2);
    if (!isIPv6(host.replace(/%[A-Za-z0-9_.-]+$/, ""))) return `${JSON.stringify(text)} has an invalid IPv6 address`;
  } else {
    const colon = text.lastIndexOf(":");
    if (colon <= 0) return bad;
    host = text.slice(0, colon);
    portText = text.slice(colon + 1);
    if (host.includes(":")) return `${JSON.stringify(text)}: write an IPv6 address as [addr]:port`;
    if (!HOSTNAME.test(host)) return `${JSON.stringify(text)} has an invalid host name`;
  }
  if (!/^\d{1,5}$/.test(portText)) return bad;
  const port = Number(portText);
  if (!isPort(port)) return `${JSON.stringify(text)}: port must be 1-65535`;
  return { host, port, address: formatEndpoint(host, port) };
}

/** formatEndpoint is the inverse of parseEndpoint: brackets only around IPv6 hosts. */
export function formatEndpoint(host: string, port: number): string {
  return host.includes(":") ? `[${host}]:${port}` : `${host}:${port}`;
}
