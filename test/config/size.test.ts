import { describe, expect, test } from "bun:test";
import { formatSize, parseSize } from "../../src/config/size.ts";

describe("parseSize", () => {
  const valid: [string, number][] = [
    ["0B", 0],
    ["512B", 512],
    ["1KiB", 1024],
    ["64KiB", 65_536],
    ["1MiB", 1_048_576],
    ["64MiB", 67_108_864],
    ["1GiB", 1_073_741_824],
    ["1.5KiB", 1536],
    ["0.5MiB", 524_288],
    ["64KB", 64_000], // decimal: KB is 1000 bytes
    ["1.1KB", 1100], // exact, not 1100.0000000000002
    ["1MB", 1_000_000],
    ["2.5GB", 2_500_000_000],
    ["007KiB", 7168],
    ["8192B", 8192],
  ];
  for (const [text, bytes] of valid) {
    test(`${JSON.stringify(text)} is ${bytes} bytes`, () => {
      expect(parseSize(text)).toBe(bytes);
    });
  }

  const invalid = [
    "",
    "65536", // a bare number: bytes or KiB?
    "64 KiB",
    " 64KiB",
    "64KiB ",
    "-1KiB",
    "+1KiB",
    "1.KiB",
    ".5KiB",
    "64kib",
    "64kb", // units are case-sensitive, like durations
    "64K",
    "64k",
    "64KIB",
    "1TiB",
    "1e3B",
    "0x10B",
    "B",
    "KiB",
    "Infinity",
    "InfinityB",
    "NaNB",
    "1.5B", // not a whole number of bytes
    "0.1KiB", // 102.4 bytes
    "9007199254740992B", // 2^53: beyond a safe integer
    "99999999999999999999GiB",
  ];
  for (const text of invalid) {
    test(`${JSON.stringify(text)} is rejected with a reason naming it`, () => {
      const r = parseSize(text);
      expect(typeof r).toBe("string");
      expect(r as string).toContain(JSON.stringify(text));
    });
  }
});

describe("formatSize", () => {
  const rows: [number, string][] = [
    [1, "1B"],
    [100, "100B"],
    [1000, "1KB"],
    [1024, "1KiB"],
    [1536, "1536B"],
    [64_000, "64KB"],
    [65_536, "64KiB"],
    [1_024_000, "1000KiB"],
    [1_048_576, "1MiB"],
    [1_000_000, "1MB"],
    [67_108_864, "64MiB"],
    [3 * 1024 ** 3, "3GiB"],
  ];
  for (const [bytes, text] of rows) {
    test(`${bytes} bytes is ${JSON.stringify(text)}`, () => {
      expect(formatSize(bytes)).toBe(text);
    });
  }

  test("round-trips through parseSize", () => {
    for (const bytes of [1, 999, 1000, 1023, 1024, 1025, 65_536, 64_000, 1_572_864, 67_108_864, Number.MAX_SAFE_INTEGER]) {
      expect(parseSize(formatSize(bytes))).toBe(bytes);
    }
  });
});
