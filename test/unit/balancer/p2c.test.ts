import { describe, expect, test } from "bun:test";
import type { Candidate } from "../../../src/upstream/balancer/index.ts";
import { p2c } from "../../../src/upstream/balancer/p2c.ts";
import { describeBalancer, loads, scripted } from "./describe-balancer.ts";

describeBalancer("p2c", (rand) => p2c(rand));

/** watched candidates record which indexes the balancer looked at. */
function watched(active: readonly number[]): { candidates: Candidate[]; seen: Set<number> } {
  const seen = new Set<number>();
  const candidates = active.map((a, i) => ({
    get active() {
      seen.add(i);
      return a;
    },
  }));
  return { candidates, seen };
}

describe("p2c", () => {
  test("a single candidate draws nothing", () => {
    const rand = scripted([]);
    expect(p2c(rand).pick(loads(5))).toBe(0);
  });

  test("the two draws are always distinct", () => {
    for (let n = 2; n <= 5; n++) {
      for (let a = 0; a < n; a++) {
        for (let j = 0; j < n - 1; j++) {
          // Centre each draw in its bucket: first over n, second over the n-1 others.
          const rand = scripted([(a + 0.5) / n, (j + 0.5) / (n - 1)]);
          const { candidates, seen } = watched(Array(n).fill(1));
          p2c(rand).pick(candidates);
          const b = j < a ? j : j + 1;
          expect(seen).toEqual(new Set([a, b]));
          expect(rand.left).toBe(0);
        }
      }
    }
  });

  test("edge draws still compare two distinct candidates", () => {
    const top = 1 - Number.EPSILON / 2;
    const rand = scripted([top, top]);
    const { candidates, seen } = watched([1, 1, 1]);
    p2c(rand).pick(candidates);
    expect(seen).toEqual(new Set([2, 1]));
  });

  const rows: [name: string, active: number[], draws: [number, number], expected: number][] = [
    // first draw 0 → index 0; second 0 over the others → index 1
    ["the second draw wins when less loaded", [5, 1, 3], [0, 0], 1],
    // first draw → index 1; second 0 → index 0
    ["the first draw wins when less loaded", [5, 1, 3], [0.4, 0], 1],
    // first → 2; second 0.99 over 2 → 1
    ["the less loaded of 2 and 1", [0, 4, 2], [0.9, 0.99], 2],
    // first → 2; second → 0 (both load 2): tie keeps the first draw
    ["a tie keeps the first draw", [2, 2, 2], [0.9, 0], 2],
    ["a tie keeps the first draw (other order)", [2, 2, 2], [0, 0.9], 0],
    // first → 0 (idle); second → 2 (busier): first wins even though index 1 is also idle
    ["never looks beyond the two draws", [0, 0, 7], [0, 0.9], 0],
    // first → 3 (load 8); second 0.5 over 3 → index 1 (load 9): first wins, though 0 is idle
    ["the global minimum need not be chosen", [0, 9, 5, 8], [0.8, 0.5], 3],
  ];
  for (const [name, active, draws, expected] of rows) {
    test(`${name}: [${active.join(",")}] with draws ${draws.join(",")} picks ${expected}`, () => {
      const rand = scripted(draws);
      expect(p2c(rand).pick(loads(...active))).toBe(expected);
      expect(rand.left).toBe(0);
    });
  }
});
