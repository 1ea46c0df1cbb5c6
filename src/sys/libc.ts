/**
 * @module libc: the libc calls sluice makes through bun:ffi, for what Bun
 * has no API for: listen(2) again on a listening socket (a longer backlog,
 * src/sys/backlog.ts), setsockopt(2) on it (TCP_DEFER_ACCEPT, src/sys/backlog.ts),
 * fcntl(2) (a non-blocking stderr, src/sys/log-writer.ts), close(2) (listening
 * sockets an upgrade handed over that the new config no longer uses), and
 * socket(2)/sendto(2) (a datagram to systemd's notify socket), dup2(2) and
 * SO_LINGER (resetting a stuck worker's connections, src/sys/stuck-sockets.ts). Loaded once, on first use: bun:ffi is not free at
 * start-up. Where FFI or libc cannot be loaded (another libc, a sandbox) the
 * answer is the reason, and callers keep Bun's own behaviour.
 */

export interface Libc {
  listen(fd: number, backlog: number): number;
  fcntl(fd: number, cmd: number, arg: number): number;
  /** setsockopt with an int value. */
  setsockoptInt(fd: number, level: number, name: number, value: number): number;
  close(fd: number): number;
  dup2(from: number, to: number): number;
  /** setsockopt with a prepared value (a struct). */
  setsockoptBytes(fd: number, level: number, name: number, value: Uint8Array): number;
  /** socket(2) and sendto(2) with a prepared address: one datagram to a Unix socket (src/sys/sd-notify.ts). */
  socket(domain: number, type: number, protocol: number): number;
  sendto(fd: number, data: Uint8Array, flags: number, addr: Uint8Array): number;
}

let loaded: Libc | string | undefined;

/** libc loads the calls once; a string says why it could not. */
export function libc(): Libc | string {
  if (loaded !== undefined) return loaded;
  try {
    const { dlopen, FFIType } = require("bun:ffi") as typeof import("bun:ffi");
    const i32 = FFIType.i32;
    // glibc names it libc.so.6; musl's loader by its full name or as libc.so.
    const names = ["libc.so.6", `libc.musl-${process.arch === "arm64" ? "aarch64" : "x86_64"}.so.1`, "libc.so"];
    let why = "no libc found";
    for (const name of names) {
      try {
        const { symbols } = dlopen(name, {
          listen: { args: [i32, i32], returns: i32 },
          fcntl: { args: [i32, i32, i32], returns: i32 },
          setsockopt: { args: [i32, i32, i32, FFIType.ptr, i32], returns: i32 },
          close: { args: [i32], returns: i32 },
          dup2: { args: [i32, i32], returns: i32 },
          socket: { args: [i32, i32, i32], returns: i32 },
          sendto: { args: [i32, FFIType.ptr, FFIType.u64, i32, FFIType.ptr, i32], returns: FFIType.i64 },
        });
        const box = new Int32Array(1);
        loaded = {
          listen: (fd, n) => symbols.listen(fd, n),
          fcntl: (fd, cmd, arg) => symbols.fcntl(fd, cmd, arg),
          setsockoptInt: (fd, level, name, value) => {
            box[0] = value;
            return symbols.setsockopt(fd, level, name, box, 4);
          },
          close: (fd) => symbols.close(fd),
          dup2: (from, to) => symbols.dup2(from, to),
          setsockoptBytes: (fd, level, name, value) => symbols.setsockopt(fd, level, name, value, value.length),
          socket: (domain, type, protocol) => symbols.socket(domain, type, protocol),
          sendto: (fd, data, flags, addr) => Number(symbols.sendto(fd, data, data.length, flags, addr, addr.length)),
        };
        return loaded;
      } catch (e) {
        why = (e as Error).message;
      }
    }
    loaded = why;
  } catch (e) {
    loaded = `bun:ffi unavailable: ${(e as Error).message}`;
  }
  return loaded;
}
