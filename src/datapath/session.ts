/**
 * @module session: one client connection (downstream) and the target
 * connection (upstream) made for it: dialling with timeout and failover, two
 * Pipes, half-close in both directions, and exactly one CloseReason.
 *
 * Half-close: both sockets allow half-open, a FIN from one side becomes
 * shutdown() on the other once its queue is flushed, and the session closes
 * only when both directions are finished. Bun's end() is a full close, so it
 * is used only for that final teardown (docs/BUN-SOCKETS.md).
 *
 * The one promise a proxy makes is that what arrives is what was sent, and
 * that a cut stream never looks complete. Its invariant, enforced here:
 *
 * 1. A FIN reaches a peer only after the other peer really ended (Bun's `end`
 *    handler) and every byte it sent before has been written on (Pipe.flush
 *    shuts the destination only when its queue is empty).
 * 2. Once either socket has failed, both are reset (terminate()), at once and
 *    whatever Bun delivers afterwards. A socket has failed when
 *    - a write to it returned -1 (Pipe.push/flush return false), or
 *    - its `close` came with an error, or
 *    - its `close` came without one although we had not shut its write side:
 *      Bun reports a peer's FIN as `close` with no `end` only after our own
 *      shutdown(); any other bare `close` is a socket lost under us.
 *    The first rule matters most: a send() on a socket the peer has reset
 *    returns the error and clears it, so the next read sees end-of-file and
 *    Bun calls `end`, a clean FIN to every appearance. Waiting for Bun's next
 *    event after a failed write would pass that reset on as a FIN.
 * 3. Policy closes (idle timeout, a drain deadline) reset when bytes are still
 *    owed to either peer, so a stream cut by sluice never looks complete either.
 *
 * `firstClose` records who ended first, for the access log: the peer whose
 * FIN or failure came first, else sluice (a failed dial, a timeout, a drain,
 * a shutdown, an internal error). It is only recorded; it decides nothing.
 *
 * test/unit/session.test.ts drives a Session with fake sockets through every
 * order of these events that Bun can deliver.
 */
import type { Socket, SocketHandler } from "bun";
import { HIGH_WATER_MARK, Pipe } from "./pipe.ts";
import type { Preface } from "./preface.ts";
import { sideOf, type CloseReason, type CloseSide } from "./close-reason.ts";
import { errorCode } from "../sys/errors.ts";
import { dialError, type Limits } from "../sys/limits.ts";
import type { Pool, TargetState } from "../upstream/pool.ts";
import { capReceiveBuffer } from "../sys/receive-buffer.ts";
import { coarse, type Sweepable, type Sweeper } from "../sys/sweeper.ts";

/** SessionHost is what a session needs from the app it belongs to. */
export interface SessionHost {
  readonly pool: Pool;
  readonly connectTimeoutMs: number;
  readonly dials: Sweeper;
  readonly limits: Limits;
  /** a dial of `target` starts (the session's `dialled`-th); for debug logs. */
  dialing?(session: Session, target: TargetState): void;
  /** a dial failed or timed out: passive health marking, counters, logs. */
  dialFailed(target: TargetState, error: string): void;
  /** the target connected; `session.connectMs` is set. */
  connected(session: Session): void;
  /** a handler threw: a bug in sluice, logged and the session reset. */
  internalError(error: unknown): void;
  /** the session is over; called exactly once. */
  sessionClosed(session: Session): void;
  /** every untried target is at its max_connections: queue the session (true) or not (false: it is closed, reason `limit`). */
  enqueue?(session: Session): boolean;
  /** the client sent a chunk while its preface (PROXY header, ClientHello) is still being read. */
  prefaceData?(session: Session, chunk: Uint8Array): void;
  /** the client finished sending before its preface was complete. */
  prefaceEnded?(session: Session): void;
  /** test hook: starts a dial instead of Bun.connect; the answer comes back through the Session's upstream methods. */
  readonly connect?: (target: TargetState, attempt: Attempt) => void;
}

/** Attempt is one dial of one target; a late answer to a superseded attempt is dropped. */
export class Attempt implements Sweepable {
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
    this.session.host.limits.abandon();
  }

  /** settled: the late open or error of an abandoned dial has arrived. */
  settled(): void {
    if (!this.abandoned) return;
    this.abandoned = false;
    this.session.host.limits.settle();
  }
}

