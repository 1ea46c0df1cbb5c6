/**
 * @module proxy-protocol: HAProxy's PROXY protocol, versions 1 (text) and 2
 * (binary), both ways: headers to write at the start of a target connection,
 * and an incremental parser for the header a load balancer in front writes
 * at the start of a client connection. Pure: bytes in, bytes or a verdict out.
 *
 * Spec: HAProxy's doc/proxy-protocol.txt. The points this code relies on:
 * - v1 is one ASCII line `PROXY TCP4|TCP6|UNKNOWN <src> <dst> <sport> <dport>\r\n`
 *   of at most 107 bytes, CRLF included; after UNKNOWN anything up to CRLF is ignored.
 * - v2 is a 16-byte head (12-byte signature, version 2 and command in one
 *   byte, family and transport in one byte, a 16-bit big-endian length of
 *   what follows), then the address block (12 bytes for INET, 36 for INET6,
 *   216 for UNIX), then TLVs that a receiver may skip.
 * - A v2 LOCAL command (health checks, the sender's own traffic), and a PROXY
 *   command with an unspecified or UNIX family, carry no client address: the
 *   receiver uses the connection's own.
 */
import { clientIp, formatIPv4 } from "./acl.ts";
import { isIPv4 } from "./target.ts";

/** SIGNATURE starts every v2 header. */
export const V2_SIGNATURE = new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a]);
/** V1_MAX is the longest v1 line the spec allows, CRLF included. */
export const V1_MAX = 107;
/**
 * V2_MAX caps what sluice reads of a v2 header (head, addresses and TLVs):
 * 16 KiB, HAProxy's own default buffer size, so nothing HAProxy sends is
 * refused and a client cannot make sluice hold 64 KiB before it dials.
 */
export const V2_MAX = 16 * 1024;

/** Address is one end of a connection. */
export interface Address {
  address: string;
  port: number;
}

export type ProxyHeader =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  /** `source` and `destination` are undefined when the header carries none (LOCAL, UNKNOWN, UNSPEC, UNIX). */
  | { kind: "ok"; version: 1 | 2; length: number; source?: Address; destination?: Address };

const INCOMPLETE = { kind: "incomplete" } as const;
const invalid = (reason: string) => ({ kind: "invalid", reason }) as const;

const V1_PREFIX = "PROXY ";
const PORT = /^(0|[1-9]\d{0,4})$/;

/**
 * parseProxyHeader reads the header at the start of `buf`, which holds
 * everything received so far. It answers `incomplete` while more bytes could
 * still make a valid header, `invalid` as soon as they cannot, and `ok` with
 * the header's length in bytes (what follows it is the client's own data).
 */
export function parseProxyHeader(buf: Uint8Array): ProxyHeader {
  if (buf.length === 0) return INCOMPLETE;
  if (buf[0] === 0x50) return parseV1(buf);
  if (buf[0] === 0x0d) return parseV2(buf);
  return invalid("no PROXY protocol header");
}

function parseV1(buf: Uint8Array): ProxyHeader {
  const n = Math.min(buf.length, V1_MAX);
  let end = -1;
  for (let i = 0; i + 1 < n; i++) {
    if (buf[i] === 0x0d && buf[i + 1] === 0x0a) {
      end = i;
      break;
    }
  }
  for (let i = 0; i < Math.min(n, V1_PREFIX.length); i++) {
    if (buf[i] !== V1_PREFIX.charCodeAt(i)) return invalid("no PROXY protocol header");
  }
  if (end === -1) return buf.length >= V1_MAX ? invalid(`PROXY v1 line longer than ${V1_MAX} bytes`) : INCOMPLETE;
  for (let i = 0; i < end; i++) {
    const c = buf[i]!;
    if (c < 0x20 || c > 0x7e) return invalid("PROXY v1 line is not printable ASCII");
  }
  const line = String.fromCharCode(...buf.subarray(0, end));
  const parts = line.split(" ");
  const length = end + 2;
  if (parts[1] === "UNKNOWN") return { kind: "ok", version: 1, length };
  if (parts.length !== 6) return invalid(`malformed PROXY v1 line ${JSON.stringify(line)}`);
  const [, proto, src, dst, sport, dport] = parts as [string, string, string, string, string, string];
  const familyOk = proto === "TCP4" ? isIPv4(src) && isIPv4(dst) : proto === "TCP6" ? isV6(src) && isV6(dst) : false;
  if (!familyOk) return invalid(`malformed PROXY v1 line ${JSON.stringify(line)}`);
  if (!PORT.test(sport) || !PORT.test(dport) || Number(sport) > 65535 || Number(dport) > 65535) {
    return invalid(`malformed PROXY v1 ports in ${JSON.stringify(line)}`);
  }
  return { kind: "ok", version: 1, length, source: { address: src, port: Number(sport) }, destination: { address: dst, port: Number(dport) } };
}

function isV6(text: string): boolean {
  const ip = clientIp(text);
  return text.includes(":") && ip !== undefined;
}

