/**
 * @module close-reason: why a client connection ended, and who ended it
 * first: one closed set, counted per app in metrics, written in the access
 * log, and set exactly once per session (src/datapath/session.ts).
 */

/** CLOSE_REASONS: why a client connection ended; a closed set (metrics pre-declare a row for each). */
export const CLOSE_REASONS = [
  "client-closed",
  "target-closed",
  "client-reset",
  "target-reset",
  "connect-failed",
  "no-target",
  "idle-timeout",
  "shutdown",
  "drained",
  "denied",
  "limit",
  "internal-error",
] as const;
export type CloseReason = (typeof CLOSE_REASONS)[number];

/** CloseSide: who ended a session first (see `firstClose`). */
export type CloseSide = "client" | "target" | "sluice";

/** sideOf is the side a CloseReason blames when nothing ended before it. */
export function sideOf(reason: CloseReason): CloseSide {
  switch (reason) {
    case "client-closed":
    case "client-reset":
      return "client";
    case "target-closed":
    case "target-reset":
      return "target";
    default:
      return "sluice";
  }
}
