/**
 * @module acl: allow and deny lists of CIDR blocks, decided per client
 * address at accept, before any dial. Pure.
 *
 * IPv4 blocks are kept as two 32-bit numbers (network, mask) and IPv6 blocks
 * as two bigints, so a check is a handful of integer operations per block;
 * an IPv4-mapped IPv6 client (`::ffff:127.0.0.2`, what a dual-stack listener
 * reports) is matched as the IPv4 address it carries.
 */
import { isIPv4, isIPv6 } from "./target.ts";


export type Cidr = { v: 4; net: number; mask: number; text: string } | { v: 6; net: bigint; mask: bigint; text: string };

/** ipv4 reads a dotted quad into an unsigned 32-bit number, or undefined. */
export function ipv4(text: string): number | undefined {
  if (!isIPv4(text)) return undefined;
  let n = 0;
  for (const part of text.split(".")) n = n * 256 + Number(part);
  return n;
}

/** ipv6 reads an IPv6 literal (no zone) into a 128-bit bigint, or undefined. */
export function ipv6(text: string): bigint | undefined {
  if (!isIPv6(text)) return undefined;
  // An embedded IPv4 tail ("::ffff:1.2.3.4") becomes its two hex groups.
  const lastColon = text.lastIndexOf(":");
  const v4 = ipv4(text.slice(lastColon + 1));
  const body = v4 === undefined ? text : `${text.slice(0, lastColon + 1)}${(v4 >>> 16).toString(16)}:${(v4 & 0xffff).toString(16)}`;
  const [head, rest] = body.split("::") as [string, string | undefined];
  const groups = (s: string | undefined) => (s === undefined || s === "" ? [] : s.split(":").map((g) => parseInt(g, 16)));
  const h = groups(head);
  const r = groups(rest);
  const all = rest === undefined ? h : [...h, ...Array<number>(8 - h.length - r.length).fill(0), ...r];
  if (all.length !== 8) return undefined;
  let n = 0n;
  for (const g of all) n = (n << 16n) | BigInt(g);
  return n;
}

/**
 * parseCidr reads `addr/len` or a bare address (a /32 or /128). It returns
 * the reason as a string when the text is not a block, for the config's
 * key-path messages. Host bits set below the prefix are an error: "10.0.0.1/8"
 * is more likely a typo than a wish to allow 10.0.0.0/8.
 */
export function parseCidr(text: string): Cidr | string {
  const slash = text.indexOf("/");
  const addr = slash === -1 ? text : text.slice(0, slash);
  const lenText = slash === -1 ? undefined : text.slice(slash + 1);
  const v4 = ipv4(addr);
  const v6 = v4 === undefined ? ipv6(addr) : undefined;
  if (v4 === undefined && v6 === undefined) return `${JSON.stringify(text)} is not an IP address or CIDR block`;
  const max = v4 !== undefined ? 32 : 128;
  const len = lenText === undefined ? max : /^\d{1,3}$/.test(lenText) ? Number(lenText) : NaN;
  if (!(len >= 0 && len <= max)) return `${JSON.stringify(text)}: prefix length must be 0-${max}`;
  if (v4 !== undefined) {
    const mask = len === 0 ? 0 : (0xffffffff << (32 - len)) >>> 0;
    if (((v4 & ~mask) >>> 0) !== 0) return `${JSON.stringify(text)} has host bits set (did you mean ${formatIPv4((v4 & mask) >>> 0)}/${len}?)`;
    return { v: 4, net: v4, mask, text };
  }
  const all = (1n << 128n) - 1n;
  const mask = len === 0 ? 0n : (all << BigInt(128 - len)) & all;
  if ((v6! & ~mask & all) !== 0n) return `${JSON.stringify(text)} has host bits set below /${len}`;
  return { v: 6, net: v6!, mask, text };
}

/** formatIPv4 writes a 32-bit number as a dotted quad. */
export function formatIPv4(n: number): string {
  return `${n >>> 24}.${(n >>> 16) & 255}.${(n >>> 8) & 255}.${n & 255}`;
}

/**
 * plainIp writes a client address as the ACL, the per-client limit and the
 * access log show it: an IPv4-mapped IPv6 address (what a dual-stack listener
 * reports for an IPv4 client) as the IPv4 address it carries.
 */
export function plainIp(ip: string): string {
  return ip.startsWith("::ffff:") && ip.includes(".") ? ip.slice(7) : ip;
}

/** ClientIp is a parsed client address: the IPv4 number, or the IPv6 bigint. */
export type ClientIp = { v: 4; n: number } | { v: 6; n: bigint };

const MAPPED_PREFIX = 0xffffn << 32n;

/** clientIp parses the address Bun reports for a client; undefined when it is neither family. */
export function clientIp(text: string): ClientIp | undefined {
  const v4 = ipv4(text);
  if (v4 !== undefined) return { v: 4, n: v4 };
  const v6 = ipv6(text.replace(/%.*$/, ""));
  if (v6 === undefined) return undefined;
  if (v6 >> 32n === 0xffffn) return { v: 4, n: Number(v6 - MAPPED_PREFIX) };
  return { v: 6, n: v6 };
}

function matches(blocks: readonly Cidr[], ip: ClientIp): boolean {
  for (const b of blocks) {
    if (b.v === 4 && ip.v === 4) {
      if (((ip.n & b.mask) >>> 0) === b.net) return true;
    } else if (b.v === 6 && ip.v === 6) {
      if ((ip.n & b.mask) === b.net) return true;
    }
  }
  return false;
}

/** Acl decides whether a client address may connect: not denied, and allowed when an allow list is set. */
export class Acl {
  constructor(
    readonly allow: readonly Cidr[],
    readonly deny: readonly Cidr[],
  ) {}

  /** empty: no rule at all, so the accept path can skip parsing the address. */
  get empty(): boolean {
    return this.allow.length === 0 && this.deny.length === 0;
  }

  /** permits is false for a client that matches `deny`, or matches nothing of a non-empty `allow`; an unparseable address is denied when any rule is set. */
  permits(ip: ClientIp | undefined): boolean {
    if (this.empty) return true;
    if (ip === undefined) return false;
    if (matches(this.deny, ip)) return false;
    return this.allow.length === 0 || matches(this.allow, ip);
  }
}
