/**
 * @module log-writer: log lines to stderr without ever blocking the event loop.
 *
 * A blocking write(2) to a pipe nobody reads stops the whole process once the
 * pipe's 64 KiB are full: no more accepts, no bytes forwarded, no /healthz.
 * So stderr is made non-blocking when it is a pipe or a socket, and
 * LineQueue writes what the fd accepts, keeps the rest up to a cap, and past
 * the cap drops whole lines and counts them. When the queue has emptied again
 * one line says how many were dropped. At exit the queue is flushed for a
 * bounded time, so the last lines ("bye") still get out when someone reads.
 * docs/LOGGING.md has the experiments behind this (Bun 1.4.5).
 */

import { fstatSync, writeSync } from "node:fs";
import { libc } from "./libc.ts";

/** LOG_QUEUE_BYTES caps what waits in memory for a slow or stuck reader. */
export const LOG_QUEUE_BYTES = 1 << 20;
/** RETRY_MS: how often a backlog is retried; Bun tells nothing when a pipe turns writable again. */
export const RETRY_MS = 20;
/** EXIT_FLUSH_MS bounds the blocking flush at exit. */
export const EXIT_FLUSH_MS = 500;

/** FdLike is where lines go: write returns the bytes taken, or -1 when the fd would block (EAGAIN). Other errors throw. */
export interface FdLike {
  write(bytes: Uint8Array): number;
}

export interface LineQueueOptions {
  capBytes?: number;
  /** arms a one-shot retry; the default is an unref'd setTimeout. */
  schedule?: (fn: () => void, ms: number) => void;
  /** the line reporting `n` dropped lines, in the current format. */
  notice?: (n: number) => string;
  /** told of every `n` lines dropped, as they are (a worker thread counts them on the board). */
  onDrop?: (n: number) => void;
}

const encoder = new TextEncoder();

/**
 * LineQueue writes whole lines to an FdLike, in order, never waiting. A line
 * that does not fit the queue is dropped whole (a torn line would corrupt the
 * next one for a log shipper), counted in `dropped`.
 */
export class LineQueue {
  /** lines dropped since start. */
  dropped = 0;
  /** dropped and not yet reported by a notice line. */
  #unreported = 0;
  #queue: Uint8Array[] = [];
  /** bytes of #queue[0] already written. */
  #offset = 0;
  #bytes = 0;
  #armed = false;
  readonly #cap: number;
  readonly #schedule: (fn: () => void, ms: number) => void;
  readonly #notice: (n: number) => string;
  readonly #onDrop: ((n: number) => void) | undefined;

  constructor(
    readonly fd: FdLike,
    opts: LineQueueOptions = {},
  ) {
    this.#cap = opts.capBytes ?? LOG_QUEUE_BYTES;
    this.#schedule = opts.schedule ?? ((fn, ms) => setTimeout(fn, ms).unref());
    this.#onDrop = opts.onDrop;
    this.#notice = opts.notice ?? ((n) => `${n} log line${n === 1 ? "" : "s"} dropped: stderr was not read fast enough\n`);
  }

  /** queued bytes not yet written. */
  get pending(): number {
    return this.#bytes - this.#offset;
  }

  /** write queues `line` (with its newline) and writes what the fd takes now. */
  write(line: string): void {
    const bytes = encoder.encode(line);
    if (this.#queue.length === 0) {
      const n = this.#put(bytes);
      if (n === bytes.length) return;
      if (n < 0) return this.#drop();
      this.#queue.push(bytes);
      this.#bytes = bytes.length;
      this.#offset = n;
      this.#arm();
      return;
    }
    if (this.#bytes - this.#offset + bytes.length > this.#cap) return this.#drop();
    this.#queue.push(bytes);
    this.#bytes += bytes.length;
  }

  /** flush writes queued lines until the fd would block; true when the queue is empty. */
  flush(): boolean {
    for (;;) {
      if (this.#queue.length === 0) {
        if (this.#unreported === 0) return true;
        // Drained after drops: say how many lines are missing, once.
        const notice = encoder.encode(this.#notice(this.#unreported));
        this.#unreported = 0;
        this.#queue.push(notice);
        this.#bytes = notice.length;
        this.#offset = 0;
      }
      const head = this.#queue[0]!;
      const n = this.#put(this.#offset === 0 ? head : head.subarray(this.#offset));
      if (n < 0) {
        // The fd is gone (EPIPE, EBADF): nothing queued will ever get out.
        this.dropped += this.#queue.length;
        this.#onDrop?.(this.#queue.length);
        this.#queue = [];
        this.#bytes = this.#offset = 0;
        return true;
      }
      this.#offset += n;
      if (this.#offset < head.length) return false;
      this.#queue.shift();
      this.#bytes -= head.length;
      this.#offset = 0;
    }
  }

  /**
   * flushSync is for process exit: it retries until the queue is empty or
   * `ms` have passed, sleeping 1 ms between tries.
   */
  flushSync(ms: number, now = () => performance.now(), sleep = (ms: number) => Bun.sleepSync(ms)): boolean {
    const deadline = now() + ms;
    for (;;) {
      if (this.flush()) return true;
      if (now() >= deadline) return false;
      sleep(1);
    }
  }

  /** #put writes once: bytes taken (0 when the fd would block), or -1 when it failed for good. */
  #put(bytes: Uint8Array): number {
    let n: number;
    try {
      n = this.fd.write(bytes);
    } catch {
      return -1;
    }
    return n < 0 ? 0 : n;
  }

  #drop(): void {
    this.dropped++;
    this.#onDrop?.(1);
    this.#unreported++;
    this.#arm();
  }

  #arm(): void {
    if (this.#armed) return;
    this.#armed = true;
    this.#schedule(() => {
      this.#armed = false;
      if (!this.flush() || this.#unreported > 0) this.#arm();
    }, RETRY_MS);
  }
}

/**
 * stderrFd is fd 2 as an FdLike. When stderr is a pipe or a socket it is
 * switched to O_NONBLOCK (through libc's fcntl; Bun has no API for it) and
 * `restore` switches it back: the flag belongs to the open file description,
 * which other processes (a shell, a sibling) may share. A terminal or a file
 * is left blocking: neither stalls for long, and a terminal left non-blocking
 * would break the shell's next program.
 */
export function stderrFd(): FdLike & { nonBlocking: boolean; restore(): void } {
  const fd = 2;
  let restore = () => {};
  let nonBlocking = false;
  try {
    const st = fstatSync(fd);
    if (process.platform === "linux" && (st.isFIFO() || st.isSocket())) {
      const c = libc();
      const flags = typeof c === "string" ? -1 : c.fcntl(fd, F_GETFL, 0);
      if (typeof c !== "string" && flags >= 0 && c.fcntl(fd, F_SETFL, flags | O_NONBLOCK) === 0) {
        nonBlocking = true;
        // The flags belong to the file, which every worker thread shares: only the main thread (which set them first) puts them back.
        if (Bun.isMainThread) restore = () => void c.fcntl(fd, F_SETFL, flags);
      }
    }
  } catch {
    // No usable stderr, or no libc: writes below fail or block as before.
  }
  return {
    nonBlocking,
    restore,
    write(bytes) {
      try {
        return writeSync(fd, bytes);
      } catch (e) {
        if ((e as { code?: string }).code === "EAGAIN") return -1;
        throw e;
      }
    },
  };
}

const F_GETFL = 3;
const F_SETFL = 4;
/** O_NONBLOCK on Linux x64 and arm64 (the release targets). */
const O_NONBLOCK = 0o4000;

