/**
 * @module health/probe: one health probe (a TCP connect, then optionally
 * bytes sent and a reply expected), and the guarantee that a probe never
 * outlives its timeout by holding a socket.
 *
 * Bun.connect gives no handle before `open`, so a probe to a target that
 * drops SYNs cannot be cancelled: its socket sits in SYN-SENT for about two
 * minutes while the kernel retries, and a probe every second would pile up
 * fds until the table is full. node:net's socket can be destroyed while it
 * connects, which closes the fd at once (docs/BUN-SOCKETS.md), but importing
 * node:net costs the binary ~9 ms and ~5 MB at start-up. So probes start on
 * Bun.connect, and a target whose probe ever timed out before connecting is
 * probed through node:net from then on, loaded the first time it is needed.
 * Each target therefore holds at most one abandoned socket, once, until the
 * kernel gives up. A probe that connected and then times out waiting for its
 * reply has a handle, and is reset at once.
 */
import type { Socket } from "bun";
import type { HealthConfig } from "../../config/types.ts";
import { dialError } from "../../sys/limits.ts";
import { formatEndpoint } from "../../net/target.ts";
import { ReplyMatcher } from "./reply.ts";

/**
 * Conversation is what a probe does once connected: write `send`, then read
 * until the reply starts with `expect`. Neither set (or both empty): the
 * connect alone is the check.
 */
export type Conversation = Pick<HealthConfig, "send" | "expect">;

/**
 * Probe checks host:port within `timeoutMs` (counted from the start, connect
 * included) and resolves null on success or the failure's reason. It never rejects.
 */
export type Probe = (host: string, port: number, timeoutMs: number, conversation?: Conversation) => Promise<string | null>;

/** probeSockets counts sockets of timed-out Bun.connect probes that the kernel has not settled yet. */
export const probeSockets = { abandoned: 0 };

/** targets (host:port) whose probes must be cancellable: one of theirs once timed out while connecting. */
const needsCancel = new Set<string>();

type NetModule = typeof import("node:net");
let net: NetModule | Promise<NetModule> | undefined;

/**
 * tcpProbe connects, then holds the conversation if there is one: it passes
 * once `send` is written in full (with no `expect`) or once the reply starts
 * with `expect`, and fails at the first byte that differs, when the peer
 * closes first, or at the timeout. It reads no more of the reply than `expect`.
 */
export const tcpProbe: Probe = (host, port, timeoutMs, conversation = {}) =>
  needsCancel.has(formatEndpoint(host, port))
    ? netProbe(host, port, timeoutMs, conversation)
    : bunProbe(host, port, timeoutMs, conversation);

function connectTimeout(ms: number): string {
  return `no connection within ${ms}ms`;
}

/** Talk is one probe's conversation in progress: the bytes still to write and the reply still to match. */
class Talk {
  /** what is left of `send` to write; undefined once it is all written. */
  unsent: Uint8Array | undefined;
  readonly reply: ReplyMatcher | undefined;

  constructor({ send, expect }: Conversation) {
    this.unsent = send?.length ? send : undefined;
    this.reply = expect?.length ? new ReplyMatcher(expect) : undefined;
  }

  /** closed is the fail reason when the peer closes (FIN) before the conversation is over. */
  closed(): string {
    return this.unsent !== undefined || this.reply === undefined ? "closed before the request was written" : this.reply.ended();
  }

  /** timedOut is the fail reason when the conversation is not over within `ms`. */
  timedOut(ms: number): string {
    return this.unsent !== undefined || this.reply === undefined ? `request not written within ${ms}ms` : this.reply.timedOut(ms);
  }
}

