/**
 * @module tcp-state: whether a socket Bun reported as ended (the peer's FIN)
 * was in fact reset.
 *
 * Bun reports a peer's FIN as `end`. But when the peer's reset has already
 * been consumed on the way (a send that failed with ECONNRESET clears the
 * socket's error, and the next read sees end of file), Bun reports that
 * reset as `end` too; Session resets on its own failed writes, yet the
 * chaos suite's kill-target scenario still caught, about once in 5,000
 * streams, a session whose target had been killed (a reset) reported as
 * `end`, passed on to the client as a FIN: a cut stream that looked
 * complete (docs/CHAOS.md). The kernel still knows the truth: after a
 * peer's FIN a socket whose own side is open is in CLOSE_WAIT; after a reset
 * it is CLOSED. One getsockopt(TCP_INFO) per `end` tells them apart.
 */
import { libc } from "./libc.ts";

/** TCP_CLOSE is tcpi_state after a reset (linux/tcp_states.h). */
const TCP_CLOSE = 7;

/**
 * endedByReset says whether a socket Bun just reported as ended is in fact
 * reset: its TCP state is CLOSED while we never closed it. False when it
 * cannot tell (no fd, no libc): the `end` is then taken at its word.
 */
export function endedByReset(sock: object): boolean {
  const fd = (sock as { fd?: unknown }).fd;
  if (typeof fd !== "number" || fd < 0) return false;
  const c = libc();
  if (typeof c === "string") return false;
  return c.tcpState(fd) === TCP_CLOSE;
}
