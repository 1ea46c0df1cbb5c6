/**
 * @module health/probe: one TCP health probe, and the guarantee that a probe
 * never outlives its timeout by holding a socket.
 *
 * Bun.connect gives no handle before `open`, so a probe to a target that
 * drops SYNs cannot be cancelled: its socket sits in SYN-SENT for about two
 * minutes while the kernel retries, and a probe every second would pile up
 * fds until the table is full. node:net's socket can be destroyed while it
 * connects, which closes the fd at once (docs/BUN-SOCKETS.md), but importing
 * node:net costs the binary ~9 ms and ~5 MB at start-up. So probes start on
 * Bun.connect, and a target whose probe ever timed out is probed through
 * node:net from then on, loaded the first time it is needed. Each target
 * therefore holds at most one abandoned socket, once, until the kernel gives up.
 */
import { dialError } from "../limits.ts";
import { formatEndpoint } from "../target.ts";

/** Probe connects to host:port and resolves null on success or the failure's reason. It never rejects. */
export type Probe = (host: string, port: number, timeoutMs: number) => Promise<string | null>;

/** probeSockets counts sockets of timed-out Bun.connect probes that the kernel has not settled yet. */
export const probeSockets = { abandoned: 0 };

/** targets (host:port) whose probes must be cancellable: one of theirs once timed out. */
const needsCancel = new Set<string>();

type NetModule = typeof import("node:net");
let net: NetModule | Promise<NetModule> | undefined;

/** tcpProbe is a plain TCP connect: success means the target accepted the connection. */
export const tcpProbe: Probe = (host, port, timeoutMs) =>
  needsCancel.has(formatEndpoint(host, port)) ? netProbe(host, port, timeoutMs) : bunProbe(host, port, timeoutMs);

function timeoutReason(ms: number): string {
  return `no connection within ${ms}ms`;
}

function bunProbe(host: string, port: number, timeoutMs: number): Promise<string | null> {
  return new Promise((resolve) => {
    let settled = false;
    let abandoned = false;
    const settle = (result: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      resolve(result);
    };
    /** the kernel has answered the abandoned dial: its fd is free (or about to be). */
    const release = () => {
      if (!abandoned) return;
      abandoned = false;
      probeSockets.abandoned--;
    };
    const timer = setTimeout(() => {
      abandoned = true;
      probeSockets.abandoned++;
      needsCancel.add(formatEndpoint(host, port));
      settle(timeoutReason(timeoutMs));
    }, timeoutMs);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(s) {
          release();
          // A connection that opens after the timeout is still a failed check.
          if (settled) s.terminate();
          else {
            settle(null);
            s.end();
          }
        },
        data() {},
        connectError(_s, e) {
          release();
          settle(dialError(e));
        },
        error() {},
      },
    }).catch((e: unknown) => {
      release();
      settle(dialError(e));
    });
  });
}

function netProbe(host: string, port: number, timeoutMs: number): Promise<string | null> {
  const loaded = (net ??= import("node:net").then((m) => (net = m)));
  if (loaded instanceof Promise) return loaded.then(() => netProbe(host, port, timeoutMs));
  return new Promise((resolve) => {
    let settled = false;
    const sock = loaded.connect({ host, port });
    const settle = (result: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // destroy() closes the fd even while the socket is still connecting.
      sock.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle(timeoutReason(timeoutMs)), timeoutMs);
    sock.once("connect", () => settle(null));
    sock.once("error", (e) => settle(dialError(e)));
    sock.once("close", () => settle("ECONNRESET"));
  });
}

/** forgetCancellable is for tests: every target goes back to Bun.connect probes. */
export function forgetCancellable(): void {
  needsCancel.clear();
}

