/**
 * @module backlog: the accept queue of the listening ports: longer than
 * Bun's, and optionally deferred until the client sends (deferAccept).
 *
 * Bun listens with a fixed backlog of 512. A burst of more new connections
 * than that, arriving while the event loop is busy, overflows the queue: the
 * kernel drops the extra SYNs and the clients retry after 1, 3, 7 s, so a
 * burst of 1,000 clients takes seconds where it should take milliseconds
 * (docs/BUN-SOCKETS.md, "Listen backlog"). Calling listen(2) again on a
 * listening socket changes its backlog on Linux, so this calls libc's
 * `listen(fd, BACKLOG)` (src/sys/libc.ts) on the listener's fd. The kernel caps
 * the value at net.core.somaxconn (4096 by default since Linux 5.4).
 *
 * Where FFI or libc cannot be loaded (another libc, a sandbox), nothing
 * changes and the reason is returned for a log line: the port still works,
 * with Bun's 512.
 */

import { libc } from "./libc.ts";

/** IPPROTO_TCP and TCP_DEFER_ACCEPT (linux/tcp.h). */
const IPPROTO_TCP = 6;
const TCP_DEFER_ACCEPT = 9;
/**
 * DEFER_ACCEPT_S: how long the kernel holds a connection that has sent
 * nothing before it accepts it anyway (rounded by Linux to SYN-ACK
 * retransmits), as NGINX's `deferred` and HAProxy's `defer-accept` do.
 */
export const DEFER_ACCEPT_S = 1;

/**
 * deferAccept sets TCP_DEFER_ACCEPT on a listener (on: DEFER_ACCEPT_S, off:
 * 0): the kernel completes accept() only once the client has sent data, so
 * sluice never wakes for a client that connects and says nothing. Right only
 * for protocols where the client speaks first (HTTP, TLS, Redis); a
 * server-speaks-first protocol (SMTP, MySQL, SSH) would wait for the
 * timeout on every connection. Returns undefined on success, or why not.
 */
export function deferAccept(listener: object, on: boolean): string | undefined {
  if (process.platform !== "linux") return "only on Linux";
  const fd = (listener as { fd?: unknown }).fd;
  if (typeof fd !== "number" || fd < 0) return "the listener has no fd";
  const c = libc();
  if (typeof c === "string") return c;
  return c.setsockoptInt(fd, IPPROTO_TCP, TCP_DEFER_ACCEPT, on ? DEFER_ACCEPT_S : 0) === 0 ? undefined : "setsockopt(2) failed";
}

/** BACKLOG is what sluice asks for; the kernel lowers it to somaxconn. */
export const BACKLOG = 4096;

/**
 * raiseBacklog asks for a BACKLOG-long accept queue on a listener (anything
 * with Bun's run-time `fd`). It returns undefined on success, or why not.
 */
export function raiseBacklog(listener: object, backlog = BACKLOG): string | undefined {
  if (process.platform !== "linux") return "only on Linux";
  const fd = (listener as { fd?: unknown }).fd;
  if (typeof fd !== "number" || fd < 0) return "the listener has no fd";
  const c = libc();
  if (typeof c === "string") return c;
  return c.listen(fd, backlog) === 0 ? undefined : "listen(2) failed";
}
