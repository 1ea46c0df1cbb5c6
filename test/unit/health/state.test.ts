import { describe, expect, test } from "bun:test";
import { HealthState } from "../../../src/upstream/health/state.ts";

/** One observation: an active check result, or a passive markDown, made at time `at`. */
type Obs = "pass" | "fail" | "down";
/** A step is an observation, when it was made, and whether it should flip the state. */
type Step = [obs: Obs, at: number, flips: boolean];

interface Row {
  name: string;
  rise: number;
  fall: number;
  /** the state before the first step; healthy unless said. */
  start?: boolean;
  steps: Step[];
}

const rows: Row[] = [
  { name: "passes while healthy never flip", rise: 2, fall: 3, steps: [["pass", 1, false], ["pass", 2, false], ["pass", 3, false]] },
  { name: "fall=1: one failure flips", rise: 1, fall: 1, steps: [["fail", 10, true]] },
  {
    name: "fall=3 needs three failures in a row",
    rise: 1,
    fall: 3,
    steps: [["fail", 10, false], ["fail", 20, false], ["fail", 30, true]],
  },
  {
    name: "fall=3: a pass in between resets the count",
    rise: 1,
    fall: 3,
    steps: [["fail", 10, false], ["fail", 20, false], ["pass", 30, false], ["fail", 40, false], ["fail", 50, false], ["fail", 60, true]],
  },
  {
    name: "failures while down never flip",
    rise: 1,
    fall: 1,
    steps: [["fail", 10, true], ["fail", 20, false], ["fail", 30, false]],
  },
  {
    name: "rise=2 after down needs two passes",
    rise: 2,
    fall: 1,
    steps: [["fail", 10, true], ["pass", 20, false], ["pass", 30, true]],
  },
  {
    name: "rise=2: a failure in between resets the count",
    rise: 2,
    fall: 1,
    steps: [["fail", 10, true], ["pass", 20, false], ["fail", 30, false], ["pass", 40, false], ["pass", 50, true]],
  },
  {
    name: "rise=1 and fall=1 follow every change",
    rise: 1,
    fall: 1,
    steps: [["fail", 1, true], ["pass", 2, true], ["pass", 3, false], ["fail", 4, true], ["pass", 5, true]],
  },
  {
    name: "starting unhealthy waits for rise passes",
    rise: 3,
    fall: 1,
    start: false,
    steps: [["fail", 1, false], ["pass", 2, false], ["pass", 3, false], ["pass", 4, true]],
  },
  { name: "markDown flips at once whatever fall is", rise: 1, fall: 5, steps: [["down", 7, true]] },
  {
    name: "markDown when already down does not flip",
    rise: 1,
    fall: 5,
    steps: [["down", 7, true], ["down", 8, false], ["down", 9, false]],
  },
  {
    name: "markDown mid failure streak flips at once",
    rise: 1,
    fall: 3,
    steps: [["fail", 10, false], ["fail", 20, false], ["down", 25, true]],
  },
  {
    name: "markDown while down resets the rise count",
    rise: 2,
    fall: 1,
    steps: [["down", 10, true], ["pass", 20, false], ["down", 30, false], ["pass", 40, false], ["pass", 50, true]],
  },
  {
    name: "after markDown the full fall is needed again once back up",
    rise: 1,
    fall: 2,
    steps: [["down", 10, true], ["pass", 20, true], ["fail", 30, false], ["fail", 40, true]],
  },
];

describe("HealthState transitions", () => {
  for (const row of rows) {
    test(row.name, () => {
      const h = new HealthState(row.start ?? true);
      let healthy = row.start ?? true;
      let since = 0;
      for (const [obs, at, flips] of row.steps) {
        const flipped =
          obs === "down" ? h.markDown(at, "passive") : h.observe(obs === "pass", row.rise, row.fall, at, obs === "fail" ? "check" : undefined);
        if (flips) {
          healthy = !healthy;
          since = at;
        }
        expect({ at, flipped, healthy: h.healthy, since: h.since }).toEqual({ at, flipped: flips, healthy, since });
      }
    });
  }
});

describe("HealthState", () => {
  test("starts healthy, with no streak, no error and since 0", () => {
    const h = new HealthState();
    expect([h.healthy, h.streak, h.since, h.lastError]).toEqual([true, 0, 0, undefined]);
  });

  test("can start unhealthy", () => {
    expect(new HealthState(false).healthy).toBe(false);
  });

  test("streak counts results that disagree with the state", () => {
    const h = new HealthState();
    h.observe(false, 1, 3, 1);
    h.observe(false, 1, 3, 2);
    expect(h.streak).toBe(2);
    h.observe(true, 1, 3, 3);
    expect(h.streak).toBe(0);
  });

  test("since keeps the time of the last flip, not of later observations", () => {
    const h = new HealthState();
    h.observe(false, 1, 1, 100);
    h.observe(false, 1, 1, 200);
    h.markDown(300);
    expect(h.since).toBe(100);
  });

  test("lastError holds the latest failure and survives passes", () => {
    const h = new HealthState();
    h.observe(false, 1, 2, 1, "ECONNREFUSED");
    expect(h.lastError).toBe("ECONNREFUSED");
    h.observe(true, 1, 2, 2);
    expect(h.lastError).toBe("ECONNREFUSED");
    h.observe(false, 1, 2, 3, "ETIMEDOUT");
    h.observe(false, 1, 2, 4, "EHOSTUNREACH");
    expect([h.healthy, h.lastError]).toEqual([false, "EHOSTUNREACH"]);
    h.observe(true, 1, 2, 5);
    expect([h.healthy, h.lastError]).toEqual([true, "EHOSTUNREACH"]);
  });

  test("markDown records its error, also when already down", () => {
    const h = new HealthState();
    h.markDown(1, "ECONNREFUSED");
    expect(h.lastError).toBe("ECONNREFUSED");
    expect(h.markDown(2, "ETIMEDOUT")).toBe(false);
    expect(h.lastError).toBe("ETIMEDOUT");
  });
});
