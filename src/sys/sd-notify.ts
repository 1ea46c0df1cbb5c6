/**
 * @module sd-notify: tells systemd how the service is doing, as
 * sd_notify(3) does: one datagram to the Unix socket named by NOTIFY_SOCKET
 * (unset outside a `Type=notify` unit: then nothing is sent). sluice says
 * READY=1 once its ports accept, STOPPING=1 when it drains for a stop, and,
 * in a binary upgrade, MAINPID= of the process that replaces it, so that
 * systemd follows the new main process instead of treating the old one's
 * exit as the service's end (the unit needs NotifyAccess=all for the new
 * process's own READY=1).
 */
import { libc } from "./libc.ts";

const AF_UNIX = 1;
const SOCK_DGRAM = 2;
const SOCK_CLOEXEC = 0o2000000;
const MSG_NOSIGNAL = 0x4000;
/** sizeof(sockaddr_un.sun_path) on Linux. */
const SUN_PATH = 108;

/** notifyAddress builds the sockaddr_un for `path` ("@name" is the abstract name "\0name"); undefined when it cannot be one. */
export function notifyAddress(path: string): Uint8Array | undefined {
  const name = new TextEncoder().encode(path.startsWith("@") ? `\0${path.slice(1)}` : path);
  if (name.length === 0 || name.length >= SUN_PATH || (path[0] !== "/" && path[0] !== "@")) return undefined;
  const addr = new Uint8Array(2 + name.length);
  addr[0] = AF_UNIX; // sa_family, little-endian u16
  addr.set(name, 2);
  return addr;
}

/** sdNotify sends `state` (e.g. "READY=1") to systemd; false when there is no notify socket or it could not be sent. */
export function sdNotify(state: string, socketPath = process.env.NOTIFY_SOCKET): boolean {
  if (socketPath === undefined || socketPath === "") return false;
  const addr = notifyAddress(socketPath);
  const c = libc();
  if (addr === undefined || typeof c === "string") return false;
  const fd = c.socket(AF_UNIX, SOCK_DGRAM | SOCK_CLOEXEC, 0);
  if (fd < 0) return false;
  try {
    const data = new TextEncoder().encode(state);
    return c.sendto(fd, data, MSG_NOSIGNAL, addr) === data.length;
  } finally {
    c.close(fd);
  }
}
