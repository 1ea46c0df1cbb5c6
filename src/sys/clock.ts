/**
 * @module clock: time and timers behind an interface, so health checks and
 * sweeps can be driven by a fake clock in tests.
 */

export interface Clock {
  /** now is monotonic milliseconds. */
  now(): number;
  setTimeout(fn: () => void, ms: number): Timer;
  clearTimeout(t: Timer): void;
}

export type Timer = { unref?(): unknown } | number;

export const systemClock: Clock = {
  now: () => performance.now(),
  setTimeout: (fn, ms) => {
    const t = setTimeout(fn, ms);
    // A pending check or sweep must never keep a draining process alive.
    t.unref();
    return t;
  },
  clearTimeout: (t) => clearTimeout(t as ReturnType<typeof setTimeout>),
};
