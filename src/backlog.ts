/**
 * @module backlog: a longer accept queue for the listening ports.
 *
 * Bun listens with a fixed backlog of 512. A burst of more new connections
 * than that, arriving while the event loop is busy, overflows the queue: the
 * kernel drops the extra SYNs and the clients retry after 1, 3, 7 s, so a
 * burst of 1,000 clients takes seconds where it should take milliseconds
 * (docs/BUN-SOCKETS.md, "Listen backlog"). Calling listen(2) again on a
 * listening socket changes its backlog on Linux, so this calls libc's
 * `listen(fd, BACKLOG)` (src/libc.ts) on the listener's fd. The kernel caps
 * the value at net.core.somaxconn (4096 by default since Linux 5.4).
 *
 * Where FFI or libc cannot be loaded (another libc, a sandbox), nothing
 * changes and the reason is returned for a log line: the port still works,
 * with Bun's 512.
 */

import { libc } from "./libc.ts";

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