/** bunProbe exported for tests: the probe every target starts with. */
export function bunProbe(host: string, port: number, timeoutMs: number, conversation: Conversation = {}): Promise<string | null> {
  return new Promise((resolve) => {
    const talk = new Talk(conversation);
    let settled = false;
    let abandoned = false;
    /** the probe's socket from `open` until it is closed; before `open` there is no handle. */
    let sock: Socket | undefined;
    const settle = (result: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      const s = sock;
      // Cleared first: close fires synchronously inside end() and terminate().
      sock = undefined;
      if (result === null) s?.end();
      else s?.terminate();
      resolve(result);
    };
    /** the kernel has answered the abandoned dial: its fd is free (or about to be). */
    const release = () => {
      if (!abandoned) return;
      abandoned = false;
      probeSockets.abandoned--;
    };
    /** write writes what it can of `send`; drain brings the rest. */
    const write = (s: Socket) => {
      if (talk.unsent === undefined) return;
      const n = s.write(talk.unsent);
      if (n < 0) {
        settle(talk.closed());
        return;
      }
      talk.unsent = n < talk.unsent.length ? talk.unsent.subarray(n) : undefined;
      if (talk.unsent === undefined && talk.reply === undefined) settle(null);
    };
    const timer = setTimeout(() => {
      // Connected: the handle closes now. Still connecting: the socket is out of reach until the kernel gives up.
      if (sock !== undefined) settle(talk.timedOut(timeoutMs));
      else {
        abandoned = true;
        probeSockets.abandoned++;
        needsCancel.add(formatEndpoint(host, port));
        settle(connectTimeout(timeoutMs));
      }
    }, timeoutMs);
    Bun.connect({
      hostname: host,
      port,
      socket: {
        open(s) {
          release();
          // A connection that opens after the timeout is still a failed check.
          if (settled) {
            s.terminate();
            return;
          }
          sock = s;
          if (talk.unsent !== undefined) write(s);
          else if (talk.reply === undefined) settle(null);
        },
        drain(s) {
          if (s === sock) write(s);
        },
        data(s, d) {
          if (s !== sock || talk.reply === undefined) return;
          const result = talk.reply.feed(d);
          if (result !== undefined) settle(result);
        },
        end(s) {
          if (s === sock) settle(talk.closed());
        },
        close(s, e) {
          if (s !== sock) return;
          sock = undefined;
          settle(e === undefined ? talk.closed() : dialError(e));
        },
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

/** netProbe exported for tests: the cancellable probe of a target that once timed out while connecting. */
export function netProbe(host: string, port: number, timeoutMs: number, conversation: Conversation = {}): Promise<string | null> {
  const loaded = (net ??= import("node:net").then((m) => (net = m)));
  if (loaded instanceof Promise) return loaded.then(() => netProbe(host, port, timeoutMs, conversation));
  return new Promise((resolve) => {
    const talk = new Talk(conversation);
    let settled = false;
    let connected = false;
    const sock = loaded.connect({ host, port });
    const settle = (result: string | null) => {
      if (settled) return;
      settled = true;
      clearTimeout(timer);
      // destroy() closes the fd even while the socket is still connecting;
      // after a pass everything written is in the kernel, so the close still ends in a FIN.
      sock.destroy();
      resolve(result);
    };
    const timer = setTimeout(() => settle(connected ? talk.timedOut(timeoutMs) : connectTimeout(timeoutMs)), timeoutMs);
    sock.once("connect", () => {
      connected = true;
      if (talk.unsent === undefined) {
        if (talk.reply === undefined) settle(null);
        return;
      }
      // node:net queues what the kernel does not take; the callback runs once all of it went.
      sock.write(talk.unsent, (e) => {
        if (e) {
          settle(dialError(e));
          return;
        }
        talk.unsent = undefined;
        if (talk.reply === undefined) settle(null);
      });
    });
    sock.on("data", (d: Buffer) => {
      if (talk.reply === undefined) return;
      const result = talk.reply.feed(d);
      if (result !== undefined) settle(result);
    });
    sock.once("end", () => settle(talk.closed()));
    sock.once("error", (e) => settle(dialError(e)));
    sock.once("close", () => settle("ECONNRESET"));
  });
}

/** forgetCancellable is for tests: every target goes back to Bun.connect probes. */
export function forgetCancellable(): void {
  needsCancel.clear();
}
