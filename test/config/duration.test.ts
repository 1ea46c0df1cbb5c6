import { describe, expect, test } from "bun:test";
import { formatDuration, MAX_DURATION_MS, parseDuration } from "../../src/config/duration.ts";

describe("parseDuration", () => {
  const valid: [string, number][] = [
    ["250ms", 250],
    ["0ms", 0],
    ["0s", 0],
    ["2s", 2000],
    ["1.5s", 1500],
    ["0.25s", 250],
    ["1.5ms", 2], // rounded to whole milliseconds
    ["0.4ms", 0],
    ["5m", 300_000],
    ["1.5m", 90_000],
    ["1h", 3_600_000],
    ["596h", 596 * 3_600_000],
    ["030s", 30_000],
  ];
  for (const [text, ms] of valid) {
    test(`${JSON.stringify(text)} is ${ms}ms`, () => {
      expect(parseDuration(text)).toBe(ms);
    });
  }

  const invalid = [
    "",
    "30", // a bare number: seconds or milliseconds?
    "2 seconds",
    "2 s",
    " 2s",
    "2s ",
    "-1s",
    "+1s",
    "1.s",
    ".5s",
    "1d",
    "2S",
    "1e3ms",
    "1h30m",
    "s",
    "Infinitys",
    "597h", // beyond setTimeout's 2^31-1 ms
  ];
  for (const text of invalid) {
    test(`${JSON.stringify(text)} is rejected with a reason naming it`, () => {
      const r = parseDuration(text);
      expect(typeof r).toBe("string");
      expect(r as string).toContain(JSON.stringify(text));
    });
  }
});

describe("formatDuration", () => {
  const rows: [number, string][] = [
    [0, "0s"],
    [1, "1ms"],
    [250, "250ms"],
    [1000, "1s"],
    [1500, "1.5s"],
    [2000, "2s"],
    [90_000, "90s"],
    [300_000, "5m"],
    [3_600_000, "1h"],
    [5_400_000, "90m"],
  ];
  for (const [ms, text] of rows) {
    test(`${ms}ms is ${JSON.stringify(text)}`, () => {
      expect(formatDuration(ms)).toBe(text);
    });
  }

  test("round-trips through parseDuration", () => {
    for (const ms of [0, 1, 999, 1000, 1234, 59_999, 60_000, 3_600_000, MAX_DURATION_MS]) {
      expect(parseDuration(formatDuration(ms))).toBe(ms);
    }
  });
});
