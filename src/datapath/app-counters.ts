/**
 * @module app-counters: one app's numbers on the board (src/sys/board.ts), as
 * /status and /metrics read them: totals over every worker thread. The data
 * path adds to them without a call (Pipe's tallies); everything else goes
 * through the methods here.
 */
import { A, cellStore, type Cell } from "../sys/board.ts";
import { CONNECT_BUCKETS_S, Histogram } from "../sys/histogram.ts";
import type { Pipe } from "./pipe.ts";
import { CLOSE_REASONS, type CloseReason } from "./close-reason.ts";

/** closedAt is the board field of a close reason's counter. */
const closedAt = new Map(CLOSE_REASONS.map((r, i) => [r, A.CLOSED_BY + i]));

export class AppCounters {
  /** seconds from accept to the target's connect, of every session that connected. */
  readonly connectDuration: Histogram;
  readonly #bytesUp: { f64: Float64Array; at: number };
  readonly #bytesDown: { f64: Float64Array; at: number };
  /** the row field of BUFFERED_DOWN; BUFFERED_UP sits at a fixed offset from it. */
  readonly #buffered: { f64: Float64Array; at: number };

  constructor(readonly cell: Cell) {
    this.connectDuration = new Histogram(CONNECT_BUCKETS_S, cellStore(cell, A.HISTOGRAM));
    this.#bytesUp = cell.counter(A.BYTES_UP);
    this.#bytesDown = cell.counter(A.BYTES_DOWN);
    this.#buffered = cell.counter(A.BUFFERED_DOWN);
  }

  /** wire has a session's pipes count their bytes, forwarded and held, into this app's cells. */
  wire(up: Pipe, down: Pipe): void {
    up.tally = this.#bytesUp.f64;
    up.tallyAt = this.#bytesUp.at;
    down.tally = this.#bytesDown.f64;
    down.tallyAt = this.#bytesDown.at;
    up.held = down.held = this.#buffered.f64;
    up.heldAt = this.#buffered.at + (A.BUFFERED_UP - A.BUFFERED_DOWN);
    down.heldAt = this.#buffered.at;
  }

  /** client connections accepted, by every worker. */
  get accepted(): number {
    return this.cell.get(A.ACCEPTED);
  }
  /** clients closed at once at a connection cap. */
  get rejected(): number {
    return this.cell.get(A.REJECTED);
  }
  /** clients closed because no target could be reached. */
  get failed(): number {
    return this.cell.get(A.FAILED);
  }
  /** dials that failed for want of a local resource (EMFILE, …), not through the target's fault. */
  get localErrors(): number {
    return this.cell.get(A.LOCAL_ERRORS);
  }
  /** open client connections, in every worker. */
  get open(): number {
    return this.cell.level(A.SESSIONS);
  }
  /** clients waiting in the queue now, in every worker. */
  get queued(): number {
    return this.cell.level(A.QUEUED);
  }
  /** finished client connections with `reason`, cap rejections (`limit`) included. */
  closed(reason: CloseReason): number {
    return this.cell.get(closedAt.get(reason)!);
  }
  /** count records one finished (or refused) client connection with `reason`. */
  count(reason: CloseReason): void {
    this.cell.add(closedAt.get(reason)!);
  }
  /** bytes returns the total moved each way by every worker, open sessions included (pipes count as they write). */
  bytes(): { upstream: number; downstream: number } {
    return { upstream: this.cell.get(A.BYTES_UP), downstream: this.cell.get(A.BYTES_DOWN) };
  }
  /** buffered returns the bytes held in every worker's queues now, each way. */
  buffered(): { upstream: number; downstream: number } {
    return { upstream: this.cell.get(A.BUFFERED_UP), downstream: this.cell.get(A.BUFFERED_DOWN) };
  }
}
