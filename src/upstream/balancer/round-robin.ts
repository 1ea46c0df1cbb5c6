import { unweighted, weightOf, type Balancer, type Candidate } from "./balancer.ts";

/**
 * roundRobin hands out candidates in turn; the caller's list order is the
 * rotation order. With weights it is NGINX's smooth weighted round-robin:
 * each pick adds every candidate's weight to its running score, takes the
 * highest score (the first on a tie) and takes the total off the winner, so
 * weights 5, 1, 1 give a a b a c a a, not a a a a a b c.
 *
 * `turn` is where the plain rotation takes its next position from: an app
 * passes a counter on the board, so worker threads take turns in one
 * rotation, as one event loop would. The weighted scores stay per thread.
 */
export function roundRobin(turn?: () => number): Balancer {
  let next = 0;
  const score = new WeakMap<Candidate, number>();
  return {
    pick(candidates: readonly Candidate[]): number {
      if (unweighted(candidates)) {
        if (turn !== undefined) return turn() % candidates.length;
        const i = next % candidates.length;
        next = (next + 1) % 0x40000000;
        return i;
      }
      let total = 0;
      let best = 0;
      let bestScore = -Infinity;
      for (let i = 0; i < candidates.length; i++) {
        const c = candidates[i]!;
        const w = weightOf(c);
        const s = (score.get(c) ?? 0) + w;
        score.set(c, s);
        total += w;
        if (s > bestScore) {
          best = i;
          bestScore = s;
        }
      }
      score.set(candidates[best]!, bestScore - total);
      return best;
    },
  };
}
