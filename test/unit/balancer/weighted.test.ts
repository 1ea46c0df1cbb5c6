/**
 * Weights, for every balancer: exact sequences where the balancer is
 * deterministic, exact proportions where it counts load, and sampling
 * frequencies (fixed seed) where it draws at random.
 */
import { describe, expect, test } from "bun:test";
import { createBalancer, type Candidate } from "../../../src/upstream/balancer/index.ts";
import { lighter, weightedIndex } from "../../../src/upstream/balancer/balancer.ts";
import { BALANCERS } from "../../../src/config/types.ts";
import { scripted, seeded } from "./describe-balancer.ts";

type Target = { active: number; weight: number };
const targets = (...weights: number[]): Target[] => weights.map((weight) => ({ active: 0, weight }));

/** hold picks `n` times, each pick opening one more connection that stays open. */
function hold(kind: (typeof BALANCERS)[number], list: Target[], n: number, seed = 1): number[] {
  const b = createBalancer(kind, seeded(seed));
  const counts = list.map(() => 0);
  for (let i = 0; i < n; i++) {
    const k = b.pick(list);
    list[k]!.active++;
    counts[k]!++;
  }
  return counts;
}

describe("round-robin (smooth weighted, as NGINX)", () => {
  test("weights 5, 1, 1 give a a b a c a a, and again", () => {
    const b = createBalancer("round-robin");
    const list = targets(5, 1, 1);
    const seq = Array.from({ length: 14 }, () => "abc"[b.pick(list)]).join("");
    expect(seq).toBe("aabacaa".repeat(2));
  });

  test("exact counts over whole cycles, load ignored", () => {
    const b = createBalancer("round-robin");
    const list = [
      { active: 100, weight: 3 },
      { active: 0, weight: 2 },
      { active: 7, weight: 1 },
    ];
    const counts = [0, 0, 0];
    for (let i = 0; i < 600; i++) counts[b.pick(list)]!++;
    expect(counts).toEqual([300, 200, 100]);
  });

  test("weight 1 everywhere keeps the plain rotation", () => {
    const b = createBalancer("round-robin");
    const list = targets(1, 1, 1);
    expect(Array.from({ length: 6 }, () => b.pick(list))).toEqual([0, 1, 2, 0, 1, 2]);
  });
});

describe("least-connections (active / weight)", () => {
  test("held connections split in proportion to weight", () => {
    expect(hold("least-connections", targets(3, 1), 40)).toEqual([30, 10]);
    expect(hold("least-connections", targets(5, 3, 2), 100)).toEqual([50, 30, 20]);
  });

  test("an idle target wins whatever the weights", () => {
    const b = createBalancer("least-connections");
    expect(b.pick([{ active: 1, weight: 1000 }, { active: 0, weight: 1 }])).toBe(1);
  });

  test("lighter compares active / weight exactly", () => {
    expect(lighter({ active: 2, weight: 3 }, { active: 1, weight: 1 })).toBe(true);
    expect(lighter({ active: 3, weight: 3 }, { active: 1, weight: 1 })).toBe(false);
    expect(lighter({ active: 1 }, { active: 1, weight: 2 })).toBe(false);
  });
});

describe("random and p2c sample by weight", () => {
  test("weightedIndex maps the draw onto the weights' cumulative ranges", () => {
    const list: Candidate[] = [{ active: 0, weight: 1 }, { active: 0, weight: 3 }];
    expect(weightedIndex(scripted([0.2]), list)).toBe(0); // 0.8 of 4 falls in [0, 1)
    expect(weightedIndex(scripted([0.3]), list)).toBe(1); // 1.2 falls in [1, 4)
    expect(weightedIndex(scripted([1 - Number.EPSILON]), list)).toBe(1);
    expect(weightedIndex(scripted([0]), list, 0)).toBe(1); // skipping the first leaves only the second
  });

  test("random: 100,000 draws land within 1 % of 10 / 30 / 60 %", () => {
    const b = createBalancer("random", seeded(42));
    const list = targets(1, 3, 6);
    const counts = [0, 0, 0];
    for (let i = 0; i < 100_000; i++) counts[b.pick(list)]!++;
    const share = counts.map((c) => c / 100_000);
    for (const [got, want] of [[share[0]!, 0.1], [share[1]!, 0.3], [share[2]!, 0.6]] as const) {
      expect(Math.abs(got - want)).toBeLessThan(0.01);
    }
  });

  test("p2c: held connections follow the weights (within a few per cent)", () => {
    const counts = hold("p2c", targets(1, 3), 4000, 9);
    expect(counts[1]! / 4000).toBeGreaterThan(0.7);
    expect(counts[1]! / 4000).toBeLessThan(0.8);
  });

  test("p2c's two choices are always distinct, even with one heavy target", () => {
    const b = createBalancer("p2c", seeded(3));
    // The light target is idle: whenever it is one of the two draws it wins.
    const list = [{ active: 5, weight: 1000 }, { active: 0, weight: 1 }];
    let light = 0;
    for (let i = 0; i < 1000; i++) light += b.pick(list);
    expect(light).toBe(1000);
  });
});