function parseV2(buf: Uint8Array): ProxyHeader {
  const have = Math.min(buf.length, V2_SIGNATURE.length);
  for (let i = 0; i < have; i++) if (buf[i] !== V2_SIGNATURE[i]) return invalid("no PROXY protocol header");
  if (buf.length < 16) return INCOMPLETE;
  const verCmd = buf[12]!;
  if (verCmd >> 4 !== 2) return invalid(`PROXY v2 header with version ${verCmd >> 4}`);
  const command = verCmd & 0x0f;
  if (command > 1) return invalid(`PROXY v2 header with unknown command ${command}`);
  const famProto = buf[13]!;
  const family = famProto >> 4;
  const transport = famProto & 0x0f;
  const len = (buf[14]! << 8) | buf[15]!;
  const length = 16 + len;
  if (length > V2_MAX) return invalid(`PROXY v2 header of ${length} bytes (at most ${V2_MAX})`);
  // LOCAL: the spec has the receiver ignore the family and the address block, whatever they say.
  if (command === 0) return buf.length < length ? INCOMPLETE : { kind: "ok", version: 2, length };
  if (family > 3 || transport > 2) return invalid(`PROXY v2 header with unknown family/transport 0x${famProto.toString(16)}`);
  const need = family === 1 ? 12 : family === 2 ? 36 : family === 3 ? 216 : 0;
  if (len < need) return invalid(`PROXY v2 address block of ${len} bytes (family ${family} needs ${need})`);
  if (buf.length < length) return INCOMPLETE;
  // PROXY with no usable address: the connection's own endpoints stand.
  if (family === 0 || family === 3 || transport !== 1) return { kind: "ok", version: 2, length };
  const at = 16;
  const dv = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  if (family === 1) {
    const ip = (o: number) => `${buf[o]}.${buf[o + 1]}.${buf[o + 2]}.${buf[o + 3]}`;
    return {
      kind: "ok",
      version: 2,
      length,
      source: { address: ip(at), port: dv.getUint16(at + 8) },
      destination: { address: ip(at + 4), port: dv.getUint16(at + 10) },
    };
  }
  const ip6 = (o: number) => {
    const groups: string[] = [];
    for (let i = 0; i < 8; i++) groups.push(dv.getUint16(o + 2 * i).toString(16));
    return compressV6(groups);
  };
  return {
    kind: "ok",
    version: 2,
    length,
    source: { address: ip6(at), port: dv.getUint16(at + 32) },
    destination: { address: ip6(at + 16), port: dv.getUint16(at + 34) },
  };
}

/** compressV6 writes eight hex groups in RFC 5952 form (the longest run of two or more zero groups becomes `::`). */
function compressV6(groups: string[]): string {
  let best = -1;
  let bestLen = 1;
  for (let i = 0; i < 8; ) {
    if (groups[i] !== "0") {
      i++;
      continue;
    }
    let j = i;
    while (j < 8 && groups[j] === "0") j++;
    if (j - i > bestLen) {
      best = i;
      bestLen = j - i;
    }
    i = j;
  }
  if (best === -1) return groups.join(":");
  return `${groups.slice(0, best).join(":")}::${groups.slice(best + bestLen).join(":")}`;
}

/** Endpoints of one client connection, as the socket reports them. */
export interface ConnectionEnds {
  source: Address;
  destination: Address;
}

/**
 * families decides TCP4 or TCP6 for a header: IPv4 when both ends are IPv4
 * (mapped IPv6 counts), else IPv6 with any IPv4 end written as mapped
 * (what HAProxy does); undefined when an address cannot be read.
 */
function families(ends: ConnectionEnds): { v: 4; src: number; dst: number } | { v: 6; src: bigint; dst: bigint } | undefined {
  const s = clientIp(ends.source.address);
  const d = clientIp(ends.destination.address);
  if (s === undefined || d === undefined) return undefined;
  if (s.v === 4 && d.v === 4) return { v: 4, src: s.n, dst: d.n };
  const six = (ip: typeof s) => (ip.v === 6 ? ip.n : (0xffffn << 32n) | BigInt(ip.n));
  return { v: 6, src: six(s), dst: six(d) };
}

function v6Text(n: bigint): string {
  const groups: string[] = [];
  for (let i = 7; i >= 0; i--) groups.push(Number((n >> BigInt(16 * i)) & 0xffffn).toString(16));
  return compressV6(groups);
}

/** proxyV1 is the v1 line for a connection (`PROXY UNKNOWN` when its addresses cannot be read). */
export function proxyV1(ends: ConnectionEnds): Uint8Array {
  const f = families(ends);
  const line =
    f === undefined
      ? "PROXY UNKNOWN\r\n"
      : f.v === 4
        ? `PROXY TCP4 ${formatIPv4(f.src)} ${formatIPv4(f.dst)} ${ends.source.port} ${ends.destination.port}\r\n`
        : `PROXY TCP6 ${v6Text(f.src)} ${v6Text(f.dst)} ${ends.source.port} ${ends.destination.port}\r\n`;
  return new TextEncoder().encode(line);
}

/** proxyV2 is the v2 header for a connection: PROXY over TCP, no TLVs (LOCAL when its addresses cannot be read). */
export function proxyV2(ends: ConnectionEnds | undefined): Uint8Array {
  const f = ends === undefined ? undefined : families(ends);
  const body = f === undefined ? 0 : f.v === 4 ? 12 : 36;
  const out = new Uint8Array(16 + body);
  out.set(V2_SIGNATURE, 0);
  out[12] = f === undefined ? 0x20 : 0x21;
  out[13] = f === undefined ? 0x00 : f.v === 4 ? 0x11 : 0x21;
  out[14] = body >> 8;
  out[15] = body & 0xff;
  if (f === undefined) return out;
  const dv = new DataView(out.buffer);
  if (f.v === 4) {
    dv.setUint32(16, f.src);
    dv.setUint32(20, f.dst);
    dv.setUint16(24, ends!.source.port);
    dv.setUint16(26, ends!.destination.port);
  } else {
    for (let i = 0; i < 8; i++) {
      dv.setUint16(16 + 2 * i, Number((f.src >> BigInt(16 * (7 - i))) & 0xffffn));
      dv.setUint16(32 + 2 * i, Number((f.dst >> BigInt(16 * (7 - i))) & 0xffffn));
    }
    dv.setUint16(48, ends!.source.port);
    dv.setUint16(50, ends!.destination.port);
  }
  return out;
}
