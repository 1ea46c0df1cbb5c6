/**
 * @module sweeper: one coarse timer for many deadlines.
 * Connect timeouts and idle timeouts are checked by a periodic sweep instead
 * of a timer per connection: accepting a connection then costs a Set insert,
 * not a timer, and the clock is read once per sweep, not once per chunk.
 */
import { systemClock, type Clock, type Timer } from "./clock.ts";

/** Sweepable is anything with a deadline; sweep returns true when it is done and should be dropped. */
export interface Sweepable {
  sweep(now: number): boolean;
}

/** coarse.now is the monotonic time of the latest sweep (or add); cheap to read on hot paths. */
export const coarse = { now: systemClock.now() };

/** Sweeper checks its items every `resolutionMs` while it has any. */
export class Sweeper {
  #items = new Set<Sweepable>();
  #timer: Timer | undefined;

  constructor(
    readonly resolutionMs: number,
    private readonly clock: Clock = systemClock,
  ) {}

  get size(): number {
    return this.#items.size;
  }

  add(item: Sweepable): void {
    this.#items.add(item);
    if (this.#timer === undefined) {
      coarse.now = this.clock.now();
      this.#timer = this.clock.setTimeout(this.#tick, this.resolutionMs);
    }
  }

  delete(item: Sweepable): void {
    this.#items.delete(item);
  }

  stop(): void {
    if (this.#timer !== undefined) this.clock.clearTimeout(this.#timer);
    this.#timer = undefined;
    this.#items.clear();
  }

  #tick = (): void => {
    const now = (coarse.now = this.clock.now());
    for (const item of this.#items) if (item.sweep(now)) this.#items.delete(item);
    this.#timer = this.#items.size > 0 ? this.clock.setTimeout(this.#tick, this.resolutionMs) : undefined;
  };
}
