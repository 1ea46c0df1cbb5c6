import type { Clock, Timer } from "../../src/sys/clock.ts";

/** FakeClock keeps timers in a queue that only `advance` fires, in deadline order. */
export class FakeClock implements Clock {
  #now: number;
  #seq = 0;
  readonly timers = new Map<number, { at: number; fn: () => void }>();

  constructor(start = 0) {
    this.#now = start;
  }
  now(): number {
    return this.#now;
  }
  setTimeout(fn: () => void, ms: number): Timer {
    const id = ++this.#seq;
    this.timers.set(id, { at: this.#now + ms, fn });
    return id;
  }
  clearTimeout(t: Timer): void {
    this.timers.delete(t as number);
  }
  /** advance moves time on by `ms`, firing every timer that falls due on the way. */
  advance(ms: number): void {
    const end = this.#now + ms;
    for (;;) {
      let next: [number, { at: number; fn: () => void }] | undefined;
      for (const e of this.timers) if (e[1].at <= end && (next === undefined || e[1].at < next[1].at)) next = e;
      if (next === undefined) break;
      this.timers.delete(next[0]);
      this.#now = next[1].at;
      next[1].fn();
    }
    this.#now = end;
  }
  /** dueTimes lists the deadlines of pending timers. */
  dueTimes(): number[] {
    return [...this.timers.values()].map((t) => t.at);
  }
}
