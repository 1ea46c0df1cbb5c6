/**
 * @module client-queue: an app's clients waiting for a target with room
 * (every target they may use is at its max_connections), first come, first
 * served within this worker thread, each until its queue_timeout; one still
 * waiting then is reset as `limit`. A waiting client holds no target socket
 * (its bytes wait in its pipe, which pauses it at the mark). The count of
 * waiting clients is on the board for /status, summed over workers.
 */
import { A, type Cell } from "../sys/board.ts";
import type { Pool } from "../upstream/pool.ts";
import type { CloseReason } from "./close-reason.ts";
import type { Session } from "./session.ts";
import { WaitQueue } from "../sys/wait-queue.ts";

export class ClientQueue {
  readonly #waiting = new WaitQueue<Session>((s) => s.close("limit"));

  constructor(private readonly cell: Cell) {}

  /** add queues `s` for `waitMs`. */
  add(s: Session, waitMs: number): void {
    this.#waiting.add(s, waitMs);
    this.#sync();
  }

  /**
   * serve dials, oldest first, every waiting client whose pool (`pool` unless
   * it has an SNI route's) has a target with room now. It returns whether
   * clients queued in other workers may be waiting too (the board counts
   * more than this worker's).
   */
  serve(pool: Pool): boolean {
    this.#waiting.serve(
      (s) => !(s.pool ?? pool).waiting(s.tried),
      (s) => s.dial(),
    );
    this.#sync();
    return this.cell.level(A.QUEUED) > this.cell.mine(A.QUEUED);
  }

  /** drop closes every waiting client with `reason` (shutdown): none of them should be dialled on the way out. */
  drop(reason: CloseReason): number {
    const waiting = this.#waiting.drain();
    this.#sync();
    for (const s of waiting) s.close(reason);
    return waiting.length;
  }

  /** cancel stops the queue's timers (process exit). */
  cancel(): void {
    this.#waiting.cancel();
    this.#sync();
  }

  /** #sync puts this worker's queue length on the board. */
  #sync(): void {
    const d = this.#waiting.size - this.cell.mine(A.QUEUED);
    if (d !== 0) this.cell.raise(A.QUEUED, d);
  }
}
