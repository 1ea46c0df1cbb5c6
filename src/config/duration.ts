/**
 * @module config/duration: human durations ("250ms", "2s", "1.5s", "5m", "1h") to milliseconds and back.
 * Pure: no timers here.
 */

const UNIT_MS = { ms: 1, s: 1_000, m: 60_000, h: 3_600_000 } as const;
type Unit = keyof typeof UNIT_MS;

// Digits, an optional fraction, then a unit: no sign, no spaces, no bare numbers,
// because "30" could mean seconds to one reader and milliseconds to another.
const DURATION = /^(\d+(?:\.\d+)?)(ms|s|m|h)$/;

/**
 * MAX_DURATION_MS is the longest duration accepted: setTimeout treats anything
 * above 2^31-1 ms as 1 ms, so a longer timeout would fire at once instead of never.
 */
export const MAX_DURATION_MS = 2 ** 31 - 1;

const HINT = `(use e.g. "250ms", "2s", "5m")`;

/**
 * parseDuration reads a duration such as "250ms", "1.5s", "5m" or "1h" and
 * returns whole milliseconds (rounded), or the reason as a string when the
 * text is not a duration, so callers can attach their own key path.
 *
 * @example
 * parseDuration("1.5s"); // 1500
 * parseDuration("2 seconds"); // '"2 seconds" is not a duration (use e.g. "250ms", "2s", "5m")'
 */
export function parseDuration(text: string): number | string {
  const m = DURATION.exec(text);
  if (!m) return `${JSON.stringify(text)} is not a duration ${HINT}`;
  const ms = Math.round(Number(m[1]) * UNIT_MS[m[2] as Unit]);
  if (!(ms <= MAX_DURATION_MS)) {
    return `${JSON.stringify(text)} is too long (at most ${Math.floor(MAX_DURATION_MS / UNIT_MS.h)}h)`;
  }
  return ms;
}

/**
 * formatDuration spells milliseconds the way a user would write them, for logs:
 * 250 → "250ms", 2000 → "2s", 1500 → "1.5s", 300000 → "5m", 0 → "0s".
 * It picks the largest unit that divides evenly, falling back to fractional seconds.
 */
export function formatDuration(ms: number): string {
  if (ms === 0) return "0s";
  if (!Number.isInteger(ms) || ms < 0) return `${ms}ms`;
  if (ms % UNIT_MS.h === 0) return `${ms / UNIT_MS.h}h`;
  if (ms % UNIT_MS.m === 0) return `${ms / UNIT_MS.m}m`;
  if (ms < UNIT_MS.s) return `${ms}ms`;
  return `${ms / UNIT_MS.s}s`;
}
