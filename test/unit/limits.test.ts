import { describe, expect, test } from "bun:test";
import { appCap, atCap, connectionCap, FD_RESERVE, planConnections, readFdLimit } from "../../src/sys/limits.ts";

describe("connectionCap", () => {
  const rows: [fdLimit: number, reserved: number, cap: number][] = [
    [1024, 64, 480],
    [1024, 0, 512],
    [1025, 64, 480], // an odd descriptor left over is not half a session
    [1026, 64, 481],
    [65536, 64, 32736],
    [130, 64, 33],
    [66, 64, 1],
    [65, 64, 1], // less than one session fits: still 1, never 0
    [64, 64, 1],
    [10, 64, 1], // a limit below the reserve
  ];
  for (const [fdLimit, reserved, cap] of rows) {
    test(`${fdLimit} descriptors with ${reserved} reserved hold ${cap} sessions`, () => {
      expect(connectionCap(fdLimit, reserved)).toBe(cap);
    });
  }

  test("the reserve is 64 descriptors", () => {
    expect(FD_RESERVE).toBe(64);
  });
});

describe("readFdLimit", () => {
  test("is a positive whole number, or undefined when unlimited or unknown", async () => {
    const n = await readFdLimit();
    if (n !== undefined) {
      expect(Number.isInteger(n)).toBe(true);
      expect(n).toBeGreaterThan(0);
    }
  });

  test("on Linux, agrees with the shell's soft limit (which a child inherits)", async () => {
    if (process.platform !== "linux") return;
    const out = Bun.spawnSync(["sh", "-c", "ulimit -Sn"]).stdout.toString().trim();
    expect(await readFdLimit()).toBe(out === "unlimited" ? undefined : Number(out));
  });
});

describe("atCap", () => {
  // Sessions hold two fds each, abandoned dials one.
  const rows: [active: number, abandoned: number, max: number, full: boolean][] = [
    [0, 0, 1, false],
    [1, 0, 1, true],
    [2, 1, 3, false],
    [2, 2, 3, true],
    [0, 5, 3, false],
    [0, 6, 3, true],
  ];
  for (const [active, abandonedDials, maxConnections, full] of rows) {
    test(`${active} sessions + ${abandonedDials} abandoned dials, cap ${maxConnections}: ${full ? "full" : "room"}`, () => {
      expect(atCap({ active, abandonedDials, maxConnections })).toBe(full);
    });
  }
});

describe("planConnections", () => {
  test("no fd limit known: the configured cap, or 100,000", () => {
    expect(planConnections(undefined, 1, 1, undefined, 128).cap).toBe(100_000);
    expect(planConnections(undefined, 1, 1, 5, 128).cap).toBe(5);
  });

  test("reserves 64 + ports + targets + probes in flight (at most one per target)", () => {
    expect(planConnections(1024, 1, 1, undefined, 128)).toEqual({ cap: 478, reserved: 67, overCommitted: false, warning: undefined });
    expect(planConnections(100_000, 10, 500, undefined, 128).reserved).toBe(64 + 10 + 500 + 128);
  });

  test("a configured cap that fits is kept", () => {
    expect(planConnections(1024, 1, 1, 478, 128)).toEqual({ cap: 478, reserved: 67, overCommitted: false });
  });

  test("a configured cap that does not fit is lowered, with the number of fds it would need", () => {
    const p = planConnections(1024, 1, 1, 10_000, 128);
    expect([p.cap, p.overCommitted]).toEqual([478, true]);
    expect(p.warning).toContain("20067");
  });

  test("10,000 ports under 1024 fds: the automatic cap of 1 is said out loud", () => {
    const p = planConnections(1024, 10_000, 1, undefined, 128);
    expect(p.cap).toBe(1);
    expect(p.overCommitted).toBe(false);
    expect(p.warning).toContain("only 1 connection");
  });
});

describe("appCap", () => {
  test("an app's own max_connections wins", () => {
    expect(appCap(1000, 3, 50)).toBe(50);
  });
  test("one app may use the whole cap", () => {
    expect(appCap(1000, 1, undefined)).toBe(1000);
  });
  test("with several apps, each keeps a quarter of an even share for every other app", () => {
    // 2 apps: each other app keeps 1000 / 8 = 125, so one app may hold 875.
    expect(appCap(1000, 2, undefined)).toBe(875);
    // 10 apps: 25 kept for each of the 9 others.
    expect(appCap(1000, 10, undefined)).toBe(775);
  });
  test("never below 1", () => {
    expect(appCap(1, 50, undefined)).toBe(1);
  });
});

describe("fdPlan with workers", () => {
  test("each worker holds its own listener per port: the reserve grows with workers", async () => {
    const { fdPlan } = await import("../../src/control/runtime.ts");
    const { parseConfig } = await import("../../src/config/load.ts");
    const config = parseConfig({ apps: [{ name: "a", ports: [1, 2, 3, 4], targets: ["127.0.0.1:9"] }] });
    const one = fdPlan(config, 1000, 1);
    const eight = fdPlan(config, 1000, 8);
    expect(eight.reserved - one.reserved).toBe(7 * 4);
    expect(one.cap - eight.cap).toBe(14);
  });
});
