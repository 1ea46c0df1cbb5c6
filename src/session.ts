/**
 * @module session: one client connection (downstream) and the target
 * connection (upstream) made for it: dialling with timeout and failover, two
 * Pipes, half-close in both directions, and exactly one CloseReason.
 *
 * Half-close follows BUN-NOTES §2: both sockets allow half-open, a FIN from
 * one side becomes shutdown() on the other once its queue is flushed, and the
 * session closes only when both directions are finished. Bun's end() is a
 * full close, so it is used only for that final teardown.
 */
import type { Socket, SocketHandler } from "bun";
import { Pipe } from "./pipe.ts";
import { errorCode } from "./errors.ts";
import type { Limits } from "./limits.ts";
import type { Pool, TargetState } from "./pool.ts";
import { coarse, type Sweepable, type Sweeper } from "./sweeper.ts";

export type CloseReason =
  | "client-closed"
  | "target-closed"
  | "client-reset"
  | "target-reset"
  | "connect-failed"
  | "no-target"
  | "idle-timeout"
  | "shutdown"
  | "internal-error";

/** SessionHost is what a session needs from the app it belongs to. */
export interface SessionHost {
  readonly pool: Pool;
  readonly connectTimeoutMs: number;
  readonly dials: Sweeper;
  readonly limits: Limits;
  /** a dial failed or timed out: passive health marking, counters, logs. */
  dialFailed(target: TargetState, error: string): void;
  /** a handler threw: a bug in sluice, logged and the session reset. */
  internalError(error: unknown): void;
  /** the session is over; called exactly once. */
  sessionClosed(session: Session): void;
}

/** Attempt is one dial of one target; a late answer to a superseded attempt is dropped. */
class Attempt implements Sweepable {
  /** counted in limits.abandonedDials until the kernel settles the dial. */
  abandoned = false;

  constructor(
    readonly session: Session,
    readonly target: TargetState,
    readonly deadline: number,
  ) {}

  sweep(now: number): boolean {
    if (now < this.deadline) return false;
    this.abandon();
    this.session.dialFailed(this, "ETIMEDOUT");
    return true;
  }

  /** abandon: the session no longer wants this dial, but its socket still holds an fd. */
  abandon(): void {
    if (this.abandoned) return;
    this.abandoned = true;
    this.session.host.limits.abandonedDials++;
  }

  /** settled: the late open or error of an abandoned dial has arrived. */
  settled(): void {
    if (!this.abandoned) return;
    this.abandoned = false;
    this.session.host.limits.abandonedDials--;
  }
}

type Upstream = Socket<Attempt>;
type Downstream = Socket<Session>;

export class Session implements Sweepable {
  up: Upstream | null = null;
  target: TargetState | null = null;
  /** the attempt in flight, or the one that connected. */
  attempt: Attempt | null = null;
  tried: TargetState[] | null = null;
  /** client → target. */
  readonly upPipe: Pipe;
  /** target → client. */
  readonly downPipe: Pipe;
  closed = false;
  reason: CloseReason | undefined;
  /** when bytes last moved; read fresh here because coarse.now is stale after a quiet spell. */
  lastActive = (coarse.now = performance.now());

  constructor(
    readonly host: SessionHost,
    readonly down: Downstream,
    readonly idleTimeoutMs = 0,
  ) {
    this.upPipe = new Pipe(down);
    this.downPipe = new Pipe(null);
    this.downPipe.dst = down;
  }

  /** dial picks the next untried target and connects; with none left the client is closed. */
  dial(): void {
    const target = this.host.pool.pick(this.tried);
    if (target === undefined) {
      this.close(this.tried === null ? "no-target" : "connect-failed");
      return;
    }
    this.target = target;
    target.active++;
    const attempt = new Attempt(this, target, performance.now() + this.host.connectTimeoutMs);
    this.attempt = attempt;
    this.host.dials.add(attempt);
    try {
      void Bun.connect({ hostname: target.host, port: target.port, data: attempt, allowHalfOpen: true, socket: upstreamHandlers });
    } catch (e) {
      this.dialFailed(attempt, (e as { code?: string }).code ?? "EINVAL");
    }
  }

  /** dialFailed moves on to the next target; stale attempts are ignored. */
  dialFailed(attempt: Attempt, error: string): void {
    if (attempt !== this.attempt || this.up !== null) return;
    this.attempt = null;
    this.host.dials.delete(attempt);
    attempt.target.active--;
    this.target = null;
    this.host.dialFailed(attempt.target, error);
    (this.tried ??= []).push(attempt.target);
    if (!this.closed) this.dial();
  }

