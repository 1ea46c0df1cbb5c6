import { lighter, randomIndex, unweighted, weightedIndex, type Balancer, type Candidate, type Random } from "./balancer.ts";

/**
 * p2c ("power of two choices") samples two distinct candidates at random and
 * keeps the less loaded one (the first on a tie): near least-connections
 * quality without a full scan, and no herd onto one idle target. With
 * weights, both draws are in proportion to weight and load is active / weight.
 */
export function p2c(rand: Random = Math.random): Balancer {
  return {
    pick(candidates: readonly Candidate[]): number {
      const n = candidates.length;
      if (n === 1) return 0;
      let a: number;
      let b: number;
      if (unweighted(candidates)) {
        a = randomIndex(rand, n);
        // Draw from the n-1 others so the two choices are always distinct.
        b = randomIndex(rand, n - 1);
        if (b >= a) b++;
      } else {
        a = weightedIndex(rand, candidates);
        b = weightedIndex(rand, candidates, a);
      }
      return lighter(candidates[b]!, candidates[a]!) ? b : a;
    },
  };
}
