/**
 * @module receive-buffer: caps the kernel receive buffer of a target socket,
 * so that no read from it is larger than the session's `buffer_size`.
 *
 * Bun reads whatever the kernel holds, up to 512 KiB at a time, and the
 * kernel autotunes a fast socket's receive buffer to megabytes. A client that
 * stops reading therefore used to pin the queue up to the mark plus one such
 * read: about 1 MB of sluice's memory per stalled client at a 256 KiB mark.
 * With SO_RCVBUF set, autotuning is off and the kernel never holds more than
 * the buffer for us, so a read is at most that size and Pipe can pause the
 * target before the read that would carry the queue past the mark.
 *
 * Linux doubles the value given to SO_RCVBUF (the other half is its own
 * bookkeeping), so asking for half of `bytes` makes reads at most `bytes`.
 * The cap also bounds the TCP window towards the target: on loopback a
 * buffer below 128 KiB halves throughput (its 64 KiB segments stop
 * pipelining), which is why the default mark is 128 KiB; a target far away
 * wants a larger `buffer_size`. docs/BUN-SOCKETS.md has the measurements.
 */
import { libc } from "./libc.ts";

/** SOL_SOCKET and SO_RCVBUF (asm-generic/socket.h). */
const SOL_SOCKET = 1;
const SO_RCVBUF = 8;

/** BUN_READ_MAX is the most Bun reads from a socket at once; a mark at or above it gains nothing from a cap. */
export const BUN_READ_MAX = 512 * 1024;

/**
 * capReceiveBuffer makes reads from `sock` (anything with Bun's run-time
 * `fd`) at most `bytes` long. It returns whether the cap is in place; without
 * FFI, or on a socket with no fd (a test's fake), nothing changes.
 */
export function capReceiveBuffer(sock: object, bytes: number): boolean {
  if (bytes >= BUN_READ_MAX || process.platform !== "linux") return false;
  const fd = (sock as { fd?: unknown }).fd;
  if (typeof fd !== "number" || fd < 0) return false;
  const c = libc();
  return typeof c !== "string" && c.setsockoptInt(fd, SOL_SOCKET, SO_RCVBUF, bytes >> 1) === 0;
}
