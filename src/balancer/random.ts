import { randomIndex, type Balancer, type Candidate, type Random } from "./balancer.ts";

/** random picks uniformly, ignoring load. */
export function random(rand: Random = Math.random): Balancer {
  return {
    pick: (candidates: readonly Candidate[]): number => randomIndex(rand, candidates.length),
  };
}
