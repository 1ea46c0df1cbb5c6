import { describe, expect, test } from "bun:test";
import { parseBootTime, parseResident, parseStat, sampleProcess, type ProcFs } from "../../src/sys/process-metrics.ts";

/** STAT is a real /proc/self/stat line (Linux 6.x), with fields 14, 15 and 22 at 4, 1 and 900121. */
const STAT =
  "2085 (bun) R 2082 2082 30550 0 -1 4194304 1137 99 0 1 4 1 0 0 20 0 4 0 900121 6642036736 7294 18446744073709551615 27528448 109354128 140725141767920 0 0 0 0 16781312 1610614008 0 0 0 17 1 0 0 0 0 0 109358224 109477592 128258048 140725141776858 140725141776868 140725141776868 140725141778391 0\n";

describe("parseStat", () => {
  const rows: [string, string, ReturnType<typeof parseStat>][] = [
    ["a real line", STAT, { utime: 4, stime: 1, starttime: 900121 }],
    ["a command name with spaces and parentheses", STAT.replace("(bun)", "(a) (b c)"), { utime: 4, stime: 1, starttime: 900121 }],
    ["no parentheses", "2085 bun R 1 2 3", undefined],
    ["cut short", "2085 (bun) R 2082 2082", undefined],
    ["empty", "", undefined],
  ];
  for (const [name, text, want] of rows) test(name, () => expect(parseStat(text)).toEqual(want));
});

describe("parseBootTime and parseResident", () => {
  test("btime from /proc/stat", () => {
    expect(parseBootTime("cpu  1 2 3\nintr 5\nbtime 1796009144\nprocesses 9\n")).toBe(1796009144);
    expect(parseBootTime("cpu 1 2 3\n")).toBeUndefined();
  });
  test("VmRSS from /proc/self/status, in bytes", () => {
    expect(parseResident("Name:\tbun\nVmHWM:\t   30000 kB\nVmRSS:\t   29356 kB\nRssAnon:\t 1 kB\n")).toBe(29356 * 1024);
    expect(parseResident("Name:\tbun\n")).toBeUndefined();
  });
});

describe("sampleProcess", () => {
  const files: Record<string, string> = {
    "/proc/self/stat": STAT,
    "/proc/stat": "btime 1796009144\n",
    "/proc/self/status": "VmRSS:\t 1000 kB\n",
  };
  const fake = (missing: string[] = []): ProcFs => ({
    read(path) {
      if (missing.includes(path) || files[path] === undefined) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return files[path]!;
    },
    list(path) {
      if (missing.includes(path)) throw Object.assign(new Error("ENOENT"), { code: "ENOENT" });
      return ["0", "1", "2", "3"];
    },
  });

  test("every fact from a full /proc", () => {
    expect(sampleProcess(fake())).toEqual({ cpuSeconds: 0.05, startTimeSeconds: 1796009144 + 9001.21, residentBytes: 1024_000, openFds: 4 });
  });

  test("without /proc (not Linux) it reports nothing and does not throw", () => {
    expect(sampleProcess(fake(["/proc/self/stat", "/proc/stat", "/proc/self/status", "/proc/self/fd"]))).toEqual({});
  });

  test("without /proc/stat the start time alone is left out", () => {
    expect(Object.keys(sampleProcess(fake(["/proc/stat"]))).sort()).toEqual(["cpuSeconds", "openFds", "residentBytes"]);
  });

  test("the real /proc of this test process, on Linux", () => {
    const s = sampleProcess();
    if (process.platform !== "linux") return expect(s).toBeDefined();
    expect(s.cpuSeconds).toBeGreaterThanOrEqual(0);
    expect(s.residentBytes).toBeGreaterThan(1024 * 1024);
    expect(s.openFds).toBeGreaterThanOrEqual(3);
    expect(Math.abs(s.startTimeSeconds! - (Date.now() / 1000 - process.uptime()))).toBeLessThan(5);
  });
});
