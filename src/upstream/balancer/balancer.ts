/**
 * @module balancer: one small interface for every way of choosing a target.
 * Pure: a balancer sees only the candidates it is handed and their load.
 */

/**
 * Candidate is what a balancer may look at: the target's open connection
 * count and its weight (1 when absent; slow start lowers it for a while).
 */
export interface Candidate {
  readonly active: number;
  readonly weight?: number;
}

/** weightOf reads a candidate's weight, 1 when it has none. */
export function weightOf(c: Candidate): number {
  return c.weight ?? 1;
}

/**
 * lighter says whether `a` is less loaded than `b` for its weight:
 * a.active / a.weight < b.active / b.weight, cross-multiplied so that
 * weights of any size compare exactly.
 */
export function lighter(a: Candidate, b: Candidate): boolean {
  return a.active * weightOf(b) < b.active * weightOf(a);
}

/** unweighted is true when every candidate has weight 1: the balancers keep their plain, cheaper paths. */
export function unweighted(candidates: readonly Candidate[]): boolean {
  for (const c of candidates) if (c.weight !== undefined && c.weight !== 1) return false;
  return true;
}

/**
 * weightedIndex draws an index with probability proportional to weight,
 * skipping `skip` (-1 for none); `rand` is consumed once.
 */
export function weightedIndex(rand: Random, candidates: readonly Candidate[], skip = -1): number {
  let total = 0;
  for (let i = 0; i < candidates.length; i++) if (i !== skip) total += weightOf(candidates[i]!);
  let r = rand() * total;
  let last = -1;
  for (let i = 0; i < candidates.length; i++) {
    if (i === skip) continue;
    last = i;
    r -= weightOf(candidates[i]!);
    if (r < 0) return i;
  }
  return last; // rand() near 1 and rounding: the last eligible one
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
