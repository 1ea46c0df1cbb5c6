/**
 * Builds TLS ClientHello bytes for parser tests: an optional server name,
 * filler extensions before it, and the handshake cut into records of a
 * chosen size (a ClientHello may span several records).
 */
export interface HelloOptions {
  /** the host_name in server_name; undefined: no server_name extension. */
  sni?: string;
  /** extensions placed before server_name, each this many bytes of payload. */
  filler?: number[];
  /** the handshake is cut into records of at most this many bytes (default: one record). */
  recordSize?: number;
  /** the record layer's version byte pair (TLS 1.0 is what most clients put there). */
  recordVersion?: [number, number];
}

const u16 = (n: number) => [(n >> 8) & 255, n & 255];
const u24 = (n: number) => [(n >> 16) & 255, (n >> 8) & 255, n & 255];

export function clientHello(o: HelloOptions = {}): Uint8Array {
  const exts: number[] = [];
  for (const [i, size] of (o.filler ?? []).entries()) exts.push(...u16(0x1000 + i), ...u16(size), ...new Array(size).fill(0x61));
  if (o.sni !== undefined) {
    const name = [...new TextEncoder().encode(o.sni)];
    const entry = [0x00, ...u16(name.length), ...name];
    const list = [...u16(entry.length), ...entry];
    exts.push(...u16(0x0000), ...u16(list.length), ...list);
  }
  const body = [
    0x03, 0x03, // client_version TLS 1.2
    ...new Array(32).fill(7), // random
    0, // session_id
    ...u16(2), 0x13, 0x01, // one cipher suite
    1, 0, // compression: null
    ...u16(exts.length),
    ...exts,
  ];
  const hs = [0x01, ...u24(body.length), ...body];
  const size = o.recordSize ?? hs.length;
  const [v1, v2] = o.recordVersion ?? [0x03, 0x01];
  const out: number[] = [];
  for (let i = 0; i < hs.length; i += size) {
    const chunk = hs.slice(i, i + size);
    out.push(0x16, v1, v2, ...u16(chunk.length), ...chunk);
  }
  return new Uint8Array(out);
}
