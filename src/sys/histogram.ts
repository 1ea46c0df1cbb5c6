/**
 * @module histogram: a fixed-bucket histogram for the Prometheus text format.
 * Pure: no timers, no sockets. `observe` is on the data path (once per
 * connected session), so it allocates nothing and scans at most a few
 * bounds; buckets are made cumulative only when scraped.
 */
import { localStore, type Store } from "./board.ts";

/**
 * CONNECT_BUCKETS_S are the upper bounds, in seconds, of
 * sluice_connect_duration_seconds: 0.5 ms (a loopback or same-rack connect)
 * to 10 s (past any sane connect_timeout).
 */
export const CONNECT_BUCKETS_S: readonly number[] = [0.0005, 0.001, 0.0025, 0.005, 0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10];

/**
 * Histogram counts observations into buckets with fixed upper bounds
 * (inclusive, as Prometheus' `le`), plus an implicit `+Inf` bucket.
 *
 * @example
 * const h = new Histogram([0.1, 1]);
 * h.observe(0.05); h.observe(3);
 * h.cumulative(); // [1, 1, 2]: le="0.1", le="1", le="+Inf"
 */
export class Histogram {
  readonly bounds: readonly number[];
  /** per-bucket (not cumulative) counts at 0…bounds.length (the last is `+Inf`), then the sum, then the count. */
  readonly #store: Store;

  constructor(bounds: readonly number[], store?: Store) {
    for (let i = 0; i < bounds.length; i++) {
      if (!Number.isFinite(bounds[i]) || (i > 0 && bounds[i]! <= bounds[i - 1]!)) {
        throw new RangeError(`histogram bounds must be finite and increasing: ${bounds.join(", ")}`);
      }
    }
    this.bounds = [...bounds];
    this.#store = store ?? localStore(Histogram.size(bounds));
  }

  /** size is how many numbers a Store must hold for a histogram with `bounds`. */
  static size(bounds: readonly number[]): number {
    return bounds.length + 3;
  }

  get sum(): number {
    return this.#store.get(this.bounds.length + 1);
  }
  get count(): number {
    return this.#store.get(this.bounds.length + 2);
  }

  /** observe adds one value; NaN is ignored so one bad clock read cannot poison the sum. */
  observe(value: number): void {
    if (value !== value) return;
    const b = this.bounds;
    let i = 0;
    while (i < b.length && value > b[i]!) i++;
    const st = this.#store;
    st.add(i, 1);
    st.add(b.length + 1, value);
    st.add(b.length + 2, 1);
  }

  /** cumulative returns the count at or under each bound, then the `+Inf` count (= count). */
  cumulative(): number[] {
    const out: number[] = [];
    let n = 0;
    for (let i = 0; i <= this.bounds.length; i++) out.push((n += this.#store.get(i)));
    return out;
  }
}
