import { randomIndex, type Balancer, type Candidate, type Random } from "./balancer.ts";

/**
 * p2c ("power of two choices") samples two distinct candidates at random and
 * keeps the less loaded one (the first on a tie): near least-connections
 * quality without a full scan, and no herd onto one idle target.
 */
export function p2c(rand: Random = Math.random): Balancer {
  return {
    pick(candidates: readonly Candidate[]): number {
      const n = candidates.length;
      if (n === 1) return 0;
      const a = randomIndex(rand, n);
      // Draw from the n-1 others so the two choices are always distinct.
      let b = randomIndex(rand, n - 1);
      if (b >= a) b++;
      return candidates[b]!.active < candidates[a]!.active ? b : a;
    },
  };
}
