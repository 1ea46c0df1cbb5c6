import type { Balancer, Candidate } from "./balancer.ts";

/**
 * leastConnections picks the candidate with the fewest open connections.
 * Ties are broken in rotation: the scan starts just after the previous pick,
 * so among equally loaded targets each gets its turn, and short-lived
 * connections spread evenly instead of all going to the first one.
 */
export function leastConnections(): Balancer {
  let last = -1;
  return {
    pick(candidates: readonly Candidate[]): number {
      const n = candidates.length;
      const offset = (last + 1) % n;
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
      last = best;
      return best;
    },
  };
}
