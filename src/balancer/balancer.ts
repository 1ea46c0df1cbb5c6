/**
 * @module balancer: one small interface for every way of choosing a target.
 * Pure: a balancer sees only the candidates it is handed and their load.
 */

/** Candidate is what a balancer may look at: the target's open connection count. */
export interface Candidate {
  readonly active: number;
}

/** Balancer picks one of a non-empty list of candidates and returns its index. */
export interface Balancer {
  pick(candidates: readonly Candidate[]): number;
}

/** Random returns a float in [0, 1); injected so tests can fix the sequence. */
export type Random = () => number;

/** randomIndex maps a Random onto 0..n-1. */
export function randomIndex(rand: Random, n: number): number {
  const i = Math.floor(rand() * n);
  return i < n ? i : n - 1;
}
