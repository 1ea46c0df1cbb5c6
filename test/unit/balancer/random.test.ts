import { describe, expect, test } from "bun:test";
import { randomIndex } from "../../../src/upstream/balancer/balancer.ts";
import { random } from "../../../src/upstream/balancer/random.ts";
import { describeBalancer, loads, picks, scripted } from "./describe-balancer.ts";

describeBalancer("random", (rand) => random(rand));

describe("randomIndex", () => {
  const rows: [draw: number, n: number, index: number][] = [
    [0, 3, 0],
    [0.33, 3, 0],
    [0.34, 3, 1],
    [0.5, 3, 1],
    [0.99, 3, 2],
    [0.25, 4, 1],
    [0.75, 4, 3],
    [1 - Number.EPSILON / 2, 5, 4],
    [0.999, 1, 0],
    // out of Random's contract, but never out of range
    [1, 3, 2],
  ];
  for (const [draw, n, index] of rows) {
    test(`draw ${draw} over ${n} is ${index}`, () => {
      expect(randomIndex(() => draw, n)).toBe(index);
    });
  }
});

describe("random sequences", () => {
  test("scripted draws [0, 0.5, 0.99] map onto indexes 0, 1, 2", () => {
    const rand = scripted([0, 0.5, 0.99]);
    expect(picks(random(rand), loads(0, 0, 0), 3)).toEqual([0, 1, 2]);
    expect(rand.left).toBe(0);
  });

  test("scripted draws over four candidates", () => {
    const rand = scripted([0.99, 0.25, 0.5, 0, 0.74]);
    expect(picks(random(rand), loads(0, 0, 0, 0), 5)).toEqual([3, 1, 2, 0, 2]);
  });

  test("load is ignored", () => {
    const rand = scripted([0, 0, 0]);
    expect(picks(random(rand), loads(100, 0, 0), 3)).toEqual([0, 0, 0]);
  });

  test("draws exactly one number per pick", () => {
    const rand = scripted([0.1, 0.6, 0.9, 0.2]);
    const b = random(rand);
    b.pick(loads(0, 0));
    expect(rand.left).toBe(3);
    b.pick(loads(0, 0, 0, 0, 0));
    expect(rand.left).toBe(2);
  });
});
