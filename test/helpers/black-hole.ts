/**
 * blackHole: a loopback port whose SYNs go unanswered, made with Bun alone.
 *
 * Bun.listen cannot set a backlog, so the socket comes from libc through
 * bun:ffi: listen(fd, 0) leaves an accept queue of one, one filler connection
 * takes it, and the kernel then drops every further SYN (a client sees its
 * connect hang until its own timeout, like a firewalled host). Nothing ever
 * accepts, so the filler stays queued until the hole is closed.
 */
import { dlopen, FFIType, ptr } from "bun:ffi";
import { HOST, withTimeout } from "./net.ts";

const AF_INET = 2;
const SOCK_STREAM = 1;

const libc = (() => {
  const symbols = {
    socket: { args: [FFIType.i32, FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    bind: { args: [FFIType.i32, FFIType.ptr, FFIType.u32], returns: FFIType.i32 },
    listen: { args: [FFIType.i32, FFIType.i32], returns: FFIType.i32 },
    getsockname: { args: [FFIType.i32, FFIType.ptr, FFIType.ptr], returns: FFIType.i32 },
    close: { args: [FFIType.i32], returns: FFIType.i32 },
  } as const;
  let last: unknown;
  // glibc names it libc.so.6; musl's loader answers to libc.so.
  for (const name of ["libc.so.6", "libc.so"]) {
    try {
      return dlopen(name, symbols).symbols;
    } catch (e) {
      last = e;
    }
  }
  throw new Error(`blackHole: cannot load libc: ${last}`);
})();

export interface BlackHole extends AsyncDisposable {
  port: number;
}

/** sockaddr_in for 127.0.0.1:port (family in host order, port and address in network order). */
function sockaddr(port: number): Buffer {
  const a = Buffer.alloc(16);
  a.writeUInt16LE(AF_INET, 0);
  a.writeUInt16BE(port, 2);
  a.set([127, 0, 0, 1], 4);
  return a;
}

export async function blackHole(): Promise<BlackHole> {
  const fd = libc.socket(AF_INET, SOCK_STREAM, 0);
  if (fd < 0) throw new Error("blackHole: socket() failed");
  const addr = sockaddr(0);
  const len = new Uint32Array([16]);
  if (libc.bind(fd, ptr(addr), 16) !== 0 || libc.listen(fd, 0) !== 0 || libc.getsockname(fd, ptr(addr), ptr(len)) !== 0) {
    libc.close(fd);
    throw new Error("blackHole: bind/listen/getsockname failed");
  }
  const port = addr.readUInt16BE(2);
  let filler: { terminate(): void };
  try {
    filler = await withTimeout(Bun.connect({ hostname: HOST, port, socket: { data() {}, error() {} } }), 5000, "the black hole's filler connection");
  } catch (e) {
    libc.close(fd);
    throw e;
  }
  return {
    port,
    async [Symbol.asyncDispose]() {
      filler.terminate();
      libc.close(fd);
    },
  };
}