  upstreamOpen(attempt: Attempt, up: Upstream): void {
    if (attempt !== this.attempt || this.closed) {
      attempt.settled();
      up.terminate();
      return;
    }
    this.host.dials.delete(attempt);
    attempt.target.total++;
    this.up = up;
    this.upPipe.dst = up;
    this.downPipe.src = up;
    this.upPipe.flush();
    this.#check();
  }

  fromDownstream(chunk: Uint8Array): void {
    this.lastActive = coarse.now;
    if (!this.upPipe.push(chunk)) this.#check();
  }

  fromUpstream(chunk: Uint8Array): void {
    this.lastActive = coarse.now;
    if (!this.downPipe.push(chunk)) this.#check();
  }

  downstreamDrain(): void {
    this.lastActive = coarse.now;
    this.downPipe.flush();
    this.#check();
  }

  upstreamDrain(): void {
    this.lastActive = coarse.now;
    this.upPipe.flush();
    this.#check();
  }

  /** downstreamEnd is the client's FIN: pass it on, keep the reply flowing. */
  downstreamEnd(): void {
    this.reason ??= "client-closed";
    this.upPipe.end(this.downPipe.done);
    this.#check();
  }

  upstreamEnd(): void {
    this.reason ??= "target-closed";
    this.downPipe.end(this.upPipe.done);
    this.#check();
  }

  downstreamClose(error: Error | undefined): void {
    if (this.closed) return;
    if (error !== undefined) return this.close("client-reset", true);
    this.reason ??= "client-closed";
    // The client can take nothing more; what it sent still goes to the target.
    this.downPipe.detach();
    this.upPipe.end(true);
    this.#check();
  }

  upstreamClose(attempt: Attempt, error: Error | undefined): void {
    if (this.closed || attempt !== this.attempt) return;
    if (error !== undefined) return this.close("target-reset", true);
    this.reason ??= "target-closed";
    this.upPipe.detach();
    this.downPipe.end(true);
    this.#check();
  }

  /** sweep enforces the idle timeout; the app's idle sweeper calls it. */
  sweep(now: number): boolean {
    if (this.closed) return true;
    if (now - this.lastActive < this.idleTimeoutMs) return false;
    // Bytes still queued mean the stream is cut short: reset, so the peer cannot take it for a clean end.
    this.close("idle-timeout", this.upPipe.queued + this.downPipe.queued > 0);
    return true;
  }

  /** close tears both sockets down; `reset` sends RST (a peer reset is passed on as one). */
  close(reason: CloseReason, reset = false): void {
    if (this.closed) return;
    this.closed = true;
    // A failed dial outranks an earlier client FIN: the client got nothing.
    const final = reset || reason === "connect-failed" || reason === "no-target";
    this.reason = final ? reason : (this.reason ?? reason);
    const attempt = this.attempt;
    if (attempt !== null && this.up === null) {
      this.host.dials.delete(attempt);
      attempt.abandon();
      this.attempt = null;
    }
    if (reset) {
      this.down.terminate();
      this.up?.terminate();
    } else {
      // close(), unlike end(), skips a TCP_CORK setsockopt; nothing is corked here.
      this.down.close();
      this.up?.close();
    }
    if (this.target !== null) this.target.active--;
    this.host.sessionClosed(this);
  }

  #check(): void {
    if (this.upPipe.done && this.downPipe.done) this.close(this.reason ?? "client-closed");
  }
}

/** upstreamHandlers is shared by every dialled socket; per-socket state lives in `data`. */
const upstreamHandlers: SocketHandler<Attempt> = {
  open: (s) => s.data.session.upstreamOpen(s.data, s),
  data: (s, chunk) => s.data.session.fromUpstream(chunk),
  drain: (s) => s.data.session.upstreamDrain(),
  end: (s) => {
    const a = s.data;
    if (a === a.session.attempt) a.session.upstreamEnd();
  },
  close: (s, error) => s.data.session.upstreamClose(s.data, error),
  connectError: (s, error) => {
    s.data.settled();
    s.data.session.dialFailed(s.data, errorCode(error));
  },
  error: (s, error) => {
    s.data.session.host.internalError(error);
    s.data.session.close("internal-error", true);
  },
};

/** downstreamHandlers serve every accepted socket; a listener adds its own `open`. */
export const downstreamHandlers: Omit<SocketHandler<Session>, "open"> = {
  data: (s, chunk) => s.data?.fromDownstream(chunk),
  drain: (s) => s.data?.downstreamDrain(),
  end: (s) => s.data?.downstreamEnd(),
  close: (s, error) => s.data?.downstreamClose(error),
  error: (s, error) => {
    s.data?.host.internalError(error);
    s.data?.close("internal-error", true);
  },
};
