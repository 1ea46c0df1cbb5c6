/**
 * @module stuck-sockets: resets the connections of a worker thread whose
 * event loop is stuck. Nothing can run in that thread to close them, and Bun
 * does not close them when the thread is stopped, so without this its
 * clients would wait, connected to nothing, until sluice restarts.
 *
 * The thread's sockets are found through its epoll instance: Linux lists
 * every descriptor an epoll watches in /proc/self/fdinfo/<epoll fd> (`tfd:`
 * lines), and the worker's own epoll is the one that watches its listening
 * sockets (which it reported). Each other socket there is one of its
 * sessions' (a client's or a target's). Each is reset: SO_LINGER 0, then its
 * descriptor is replaced (dup2) by one of /dev/null, which drops the last
 * reference to the socket, so the kernel sends an RST, while the descriptor
 * number stays taken and no other thread can be handed it and lose it to a
 * late close from the stopped one.
 */
import { openSync, readdirSync, readFileSync, readlinkSync } from "node:fs";
import { libc } from "./libc.ts";

/** SOL_SOCKET and SO_LINGER (asm-generic/socket.h); struct linger { int l_onoff; int l_linger; }. */
const SOL_SOCKET = 1;
const SO_LINGER = 13;
const ABORT = new Uint8Array(new Int32Array([1, 0]).buffer);

/** epollTargets parses an epoll descriptor's fdinfo: the descriptors it watches. */
export function epollTargets(fdinfo: string): number[] {
  return [...fdinfo.matchAll(/^tfd:\s*(\d+)/gm)].map((m) => Number(m[1]));
}

/**
 * loopSockets lists the sockets watched by the epoll instance that watches
 * any of `listeners`, the listeners themselves left out; a string says why
 * they cannot be found.
 */
export function loopSockets(listeners: readonly number[], proc = "/proc/self"): number[] | string {
  if (listeners.length === 0) return "the worker reported no listening socket";
  const mine = new Set(listeners);
  let fds: string[];
  try {
    fds = readdirSync(`${proc}/fd`);
  } catch (e) {
    return `cannot list ${proc}/fd: ${(e as Error).message}`;
  }
  const link = (fd: number) => {
    try {
      return readlinkSync(`${proc}/fd/${fd}`);
    } catch {
      return "";
    }
  };
  for (const name of fds) {
    const fd = Number(name);
    if (link(fd) !== "anon_inode:[eventpoll]") continue;
    let watched: number[];
    try {
      watched = epollTargets(readFileSync(`${proc}/fdinfo/${fd}`, "utf8"));
    } catch {
      continue;
    }
    if (!watched.some((t) => mine.has(t))) continue;
    return watched.filter((t) => !mine.has(t) && link(t).startsWith("socket:"));
  }
  return "no event loop watches the worker's listening sockets";
}

let devNull: number | undefined;

/** resetSockets resets each socket in `fds` (see the module comment) and returns how many it reset, or why none. */
export function resetSockets(fds: readonly number[]): number | string {
  const c = libc();
  if (typeof c === "string") return c;
  devNull ??= openSync("/dev/null", "r");
  let n = 0;
  for (const fd of fds) {
    c.setsockoptBytes(fd, SOL_SOCKET, SO_LINGER, ABORT);
    if (c.dup2(devNull, fd) === fd) n++;
  }
  return n;
}
