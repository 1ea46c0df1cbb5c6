import { describe, expect, test } from "bun:test";
import { roundRobin } from "../../../src/upstream/balancer/round-robin.ts";
import { describeBalancer, loads, picks, withoutMathRandom } from "./describe-balancer.ts";

describeBalancer("round-robin", () => roundRobin());

describe("round-robin sequences", () => {
  const rows: [name: string, active: number[], expected: number[]][] = [
    ["three idle targets", [0, 0, 0], [0, 1, 2, 0, 1, 2, 0]],
    ["load is ignored", [9, 0, 0], [0, 1, 2, 0, 1, 2]],
    ["two targets alternate", [1, 5], [0, 1, 0, 1]],
    ["a single candidate", [3], [0, 0, 0]],
    ["five targets", [0, 0, 0, 0, 0], [0, 1, 2, 3, 4, 0]],
  ];
  for (const [name, active, expected] of rows) {
    test(`${name}: [${active.join(",")}] gives ${expected.join(",")}`, () => {
      expect(picks(roundRobin(), loads(...active), expected.length)).toEqual(expected);
    });
  }

  test("the counter runs on across lists of different length", () => {
    const b = roundRobin();
    expect(picks(b, loads(0, 0, 0), 2)).toEqual([0, 1]);
    // third call: 2 % 2 = 0, then 3 % 2 = 1
    expect(picks(b, loads(0, 0), 2)).toEqual([0, 1]);
    // fifth call: 4 % 3 = 1
    expect(picks(b, loads(0, 0, 0), 1)).toEqual([1]);
  });

  test("separate instances keep separate counters", () => {
    const a = roundRobin();
    const b = roundRobin();
    expect(picks(a, loads(0, 0, 0), 2)).toEqual([0, 1]);
    expect(picks(b, loads(0, 0, 0), 1)).toEqual([0]);
  });

  test("draws no random numbers", () => {
    expect(withoutMathRandom(() => picks(roundRobin(), loads(1, 1, 1, 0), 10))).toHaveLength(10);
  });
});
