import { describe, expect, test } from "bun:test";
import { leastConnections } from "../../../src/upstream/balancer/least-connections.ts";
import { describeBalancer, loads, picks, withoutMathRandom } from "./describe-balancer.ts";

describeBalancer("least-connections", () => leastConnections());

describe("least-connections sequences", () => {
  const rows: [name: string, active: number[], expected: number[]][] = [
    ["equal idle loads rotate", [0, 0, 0], [0, 1, 2, 0, 1, 2, 0]],
    ["equal busy loads rotate", [4, 4, 4], [0, 1, 2, 0, 1, 2]],
    ["one least loaded always wins", [3, 1, 2], [1, 1, 1, 1, 1, 1]],
    ["least loaded last in the list", [5, 4, 0], [2, 2, 2, 2]],
    // The scan starts one place further each call and keeps the first minimum
    // it meets, so a tie is shared by where the scan starts, not strictly in turn.
    ["a tie among the least loaded alternates evenly", [1, 1, 5], [0, 1, 0, 1, 0, 1]],
    ["a tie of idle targets among busy ones", [2, 0, 0, 2], [1, 2, 1, 2, 1, 2, 1, 2]],
    ["a single candidate", [9], [0, 0, 0]],
  ];
  for (const [name, active, expected] of rows) {
    test(`${name}: [${active.join(",")}] gives ${expected.join(",")}`, () => {
      expect(picks(leastConnections(), loads(...active), expected.length)).toEqual(expected);
    });
  }

  test("a burst spreads evenly when each pick opens a connection", () => {
    const b = leastConnections();
    const candidates = loads(0, 0, 0) as { active: number }[];
    const order: number[] = [];
    for (let k = 0; k < 9; k++) {
      const i = b.pick(candidates);
      order.push(i);
      candidates[i]!.active++;
    }
    expect(order).toEqual([0, 1, 2, 0, 1, 2, 0, 1, 2]);
    expect(candidates.map((c) => c.active)).toEqual([3, 3, 3]);
  });

  test("a target that frees up is preferred at once", () => {
    const b = leastConnections();
    const candidates = loads(2, 2, 2) as { active: number }[];
    candidates[2]!.active = 1;
    expect(picks(b, candidates, 3)).toEqual([2, 2, 2]);
  });

  test("the rotation survives a list that shrinks between calls", () => {
    const b = leastConnections();
    expect(picks(b, loads(0, 0, 0), 2)).toEqual([0, 1]);
    // the third call starts its scan at 2 % 2 = 0
    expect(picks(b, loads(0, 0), 3)).toEqual([0, 1, 0]);
  });

  test("draws no random numbers", () => {
    expect(withoutMathRandom(() => picks(leastConnections(), loads(1, 1, 1, 0), 10))).toHaveLength(10);
  });
});
