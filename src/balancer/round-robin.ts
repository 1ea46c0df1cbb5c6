import type { Balancer, Candidate } from "./balancer.ts";

/** roundRobin hands out candidates in turn; the caller's list order is the rotation order. */
export function roundRobin(): Balancer {
  let next = 0;
  return {
    pick(candidates: readonly Candidate[]): number {
      const i = next % candidates.length;
      next = (next + 1) % 0x40000000;
      return i;
    },
  };
}
