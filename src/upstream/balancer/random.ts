import { randomIndex, unweighted, weightedIndex, type Balancer, type Candidate, type Random } from "./balancer.ts";

/** random picks in proportion to weight (uniformly when all weigh the same), ignoring load. */
export function random(rand: Random = Math.random): Balancer {
  return {
    pick: (candidates: readonly Candidate[]): number =>
      unweighted(candidates) ? randomIndex(rand, candidates.length) : weightedIndex(rand, candidates),
  };
}
