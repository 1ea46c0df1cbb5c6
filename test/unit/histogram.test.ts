import { describe, expect, test } from "bun:test";
import { CONNECT_BUCKETS_S, Histogram } from "../../src/sys/histogram.ts";

describe("Histogram", () => {
  // [observations, cumulative counts for bounds [0.1, 1, 10] and +Inf]
  const rows: [string, number[], number[]][] = [
    ["nothing", [], [0, 0, 0, 0]],
    ["below the first bound", [0.01], [1, 1, 1, 1]],
    ["on a bound (le is inclusive)", [0.1, 1, 10], [1, 2, 3, 3]],
    ["just over a bound", [0.1000001], [0, 1, 1, 1]],
    ["past the last bound", [11, 1e9], [0, 0, 0, 2]],
    ["zero and negatives fall in the first bucket", [0, -1], [2, 2, 2, 2]],
    ["a mix", [0.05, 0.5, 5, 50, 0.5], [1, 3, 4, 5]],
  ];
  for (const [name, values, cumulative] of rows) {
    test(name, () => {
      const h = new Histogram([0.1, 1, 10]);
      for (const v of values) h.observe(v);
      expect(h.cumulative()).toEqual(cumulative);
      expect(h.count).toBe(values.length);
      expect(h.sum).toBeCloseTo(values.reduce((a, b) => a + b, 0), 9);
    });
  }

  test("NaN is ignored", () => {
    const h = new Histogram([1]);
    h.observe(Number.NaN);
    expect([h.count, h.sum, ...h.cumulative()]).toEqual([0, 0, 0, 0]);
  });

  test("bounds must be finite and strictly increasing", () => {
    expect(() => new Histogram([1, 1])).toThrow(RangeError);
    expect(() => new Histogram([2, 1])).toThrow(RangeError);
    expect(() => new Histogram([1, Infinity])).toThrow(RangeError);
    expect(new Histogram([]).cumulative()).toEqual([0]);
  });

  test("the connect buckets run from 0.5 ms to 10 s", () => {
    expect(CONNECT_BUCKETS_S[0]).toBe(0.0005);
    expect(CONNECT_BUCKETS_S.at(-1)).toBe(10);
    expect(() => new Histogram(CONNECT_BUCKETS_S)).not.toThrow();
  });
});
