/**
 * @module admission: who may open a session on an app, decided at accept (or,
 * behind a load balancer, once the PROXY header names the client) before
 * anything is dialled: the process' and the app's connection caps, the
 * allow/deny lists and the per-client connection limit. A refused client
 * never becomes a session: it is reset at once, counted and logged with its
 * reason.
 */
import type { Socket } from "bun";
import { accessLog } from "../sys/log.ts";
import { clientOf, rejectedFields } from "./access-log.ts";
import { Acl, clientIp, plainIp } from "../net/acl.ts";
import type { AppCounters } from "./app-counters.ts";
import { A } from "../sys/board.ts";
import type { ClientCounts } from "./client-counts.ts";
import type { AppConfig } from "../config/types.ts";
import type { Limits } from "../sys/limits.ts";
import type { CloseReason } from "./close-reason.ts";
import type { Session } from "./session.ts";

/** AdmissionHost is what deciding at accept needs of the app. */
export interface AdmissionHost {
  readonly name: string;
  readonly limits: Limits;
  /** the app's own cap on open client connections. */
  readonly maxConnections: number;
  readonly counters: AppCounters;
  readonly accessLogged: boolean;
}

export class Admission {
  acl: Acl;

  constructor(
    private readonly host: AdmissionHost,
    private config: AppConfig,
    /** open sessions per client IP, one count for every worker thread. */
    private readonly clients: ClientCounts,
    /** the app's slot in `clients`. */
    private readonly slot: number,
  ) {
    this.acl = new Acl(config.allow, config.deny);
  }

  /** update takes a reloaded config; clients already counted stay counted. */
  update(config: AppConfig): void {
    this.config = config;
    this.acl = new Acl(config.allow, config.deny);
  }

  /**
   * enter takes a socket a listener on `port` accepted. Past a connection
   * cap, or refused by the ACL or the per-client limit, it is reset and
   * undefined returned; else its places are taken and the IP it counts under
   * is returned (null: it is judged later, when its PROXY header names it).
   */
  enter(sock: Socket<Session>, port: number): string | null | undefined {
    const { limits, counters } = this.host;
    const cell = counters.cell;
    // Counted first and given back on refusal: two workers accepting at once cannot both take the last place.
    const admitted = limits.admit();
    if (!admitted || !cell.raiseBelow(A.SESSIONS, this.host.maxConnections)) {
      if (admitted) limits.release();
      cell.add(A.REJECTED);
      return this.#refuse(sock, port, "limit");
    }
    const c = this.config;
    if (c.acceptProxy || (this.acl.empty && c.maxConnectionsPerClient === 0)) return null;
    const ip = plainIp(sock.remoteAddress);
    const refusal = this.admit(ip);
    if (refusal === undefined) return ip;
    limits.release();
    cell.raise(A.SESSIONS, -1);
    return this.#refuse(sock, port, refusal);
  }

  /** #refuse closes a client before any session exists: a reset, counted and logged with its reason. */
  #refuse(sock: Socket<Session>, port: number, reason: CloseReason): undefined {
    this.host.counters.count(reason);
    if (this.host.accessLogged) accessLog(rejectedFields(this.host.name, port, clientOf(sock), reason));
    // A reset, not a FIN: the client must not take an empty stream for a served one.
    sock.terminate();
    return undefined;
  }

  /**
   * admit applies the ACL and the per-client limit to a client IP: undefined
   * when it may connect, and then its connection is already counted against
   * the limit (hold records that on the session, release gives it back).
   */
  admit(ip: string): CloseReason | undefined {
    if (!this.acl.permits(clientIp(ip))) return "denied";
    const max = this.config.maxConnectionsPerClient;
    if (max > 0 && !this.clients.take(this.slot, ip, max)) return "limit";
    return undefined;
  }

  /** hold records on `s` the client IP admit counted it under. */
  hold(s: Session, ip: string): void {
    if (this.config.maxConnectionsPerClient > 0) s.clientKey = ip;
  }

  /** release gives back a closed session's place in the per-client count. */
  release(s: Session): void {
    if (s.clientKey !== undefined) this.clients.release(this.slot, s.clientKey);
  }
}
