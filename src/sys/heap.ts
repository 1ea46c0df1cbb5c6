/**
 * @module heap: asks the JavaScript engine to collect the garbage a quiet
 * thread let go of.
 *
 * JavaScriptCore collects when a thread allocates, so buffers a quiet thread
 * let go of (the reads its stalled sessions no longer pin, say) stay in the
 * heap, and in RSS, until traffic picks up again. A thread reports what it
 * released with `released`; once that adds up to COLLECT_AFTER_BYTES it gets
 * one full, synchronous collection, at most one per MIN_GAP_MS: a report
 * inside the gap waits for its end, it is not dropped. `Bun.gc(false)` only
 * hints: with 1,000 stalled sessions RSS stood at 290 MB after 14 s with it,
 * 124 MB with the synchronous collection, which took 5-10 ms a time
 * (docs/BUN-SOCKETS.md).
 */

/** MIN_GAP_MS bounds these collections to one a second per thread. */
export const MIN_GAP_MS = 1000;
/** COLLECT_AFTER_BYTES: less than this released is not worth a pause of the thread. */
export const COLLECT_AFTER_BYTES = 1024 * 1024;

let owed = 0;
let pending = false;
let last = -Infinity;

/** released adds `bytes` let go of on this thread; it returns true when that schedules a collection. */
export function released(bytes: number): boolean {
  owed += bytes;
  if (pending || owed < COLLECT_AFTER_BYTES) return false;
  pending = true;
  const wait = Math.max(0, last + MIN_GAP_MS - performance.now());
  setTimeout(() => {
    pending = false;
    owed = 0;
    last = performance.now();
    Bun.gc(true);
  }, wait);
  return true;
}
