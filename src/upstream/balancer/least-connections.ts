import { lighter, type Balancer, type Candidate } from "./balancer.ts";

/**
 * leastConnections picks the candidate with the fewest open connections for
 * its weight (active / weight, so a target of weight 3 carries three times
 * the connections of one of weight 1).
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
      let bestC = candidates[offset]!;
      // Nothing beats an idle target, whatever the weights.
      for (let k = 1; k < n && bestC.active > 0; k++) {
        const i = (offset + k) % n;
        const c = candidates[i]!;
        if (lighter(c, bestC)) {
          best = i;
          bestC = c;
        }
      }
      last = best;
      return best;
    },
  };
}
