/**
 * @module app-shared: what every app of one worker thread shares with the
 * others: the connection caps, the board, the per-client counts, the timer
 * sweeps, and whether this thread is the owner.
 */
import type { Board, Directory } from "../sys/board.ts";
import type { ClientCounts } from "../datapath/client-counts.ts";
import type { Resolver } from "../upstream/discovery.ts";
import type { Limits } from "../sys/limits.ts";
import type { Logger } from "../sys/log.ts";
import type { Sweeper } from "../sys/sweeper.ts";
import type { Tidings } from "../upstream/tidings.ts";

/** Shared is what every app of one proxy (one worker thread) shares. */
export interface Shared {
  readonly limits: Limits;
  /** the numbers every worker thread shares (src/sys/board.ts), and the slots on it; a board of the app's own when absent. */
  readonly board?: Board;
  readonly directory?: Directory;
  /** open connections per client IP (shared by every worker thread); the app's own table when absent. */
  readonly clients?: ClientCounts;
  /**
   * this thread runs the health checks and DNS refreshes (the main thread;
   * true when absent). Other workers take target health, DNS answers and
   * slow starts from it.
   */
  readonly owner?: boolean;
  /** tells the other worker threads about an app (see Tidings); absent with one worker. */
  readonly tell?: (news: Tidings) => void;
  readonly dials: Sweeper;
  readonly idle: Sweeper;
  /** finds pipes paused across a whole sweep, to compact their queues. */
  readonly stalls: Sweeper;
  readonly log: Logger;
  /** resolves host-name targets; the system resolver unless a test injects one. */
  readonly resolve?: Resolver;
  /** called when the last open session of the process closes (shutdown waits on it). */
  readonly onIdle?: () => void;
}
