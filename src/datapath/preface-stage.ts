/**
 * @module preface-stage: what happens to a client whose first bytes must be
 * read before anything is dialled (a PROXY header with accept_proxy, a TLS
 * ClientHello on an app with SNI routes): the bytes are collected (the
 * parser is src/datapath/preface.ts), the client is admitted under the address the
 * header names, the route is chosen, and the session dials with those bytes
 * first in its queue; or it is closed with its reason when the preface is
 * malformed, late or cut short. Also the send_proxy header a target gets.
 */
import type { Socket } from "bun";
import { plainIp } from "../net/acl.ts";
import type { Admission } from "./admission.ts";
import { clientOf } from "./access-log.ts";
import type { AppConfig } from "../config/types.ts";
import type { Pool } from "../upstream/pool.ts";
import { proxyV1, proxyV2, type Address } from "../net/proxy-protocol.ts";
import type { CloseReason } from "./close-reason.ts";
import type { Session } from "./session.ts";
import { sniMatches } from "../net/sni.ts";
import type { Sweepable } from "../sys/sweeper.ts";
import type { Route } from "../upstream/target-set.ts";

/** PrefaceHost is what the stage needs of the app. */
export interface PrefaceHost {
  readonly config: AppConfig;
  readonly routes: readonly Route[];
  readonly pool: Pool;
  readonly admission: Admission;
  readonly accessLogged: boolean;
  /** a refused or failed client, rate-limited like the app's other repeated lines. */
  warnRefused(line: string): void;
  warnNoTarget(line: string): void;
}

/** PrefaceDeadline closes a client whose preface is not complete within connect_timeout. */
export class PrefaceDeadline implements Sweepable {
  constructor(
    readonly session: Session,
    readonly deadline: number,
    readonly host: PrefaceHost,
  ) {}
  sweep(now: number): boolean {
    if (this.session.closed || this.session.preface === null) return true;
    if (now < this.deadline) return false;
    const f = this.session.preface.failure(`within connect_timeout (${this.host.config.connectTimeoutMs} ms)`);
    failed(this.host, this.session, f.reason, f.why);
    return true;
  }
}

/** proxyHeader is the send_proxy header for a client: its own addresses, or those a PROXY header in front gave. */
export function proxyHeader(version: "v1" | "v2", sock: Pick<Socket<unknown>, "remoteAddress" | "remotePort" | "localAddress" | "localPort">, source?: Address, destination?: Address): Uint8Array {
  const ends = {
    source: source ?? { address: sock.remoteAddress, port: sock.remotePort },
    destination: destination ?? { address: sock.localAddress, port: sock.localPort },
  };
  return version === "v1" ? proxyV1(ends) : proxyV2(ends);
}

/** prefaceData: a chunk of a client whose PROXY header or ClientHello is still being read. */
export function prefaceData(host: PrefaceHost, s: Session, chunk: Uint8Array): void {
  const p = s.preface!;
  const r = p.push(chunk);
  if (r.state === "wait") return;
  if (r.state === "reject") return failed(host, s, r.reason, r.why);
  s.preface = null;
  s.connectFrom = performance.now();
  // p.acceptProxy, not the config's: accept skipped the ACL for this client, and a reload since must not let it skip both.
  if (p.acceptProxy) {
    // A LOCAL or UNKNOWN header leaves the connection's own address standing.
    const ip = plainIp(r.source?.address ?? s.down.remoteAddress);
    // Before the ACL: a refused client is logged under the address it was refused for.
    if (r.source !== undefined && host.accessLogged) s.client = clientOf({ remoteAddress: r.source.address, remotePort: r.source.port });
    const refusal = host.admission.admit(ip);
    if (refusal !== undefined) {
      if (r.source !== undefined) host.warnRefused(`client ${r.source.address} (by PROXY header) refused: ${refusal}`);
      return s.close(refusal);
    }
    host.admission.hold(s, ip);
  }
  if (host.routes.length > 0) {
    const name = r.serverName;
    const route = name === undefined ? undefined : host.routes.find((x) => x.config.sni.some((pattern) => sniMatches(pattern, name)));
    if (route !== undefined) s.pool = route.pool;
    else if (host.pool.targets.length === 0) {
      host.warnNoTarget(name === undefined ? "TLS client without a server name, and no fallback targets" : `no route for ${name}, and no fallback targets`);
      return s.close("no-target");
    }
  }
  if (host.config.sendProxy !== "none") s.proxyHeader = proxyHeader(host.config.sendProxy, s.down, r.source, r.destination);
  if (r.rest.length > 0 && !s.upPipe.push(r.rest)) return s.close("target-reset");
  s.dial();
}

/** prefaceEnded: the client sent FIN before its preface was complete. */
export function prefaceEnded(host: PrefaceHost, s: Session): void {
  const f = s.preface!.failure("before the client finished sending");
  failed(host, s, f.reason, f.why);
}

function failed(host: PrefaceHost, s: Session, reason: CloseReason, why: string): void {
  host.warnRefused(`client closed (${reason}): ${why}`);
  s.close(reason);
}
