/**
 * @module listener: one listening port. It belongs to an app, which a reload
 * may swap without closing the port.
 */
import type { Socket, TCPSocketListener } from "bun";
import { deferAccept, raiseBacklog } from "../sys/backlog.ts";
import { SluiceError } from "../sys/errors.ts";
import { logger } from "../sys/log.ts";
import { downstreamHandlers, type Session } from "./session.ts";
import { formatEndpoint, isIPv6 } from "../net/target.ts";

/**
 * listenError says why a listen failed and what to do about it. Bun names
 * the errno for most failures but not for a host name it cannot resolve
 * (no code, "Failed to listen at <host>").
 */
export function listenError(e: unknown, host: string): string {
  const code = (e as { code?: string } | null)?.code;
  switch (code) {
    case "EADDRINUSE":
      return "address already in use";
    case "EACCES":
      return "permission denied (ports below 1024 need root or CAP_NET_BIND_SERVICE)";
    case "EADDRNOTAVAIL":
      return `${host} is not an address of this machine (EADDRNOTAVAIL); set bind to one of its addresses, or "0.0.0.0" for all`;
    case "EINVAL":
      return host.toLowerCase().startsWith("fe80:")
        ? `invalid address (EINVAL): a link-local IPv6 address needs its interface, e.g. ${host}%eth0`
        : "invalid address (EINVAL)";
    case undefined:
      return isIPv6(host) || /^[\d.]+$/.test(host) ? String((e as Error)?.message ?? e) : `cannot resolve ${host} to an address of this machine`;
    default:
      return code;
  }
}

/**
 * bindProblem tries `host` the way the listeners will (a listen on port 0,
 * closed at once) and says what is wrong with it, or undefined when it works.
 * --check uses it, so a bind that cannot work fails there and not at start.
 */
export function bindProblem(host: string): string | undefined {
  try {
    Bun.listen({ hostname: host, port: 0, socket: { data() {} } }).stop(true);
    return undefined;
  } catch (e) {
    return listenError(e, host);
  }
}

/** Acceptor is what a port hands accepted sockets to: its app (a reload may swap it). */
export interface Acceptor {
  readonly name: string;
  readonly config: { readonly deferAccept: boolean };
  accept(sock: Socket<Session>, port: number): void;
}

/** Sharing: how a port is shared with other worker threads (see Listener). */
export type Sharing = false | "first" | "join";

/** the backlog warning is given once per process, not once per port. */
let backlogWarned = false;

export class Listener {
  readonly server: TCPSocketListener<Session>;
  /** more sockets of the same port adopted from an old process that ran more threads (see src/control/inherit.ts). */
  readonly #extra: TCPSocketListener<Session>[] = [];

  /**
   * The constructor binds at once and throws SluiceError LISTEN_FAILED naming the address.
   *
   * `shared`: other worker threads listen on the same port (SO_REUSEPORT) and
   * the kernel spreads connections over them. The "first" bind of a port (the
   * main thread's) checks with a plain bind that no other process holds it,
   * since a port shared with SO_REUSEPORT would otherwise be split silently
   * with another sluice; the other workers "join" it.
   *
   * `inherited`: listening sockets of this port handed over by the process
   * this one upgrades (src/control/upgrade.ts): they are adopted as they are, with no
   * bind, so connections waiting in their accept queues are served here.
   */
  constructor(
    readonly bind: string,
    readonly port: number,
    public app: Acceptor,
    shared: Sharing = false,
    inherited: readonly number[] = [],
  ) {
    const socket = { ...downstreamHandlers, open: (s: Socket<Session>) => this.app.accept(s, this.port) };
    try {
      if (inherited.length > 0) {
        const [fd, ...more] = inherited;
        this.server = adopt(fd!, socket);
        for (const extra of more) this.#extra.push(adopt(extra, socket));
      } else {
        if (shared === "first") Bun.listen({ hostname: bind, port, socket: { data() {} } }).stop(true);
        this.server = Bun.listen<Session>({
          hostname: bind,
          port,
          allowHalfOpen: true,
          // reusePort is in Bun's listen options at run time; bun-types 1.4.4 lacks it.
          ...(shared === false ? {} : { reusePort: true }),
          socket,
        } as unknown as Bun.TCPSocketListenOptions<Session>);
      }
    } catch (e) {
      throw new SluiceError("LISTEN_FAILED", `cannot listen on ${formatEndpoint(bind, port)} for app "${app.name}": ${listenError(e, bind)}`);
    }
    if (inherited.length > 0) this.#deferred = undefined;
    const why = raiseBacklog(this.server);
    if (why !== undefined && !backlogWarned) {
      backlogWarned = true;
      logger("sluice").warn(`listen backlog stays at Bun's 512 (${why}): a burst of new connections may see SYNs dropped and retried`);
    }
    this.tune();
  }

  /** fds are the listening sockets' file descriptors, the one to hand over first. */
  get fds(): number[] {
    return [this.server, ...this.#extra].map((l) => (l as unknown as { fd: number }).fd).filter((fd) => typeof fd === "number" && fd >= 0);
  }

  /** whether TCP_DEFER_ACCEPT is set on the port now; undefined: not known (an adopted socket keeps what the old process set). */
  #deferred: boolean | undefined = false;

  /** tune gives the port its app's socket options (defer_accept); the runtime calls it again after each reload. */
  tune(): void {
    const want = this.app.config.deferAccept;
    if (want === this.#deferred) return;
    let why: string | undefined;
    for (const l of [this.server, ...this.#extra]) why ??= deferAccept(l, want);
    if (why === undefined) this.#deferred = want;
    else logger(`app/${this.app.name}`).warn(`defer_accept not applied to port ${this.port}: ${why}`);
  }

  /** stop closes the port (this thread's sockets of it); sessions already accepted carry on. */
  stop(): void {
    this.server.stop(false);
    for (const l of this.#extra) l.stop(false);
  }
}

/** adopt listens on an already listening socket: Bun takes it as it is (`fd`), with no bind. */
function adopt(fd: number, socket: object): TCPSocketListener<Session> {
  return Bun.listen<Session>({ fd, allowHalfOpen: true, socket } as unknown as Bun.TCPSocketListenOptions<Session>);
}
