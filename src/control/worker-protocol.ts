/**
 * @module worker-protocol: the messages between the main thread and the
 * other worker threads. None is sent per connection: a worker starts with a
 * config, is told of each reload and of rare target news, and is asked to
 * drain; everything per connection goes through the board (src/sys/board.ts).
 */
import type { Tidings } from "../upstream/tidings.ts";
import type { DirectoryEntries } from "../sys/board.ts";
import type { Config } from "../config/types.ts";
import type { LogSettings } from "../sys/log.ts";

/** ToWorker: what the main thread sends a worker. */
export type ToWorker =
  | {
      type: "start";
      /** this worker's row on the board (1…workers-1; the main thread is 0). */
      index: number;
      workers: number;
      buffer: SharedArrayBuffer;
      /** the per-client connection counts (src/datapath/client-counts.ts). */
      clients: SharedArrayBuffer;
      config: Config;
      directory: DirectoryEntries;
      /** each app's last DNS answers, so a worker started late expands host names as the owner does. */
      known: [app: string, known: [string, string[]][]][];
      log: Partial<LogSettings>;
      configPath: string;
      fdLimit: number | undefined;
      /** listening sockets of the process this one upgrades that this worker adopts, by port (src/control/inherit.ts). */
      inherit?: [port: number, fds: number[]][];
    }
  | { type: "apply"; config: Config; directory: DirectoryEntries; log: Partial<LogSettings> }
  | { type: "tidings"; news: Tidings; directory?: DirectoryEntries }
  | { type: "shutdown"; delayMs: number; timeoutMs: number }
  /** a debug build's injected fault (see src/sys/debug.ts): the worker throws from a timer, or its loop spins for ever. */
  | { type: "fault"; fault: Fault };

/** Fault: what the debug hook can make a worker do. */
export type Fault = "crash" | "hang";

/** FromWorker: what a worker sends the main thread. */
export type FromWorker =
  /** `listeners`: its listening sockets by port, which a binary upgrade hands over (src/control/upgrade.ts). */
  | { type: "ready"; listeners: [port: number, fds: number[]][] }
  | { type: "failed"; error: string }
  | { type: "applied"; error?: string; listeners?: [port: number, fds: number[]][] }
  | { type: "tidings"; news: Tidings }
  /** its ports are closed (the drain has begun). */
  | { type: "closed" }
  | { type: "bye"; forced: number };

/** WorkerInfo is one worker thread as /status shows it. */
export interface WorkerInfo {
  worker: number;
  active: number;
  restarts: number;
  started_at: string;
}