type Upstream = Socket<Attempt>;
type Downstream = Socket<Session>;

/** PICK_RETRIES bounds how often dial picks again after a place freed in another worker between its reads. */
const PICK_RETRIES = 3;

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
  /** who ended or failed first; set by the first end, failure or close. */
  firstClose: CloseSide | undefined;
  /** targets dialled, the one that connected included. */
  dialled = 0;
  /** the listening port that accepted the client. */
  port = 0;
  /** the client's `ip:port`, read at accept when the access log is on (Bun forgets the port once closed). */
  client: string | undefined;
  /** when the client was accepted (performance.now()). */
  readonly openedAt = performance.now();
  /** ms from accept (or from the end of the preface) to the target's connect; undefined until a dial succeeds. */
  connectMs: number | undefined;
  /** where connectMs counts from: accept, or the moment the preface was complete (a client's own slowness is not sluice's). */
  connectFrom = this.openedAt;
  /** when bytes last moved; read fresh here because coarse.now is stale after a quiet spell. */
  lastActive = (coarse.now = performance.now());
  /** the pool this session dials from when not the app's own (an SNI route's). */
  pool: Pool | null = null;
  /** set while the client's preface is read: nothing is dialled until it is complete. */
  preface: Preface | null = null;
  /** a PROXY protocol header to write to the target before anything else. */
  proxyHeader: Uint8Array | null = null;
  /** the client IP this session counts against in max_connections_per_client. */
  clientKey: string | undefined;
  /** the target's reads are capped at the mark (or that was tried): see fromUpstream. */
  readsCapped = false;

  constructor(
    readonly host: SessionHost,
    readonly down: Downstream,
    readonly idleTimeoutMs = 0,
    bufferSize = HIGH_WATER_MARK,
  ) {
    this.upPipe = new Pipe(down, bufferSize);
    this.downPipe = new Pipe(null, bufferSize);
    this.downPipe.dst = down;
  }

  /** dial picks the next untried target and connects; with none left the client is closed. */
  dial(): void {
    const pool = this.pool ?? this.host.pool;
    let target = pool.pick(this.tried);
    // pick and waiting read the targets' counts one after the other, and another worker may free a place in
    // between: then pick found every target full and waiting finds one with room. That client must be dialled
    // (or queued), not closed, so pick again, a bounded number of times.
    for (let again = 0; target === undefined && again < PICK_RETRIES; again++) {
      if (pool.waiting(this.tried)) {
        if (this.host.enqueue?.(this)) return;
        return this.close("limit");
      }
      if (!pool.capped) break;
      target = pool.pick(this.tried);
    }
    if (target === undefined) {
      this.close(this.tried === null ? "no-target" : "connect-failed");
      return;
    }
    // Another worker may have taken the target's last place since pick looked; then it is full and pick skips it.
    if (!target.acquire()) return this.dial();
    this.target = target;
    this.dialled++;
    this.host.dialing?.(this, target);
    const attempt = new Attempt(this, target, performance.now() + this.host.connectTimeoutMs);
    this.attempt = attempt;
    this.host.dials.add(attempt);
    try {
      (this.host.connect ?? connectUpstream)(target, attempt);
    } catch (e) {
      this.dialFailed(attempt, (e as { code?: string }).code ?? "EINVAL");
    }
  }

  /** dialFailed moves on to the next target; stale attempts are ignored. */
  dialFailed(attempt: Attempt, error: string): void {
    if (attempt !== this.attempt || this.up !== null) return;
    this.attempt = null;
    this.host.dials.delete(attempt);
    attempt.target.release();
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
    attempt.target.connected();
    this.connectMs = performance.now() - this.connectFrom;
    this.host.connected(this);
    this.up = up;
    this.upPipe.dst = up;
    this.downPipe.src = up;
    if (this.proxyHeader !== null) this.upPipe.prepend(this.proxyHeader);
    if (!this.upPipe.flush()) return this.close("target-reset");
    this.#check();
  }

  fromDownstream(chunk: Uint8Array): void {
    this.lastActive = coarse.now;
    if (this.preface !== null) return this.host.prefaceData!(this, chunk);
    if (!this.upPipe.push(chunk)) this.close("target-reset");
  }

  fromUpstream(chunk: Uint8Array): void {
    this.lastActive = coarse.now;
    const p = this.downPipe;
    // A target that sends more than the mark gets its reads capped at the mark, so a client that stops reading
    // pins no more than that. Done here, not at connect: a short reply (most connections) never costs the syscall.
    if (!this.readsCapped && p.bytes + p.queued + chunk.length > p.highWater) {
      this.readsCapped = true;
      if (capReceiveBuffer(this.up!, p.highWater)) p.setReadCap(p.highWater);
    }
    if (!p.push(chunk)) this.close("client-reset");
  }

  downstreamDrain(): void {
    this.lastActive = coarse.now;
    if (!this.downPipe.flush()) return this.close("client-reset");
    this.#check();
  }

  upstreamDrain(): void {
    this.lastActive = coarse.now;
    if (!this.upPipe.flush()) return this.close("target-reset");
    this.#check();
  }

  /** downstreamEnd is the client's FIN: pass it on, keep the reply flowing. */
  downstreamEnd(): void {
    this.firstClose ??= "client";
    if (this.preface !== null) return this.host.prefaceEnded!(this);
    this.reason ??= "client-closed";
    this.upPipe.end(this.downPipe.done);
    this.#check();
  }

  upstreamEnd(): void {
    this.firstClose ??= "target";
    this.reason ??= "target-closed";
    this.downPipe.end(this.upPipe.done);
    this.#check();
  }

  /**
   * downstreamClose: a bare close is the client's FIN only after we shut our
   * side to it (rule 2); then what it sent still goes on to the target.
   */
  downstreamClose(error: Error | undefined): void {
    if (this.closed) return;
    this.firstClose ??= "client";
    if (error !== undefined || !this.downPipe.dstShut) return this.close("client-reset");
    this.reason ??= "client-closed";
    this.upPipe.end(true);
    this.#check();
  }

  upstreamClose(attempt: Attempt, error: Error | undefined): void {
    if (this.closed || attempt !== this.attempt) return;
    // Before `open` a close is a failed dial, whichever of close and connectError comes first.
    if (this.up === null) return this.dialFailed(attempt, error === undefined ? "ECONNRESET" : errorCode(error));
    this.firstClose ??= "target";
    if (error !== undefined || !this.upPipe.dstShut) return this.close("target-reset");
    this.reason ??= "target-closed";
    this.downPipe.end(true);
    this.#check();
  }

  /** sweep enforces the idle timeout; the app's idle sweeper calls it. */
  sweep(now: number): boolean {
    if (this.closed) return true;
    if (now - this.lastActive < this.idleTimeoutMs) return false;
    this.close("idle-timeout");
    return true;
  }

  /**
   * close tears both sockets down. Only a session whose two directions both
   * passed on a real FIN closes cleanly, and keeps the reason of the side that
   * finished first; any other close (a failure, a failed dial, a timeout, a
   * drain deadline) is a cut stream: both peers get a reset and `reason` says
   * why (rules 2 and 3).
   */
  close(reason: CloseReason): void {
    if (this.closed) return;
    this.closed = true;
    const clean = this.upPipe.dstShut && this.downPipe.dstShut;
    this.reason = clean ? (this.reason ?? reason) : reason;
    this.firstClose ??= sideOf(reason);
    const attempt = this.attempt;
    if (attempt !== null && this.up === null) {
      this.host.dials.delete(attempt);
      attempt.abandon();
      this.attempt = null;
    }
    this.upPipe.discard();
    this.downPipe.discard();
    if (clean) {
      // close(), unlike end(), skips a TCP_CORK setsockopt; nothing is corked here.
      this.down.close();
      this.up?.close();
    } else {
      this.down.terminate();
      this.up?.terminate();
    }
    if (this.target !== null) this.target.release();
    this.host.sessionClosed(this);
  }

  #check(): void {
    if (this.upPipe.done && this.downPipe.done) this.close(this.reason ?? "client-closed");
  }
}

function connectUpstream(target: TargetState, attempt: Attempt): void {
  void Bun.connect({ hostname: target.host, port: target.port, data: attempt, allowHalfOpen: true, socket: upstreamHandlers });
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
    s.data.session.dialFailed(s.data, dialError(error));
  },
  error: (s, error) => {
    s.data.session.host.internalError(error);
    s.data.session.close("internal-error");
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
    s.data?.close("internal-error");
  },
};
