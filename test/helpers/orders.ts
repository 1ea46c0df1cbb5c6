/**
 * Test helpers for event-order tests: every sequence of n events, and a
 * small seeded PRNG (mulberry32) so random walks are the same every run.
 */

/** sequences yields every sequence of `n` items drawn from `events` (|events|^n of them). */
export function* sequences<E>(events: readonly E[], n: number): Generator<E[]> {
  const idx = new Array<number>(n).fill(0);
  for (;;) {
    yield idx.map((i) => events[i]!);
    let k = n - 1;
    while (k >= 0 && ++idx[k]! === events.length) idx[k--] = 0;
    if (k < 0) return;
  }
}

/** prng is mulberry32 (the chaos suite's): floats in [0, 1) from a 32-bit seed. */
export { prng } from "../../scripts/chaos/pattern.ts";
