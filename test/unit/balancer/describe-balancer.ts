/**
 * @module describe-balancer: the suite every Balancer must pass, in the style
 * of Hono's `common.case.test.ts`. Each `<kind>.test.ts` calls
 * `describeBalancer(kind, make)` and then adds its own exact pick sequences.
 *
 * An empty candidate list is not part of the contract: `Balancer.pick` is
 * documented to take a non-empty list, and `Pool.pick` returns `undefined`
 * itself before it asks the balancer when no candidate is left (covered in
 * test/unit/pool.test.ts). So there is no empty-list case here.
 *
 * Skipping targets that are not ready is likewise the Pool's job; the suite
 * checks it end to end by putting each balancer behind a real Pool.
 */
import { describe, expect, test } from "bun:test";
import { createBalancer, type Balancer, type Candidate, type Random } from "../../../src/upstream/balancer/index.ts";
import type { BalancerKind } from "../../../src/config/types.ts";
import { Pool } from "../../../src/upstream/pool.ts";
import { parseEndpoint, type Endpoint } from "../../../src/net/target.ts";

/** MakeBalancer builds a fresh balancer; kinds that use no randomness ignore `rand`. */
export type MakeBalancer = (rand: Random) => Balancer;

/** loads turns open-connection counts into candidates. */
export function loads(...active: number[]): Candidate[] {
  return active.map((a) => ({ active: a }));
}

/** ScriptedRandom returns the given values in order and throws once they run out. */
export interface ScriptedRandom extends Random {
  /** left is how many scripted values have not been drawn yet. */
  readonly left: number;
}

export function scripted(values: readonly number[]): ScriptedRandom {
  let i = 0;
  const rand = () => {
    if (i >= values.length) throw new Error(`scripted Random exhausted after ${values.length} draws`);
    return values[i++]!;
  };
  Object.defineProperty(rand, "left", { get: () => values.length - i });
  return rand as ScriptedRandom;
}

/** seeded is a small deterministic PRNG (mulberry32) with values in [0, 1). */
export function seeded(seed: number): Random {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** withoutMathRandom runs `fn` with Math.random replaced by one that throws, so a hidden use fails the test. */
export function withoutMathRandom<T>(fn: () => T): T {
  const saved = Math.random;
  Math.random = () => {
    throw new Error("this balancer must not draw random numbers");
  };
  try {
    return fn();
  } finally {
    Math.random = saved;
  }
}

/** picks asks `b` for `count` picks over the same candidate list. */
export function picks(b: Balancer, candidates: readonly Candidate[], count: number): number[] {
  return Array.from({ length: count }, () => b.pick(candidates));
}

/** The largest double below 1: the top of Random's range. */
const ALMOST_ONE = 1 - Number.EPSILON / 2;

/** Load patterns for lists of 1..5 candidates: equal, rising, falling, mixed, with zeros and without. */
const PATTERNS: number[][] = [
  [0],
  [7],
  [0, 0],
  [4, 1],
  [1, 4],
  [0, 0, 0],
  [3, 1, 2],
  [2, 2, 9],
  [0, 5, 0, 5],
  [9, 8, 7, 6],
  [0, 0, 0, 0, 0],
  [5, 0, 3, 0, 1],
  [1, 2, 3, 4, 5],
  [6, 6, 6, 6, 6],
];

function endpoints(n: number): Endpoint[] {
  return Array.from({ length: n }, (_, i) => parseEndpoint(`10.0.0.${i + 1}:80`) as Endpoint);
}

export function describeBalancer(kind: BalancerKind, make: MakeBalancer): void {
  describe(`${kind} (shared balancer suite)`, () => {
    for (const pattern of PATTERNS) {
      test(`returns a valid index for loads [${pattern.join(",")}]`, () => {
        const b = make(seeded(pattern.length * 31 + pattern[0]!));
        const candidates = loads(...pattern);
        for (const i of picks(b, candidates, 200)) {
          expect(Number.isInteger(i)).toBe(true);
          expect(i).toBeGreaterThanOrEqual(0);
          expect(i).toBeLessThan(pattern.length);
        }
      });
    }

    test("returns a valid index when Random sits at the ends of [0, 1)", () => {
      for (let n = 1; n <= 5; n++) {
        const edges = Array.from({ length: 40 }, (_, k) => (k % 2 === 0 ? ALMOST_ONE : 0));
        const b = make(() => edges.pop() ?? 0);
        for (const i of picks(b, loads(...Array(n).fill(1)), 20)) {
          expect(i).toBeGreaterThanOrEqual(0);
          expect(i).toBeLessThan(n);
        }
      }
    });

    test("a single candidate always gets index 0", () => {
      for (const active of [0, 1, 100]) {
        const b = make(seeded(active + 1));
        expect(picks(b, loads(active), 20)).toEqual(Array(20).fill(0));
      }
      const top = make(() => ALMOST_ONE);
      expect(picks(top, loads(3), 5)).toEqual([0, 0, 0, 0, 0]);
    });

    for (const level of [0, 3]) {
      test(`chooses every candidate at least once when all loads are ${level}`, () => {
        for (let n = 1; n <= 5; n++) {
          const b = make(seeded(n * 7 + level));
          const chosen = new Set(picks(b, loads(...Array(n).fill(level)), 50 * n));
          expect([...chosen].sort()).toEqual(Array.from({ length: n }, (_, i) => i));
        }
      });
    }

    test("is deterministic for a given Random", () => {
      const run = () => {
        const b = make(seeded(42));
        const out: number[] = [];
        for (let k = 0; k < 100; k++) {
          const n = (k % 5) + 1;
          out.push(b.pick(loads(...Array.from({ length: n }, (_, i) => (i * k) % 3))));
        }
        return out;
      };
      expect(run()).toEqual(run());
    });

    test("createBalancer(kind) builds the same algorithm", () => {
      const candidates = loads(2, 0, 1, 0, 3);
      expect(picks(createBalancer(kind, seeded(9)), candidates, 50)).toEqual(picks(make(seeded(9)), candidates, 50));
    });

    test("behind a Pool, never hands out a target that is not ready while a ready one is left", () => {
      const pool = new Pool(endpoints(5), make(seeded(5)));
      const [t0, t1, t2, t3, t4] = pool.targets;
      t1!.health.markDown(1);
      t3!.enabled = false;
      pool.refresh();
      for (let k = 0; k < 100; k++) expect([t0, t2, t4]).toContain(pool.pick(null)!);
      for (let k = 0; k < 20; k++) expect([t2, t4]).toContain(pool.pick([t0!])!);
    });
  });
}
