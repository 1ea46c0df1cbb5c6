/**
 * @module heap: asks the JavaScript engine to collect garbage soon.
 *
 * JavaScriptCore collects when a thread allocates, so memory a quiet thread
 * let go of (the reads a stalled session no longer pins, say) stays in the
 * heap, and in RSS, until traffic picks up again. A thread that has just
 * released a lot calls collectSoon: one collection however many callers asked
 * in the meantime, and at most one per MIN_GAP_MS; a call inside the gap is
 * put off to its end, not dropped, so the last release is always collected.
 */

/** MIN_GAP_MS bounds collections asked for this way to one a second. */
export const MIN_GAP_MS = 1000;

let pending = false;
let last = -Infinity;

/** collectSoon schedules one garbage collection on this thread; false when one is already scheduled. */
export function collectSoon(): boolean {
  if (pending) return false;
  pending = true;
  const wait = Math.max(0, last + MIN_GAP_MS - performance.now());
  setTimeout(() => {
    pending = false;
    last = performance.now();
    Bun.gc(true);
  }, wait);
  return true;
}
