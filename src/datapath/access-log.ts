/**
 * @module access-log: the fields of the access line written for each finished
 * client connection. Pure: a session's facts in, the line's fields out.
 */
import { plainIp } from "../net/acl.ts";
import type { CloseReason, CloseSide } from "./close-reason.ts";

/** SessionFacts is what an access line reads from a finished session (a Session satisfies it). */
export interface SessionFacts {
  readonly openedAt: number;
  readonly connectMs: number | undefined;
  readonly dialled: number;
  readonly target: { readonly address: string } | null;
  readonly up: unknown;
  readonly upPipe: { readonly bytes: number };
  readonly downPipe: { readonly bytes: number };
  readonly firstClose: CloseSide | undefined;
  readonly reason: CloseReason | undefined;
}

/** AccessFields is one access line's fields, in the order they are written. */
export interface AccessFields {
  [k: string]: string | number | null;
  app: string;
  port: number;
  client: string;
  target: string | null;
  tried: number;
  connect_ms: number | null;
  duration_ms: number;
  bytes_up: number;
  bytes_down: number;
  first_close: CloseSide;
  reason: CloseReason;
}

/** ms rounds a duration to 0.01 ms: finer is noise, coarser hides loopback connects. */
function ms(v: number): number {
  return Math.round(v * 100) / 100;
}

/** accessFields is the access line of a finished session; `now` is performance.now() at its close. */
export function accessFields(app: string, port: number, client: string, s: SessionFacts, now: number): AccessFields {
  return {
    app,
    port,
    client,
    target: s.up !== null && s.target !== null ? s.target.address : null,
    tried: s.dialled,
    connect_ms: s.connectMs === undefined ? null : ms(s.connectMs),
    duration_ms: ms(now - s.openedAt),
    bytes_up: s.upPipe.bytes,
    bytes_down: s.downPipe.bytes,
    first_close: s.firstClose ?? "sluice",
    reason: s.reason ?? "internal-error",
  };
}

const NOTHING = { bytes: 0 } as const;

/** rejectedFields is the access line of a client closed at once (connection cap, ACL, per-client limit): no session, no dial, no bytes. */
export function rejectedFields(app: string, port: number, client: string, reason: CloseReason = "limit"): AccessFields {
  const facts: SessionFacts = { openedAt: 0, connectMs: undefined, dialled: 0, target: null, up: null, upPipe: NOTHING, downPipe: NOTHING, firstClose: "sluice", reason };
  return accessFields(app, port, client, facts, 0);
}

/**
 * clientOf writes a peer as `ip:port`, `[v6]:port` for IPv6. A v4 client of a
 * dual-stack listener (`::`) shows as `::ffff:127.0.0.1` in Bun; it is written
 * as the IPv4 address it is. Bun forgets remotePort once the socket is closed,
 * so this is read at accept.
 */
export function clientOf(peer: { readonly remoteAddress: string; readonly remotePort: number | undefined }): string {
  const ip = plainIp(peer.remoteAddress ?? "");
  const port = peer.remotePort ?? 0;
  return ip.includes(":") ? `[${ip}]:${port}` : `${ip}:${port}`;
}
