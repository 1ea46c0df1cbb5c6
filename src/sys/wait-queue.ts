/**
 * @module wait-queue: clients waiting for a target below its max_connections,
 * oldest first, each with a deadline (queue_timeout). One timer for the
 * earliest deadline; an item that closed while waiting is dropped whenever
 * the queue is next looked at.
 */

/** Waiting is what the queue needs of an item: whether it closed meanwhile. */
export interface Waiting {
  readonly closed: boolean;
}

export class WaitQueue<T extends Waiting> {
  #entries: { item: T; deadline: number }[] = [];
  #timer: ReturnType<typeof setTimeout> | undefined;
  /** when #timer fires (performance.now() ms); Infinity when it is not armed. */
  #timerAt = Infinity;

  /** `expire` is called for an item still open at its deadline. */
  constructor(private readonly expire: (item: T) => void) {}

  /** size counts the items still open. */
  get size(): number {
    let n = 0;
    for (const e of this.#entries) if (!e.item.closed) n++;
    return n;
  }

  /** add queues `item` for up to `waitMs`. */
  add(item: T, waitMs: number): void {
    const deadline = performance.now() + waitMs;
    this.#entries.push({ item, deadline });
    // An earlier deadline than the timer's (a reload lowered queue_timeout) needs the timer moved.
    if (deadline < this.#timerAt) this.#arm();
  }

  /**
   * serve takes out, oldest first, every open item `ready` accepts and hands
   * it to `take` (which may re-enter the queue through its callbacks).
   */
  serve(ready: (item: T) => boolean, take: (item: T) => void): void {
    if (this.#entries.length === 0) return;
    for (let i = 0; i < this.#entries.length; ) {
      const { item } = this.#entries[i]!;
      if (item.closed) {
        this.#entries.splice(i, 1);
        continue;
      }
      if (!ready(item)) {
        i++;
        continue;
      }
      this.#entries.splice(i, 1);
      take(item);
    }
    this.#arm();
  }

  /** drain empties the queue and returns the items still open (shutdown closes them itself). */
  drain(): T[] {
    const open = this.#entries.splice(0).filter((e) => !e.item.closed).map((e) => e.item);
    this.cancel();
    return open;
  }

  /** cancel stops the timer, leaving the items where they are (process exit). */
  cancel(): void {
    clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#timerAt = Infinity;
  }

  /**
   * #arm sets the one timer for the earliest deadline. Deadlines usually come
   * in arrival order, but a reload that lowers queue_timeout breaks that, so
   * expiry looks at every entry.
   */
  #arm(): void {
    this.cancel();
    let first = Infinity;
    for (let i = 0; i < this.#entries.length; ) {
      const e = this.#entries[i]!;
      if (e.item.closed) {
        this.#entries.splice(i, 1);
        continue;
      }
      first = Math.min(first, e.deadline);
      i++;
    }
    if (first === Infinity) return;
    this.#timerAt = first;
    this.#timer = setTimeout(() => {
      const now = performance.now();
      const expired = this.#entries.filter((e) => e.deadline <= now);
      this.#entries = this.#entries.filter((e) => e.deadline > now);
      for (const { item } of expired) if (!item.closed) this.expire(item);
      this.#arm();
    }, Math.max(0, first - performance.now()));
  }
}
