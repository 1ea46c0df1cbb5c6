/**
 * @module sni: the server name a TLS client asks for, read from its
 * ClientHello without terminating TLS, and the route patterns it is matched
 * against. Pure.
 *
 * The ClientHello is a handshake message carried in one or more TLS records
 * (RFC 8446 §5.1 allows a handshake message to span records), and records
 * arrive split across TCP reads however the network pleases, so the parser
 * takes everything received so far and answers `incomplete` until it can
 * decide. It never reads past MAX_HELLO bytes.
 */

/** MAX_HELLO caps the bytes read to find the server name: 16 KiB, one full TLS record. */
export const MAX_HELLO = 16 * 1024;

export type Hello =
  | { kind: "incomplete" }
  | { kind: "invalid"; reason: string }
  /** `serverName` is lower-case without a trailing dot; undefined when the client sent none. */
  | { kind: "ok"; serverName: string | undefined };

const INCOMPLETE = { kind: "incomplete" } as const;
const invalid = (reason: string) => ({ kind: "invalid", reason }) as const;

const RECORD_HANDSHAKE = 0x16;
const CLIENT_HELLO = 0x01;
const EXT_SERVER_NAME = 0x0000;
const NAME_HOST = 0x00;

/**
 * readHello parses the start of a client's stream. `invalid` means it is not
 * a TLS ClientHello sluice can route (not TLS, SSLv2-style, malformed, or
 * longer than MAX_HELLO).
 */
export function readHello(buf: Uint8Array): Hello {
  // Reassemble the handshake bytes from as many records as have arrived.
  const hs: Uint8Array[] = [];
  let hsLen = 0;
  let at = 0;
  let need = -1; // the ClientHello's full length (4-byte header included), once known
  while (true) {
    if (at >= MAX_HELLO) return invalid(`ClientHello longer than ${MAX_HELLO} bytes`);
    if (buf.length - at < 5) {
      if (buf.length > at && buf[at] !== RECORD_HANDSHAKE) return invalid("not a TLS handshake");
      if (buf.length - at >= 3 && (buf[at + 1] !== 0x03 || buf[at + 2]! > 0x04)) return invalid("not a TLS handshake");
      return INCOMPLETE;
    }
    if (buf[at] !== RECORD_HANDSHAKE) return invalid("not a TLS handshake");
    if (buf[at + 1] !== 0x03 || buf[at + 2]! > 0x04) return invalid("not a TLS handshake");
    const recLen = (buf[at + 3]! << 8) | buf[at + 4]!;
    if (recLen === 0 || recLen > MAX_HELLO) return invalid(`TLS record of ${recLen} bytes`);
    const body = buf.subarray(at + 5, Math.min(buf.length, at + 5 + recLen));
    hs.push(body);
    hsLen += body.length;
    const complete = body.length === recLen;
    if (need === -1 && hsLen >= 4) {
      const first = concat(hs, 4);
      if (first[0] !== CLIENT_HELLO) return invalid("first handshake message is not a ClientHello");
      need = 4 + ((first[1]! << 16) | (first[2]! << 8) | first[3]!);
      if (need > MAX_HELLO) return invalid(`ClientHello of ${need} bytes (at most ${MAX_HELLO})`);
    }
    if (need !== -1 && hsLen >= need) return parseClientHello(concat(hs, need).subarray(4));
    if (!complete) return INCOMPLETE;
    at += 5 + recLen;
  }
}

function concat(parts: Uint8Array[], max: number): Uint8Array {
  if (parts.length === 1) return parts[0]!.subarray(0, max);
  const out = new Uint8Array(Math.min(max, parts.reduce((n, p) => n + p.length, 0)));
  let o = 0;
  for (const p of parts) {
    if (o >= out.length) break;
    const take = p.subarray(0, out.length - o);
    out.set(take, o);
    o += take.length;
  }
  return out;
}

/** parseClientHello reads the server_name extension from a ClientHello body. */
function parseClientHello(b: Uint8Array): Hello {
  let p = 2 + 32; // client_version, random
  if (p + 1 > b.length) return invalid("truncated ClientHello");
  p += 1 + b[p]!; // session_id
  if (p + 2 > b.length) return invalid("truncated ClientHello");
  p += 2 + ((b[p]! << 8) | b[p + 1]!); // cipher_suites
  if (p + 1 > b.length) return invalid("truncated ClientHello");
  p += 1 + b[p]!; // compression_methods
  if (p === b.length) return { kind: "ok", serverName: undefined }; // no extensions at all
  if (p + 2 > b.length) return invalid("truncated ClientHello");
  const extEnd = p + 2 + ((b[p]! << 8) | b[p + 1]!);
  if (extEnd > b.length) return invalid("truncated ClientHello extensions");
  p += 2;
  while (p + 4 <= extEnd) {
    const type = (b[p]! << 8) | b[p + 1]!;
    const len = (b[p + 2]! << 8) | b[p + 3]!;
    p += 4;
    if (p + len > extEnd) return invalid("truncated ClientHello extension");
    if (type === EXT_SERVER_NAME) return serverName(b.subarray(p, p + len));
    p += len;
  }
  if (p !== extEnd) return invalid("malformed ClientHello extensions");
  return { kind: "ok", serverName: undefined };
}

function serverName(e: Uint8Array): Hello {
  if (e.length < 2) return invalid("malformed server_name");
  const listEnd = 2 + ((e[0]! << 8) | e[1]!);
  if (listEnd > e.length) return invalid("malformed server_name");
  let p = 2;
  while (p + 3 <= listEnd) {
    const type = e[p]!;
    const len = (e[p + 1]! << 8) | e[p + 2]!;
    p += 3;
    if (p + len > listEnd) return invalid("malformed server_name");
    if (type === NAME_HOST) {
      const name = String.fromCharCode(...e.subarray(p, p + len));
      if (!/^[A-Za-z0-9_.-]{1,253}$/.test(name)) return invalid("server_name is not a host name");
      return { kind: "ok", serverName: name.toLowerCase().replace(/\.$/, "") };
    }
    p += len;
  }
  return { kind: "ok", serverName: undefined };
}

/**
 * sniMatches: a pattern is an exact name, or `*.` and a suffix that matches
 * exactly one more label (`*.example.org` takes `a.example.org`, not
 * `example.org` nor `a.b.example.org`). Both sides are compared lower-case.
 */
export function sniMatches(pattern: string, name: string): boolean {
  const p = pattern.toLowerCase().replace(/\.$/, "");
  if (!p.startsWith("*.")) return p === name;
  const suffix = p.slice(1); // ".example.org"
  if (!name.endsWith(suffix)) return false;
  const label = name.slice(0, name.length - suffix.length);
  return label.length > 0 && !label.includes(".");
}

/** SNI_PATTERN is what the config accepts as a route pattern. */
export const SNI_PATTERN = /^(\*\.)?([A-Za-z0-9_-]{1,63}\.)*[A-Za-z0-9_-]{1,63}\.?$/;
