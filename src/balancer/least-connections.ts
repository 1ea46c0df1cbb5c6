import type { Balancer, Candidate } from "./balancer.ts";

/**
 * leastConnections picks the candidate with the fewest open connections.
 * Ties are broken in rotation: the scan starts one place further each call, so
 * idle targets share short-lived connections evenly instead of the first one
 * taking them all.
 */
export function leastConnections(): Balancer {
  let start = 0;
  return {
    pick(candidates: readonly Candidate[]): number {
      const n = candidates.length;
      const offset = start % n;
      start = (start + 1) % 0x40000000;
      let best = offset;
      let bestActive = candidates[offset]!.active;
      for (let k = 1; k < n && bestActive > 0; k++) {
        const i = (offset + k) % n;
        const a = candidates[i]!.active;
        if (a < bestActive) {
          best = i;
          bestActive = a;
        }
      }
      return best;
    },
  };
}
