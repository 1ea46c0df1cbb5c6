/**
 * The reload plan as data: what diff() says to open, close, re-point,
 * create, update and retire, for start-up and for each kind of reload.
 */
import { describe, expect, test } from "bun:test";
import { parseConfig } from "../../src/config/load.ts";
import type { Config } from "../../src/config/types.ts";
import { changesNothing, diff, summary, type Plan } from "../../src/control/plan.ts";

type AppDoc = { name: string; ports: number[]; targets: string[]; [k: string]: unknown };

function config(apps: AppDoc[], top: Record<string, unknown> = {}): Config {
  return parseConfig({ ...top, apps });
}

const a = (ports: number[], targets = ["127.0.0.1:9001"], extra = {}): AppDoc => ({ name: "a", ports, targets, ...extra });
const b = (ports: number[], targets = ["127.0.0.1:9002"], extra = {}): AppDoc => ({ name: "b", ports, targets, ...extra });

/** shape keeps the parts of a plan a row checks, with app configs reduced to names. */
function shape(p: Plan) {
  return {
    open: p.open.map((o) => `${o.port}:${o.app}`),
    close: p.close,
    repoint: p.repoint.map((r) => `${r.port}:${r.app}`),
    create: p.create.map((c) => c.name),
    update: p.update.map((c) => c.name),
    unchanged: p.unchanged,
    retire: p.retire,
    targets: p.targets.map((t) => `${t.app}:${[...t.added.map((x) => `+${x}`), ...t.removed.map((x) => `-${x}`)].join(",")}`),
  };
}

const none = { open: [], close: [], repoint: [], create: [], update: [], unchanged: [], retire: [], targets: [] };

describe("diff", () => {
  const rows: [string, Config | undefined, Config, Partial<ReturnType<typeof shape>>][] = [
    ["start-up opens every port and creates every app", undefined, config([a([1, 2]), b([3])]), { open: ["1:a", "2:a", "3:b"], create: ["a", "b"] }],
    ["the same config changes nothing", config([a([1])]), config([a([1])]), { unchanged: ["a"] }],
    ["a new port of a kept app opens", config([a([1])]), config([a([1, 2])]), { open: ["2:a"], update: ["a"] }],
    ["a removed port closes", config([a([1, 2])]), config([a([1])]), { close: [2], update: ["a"] }],
    [
      "a port moving to another app is re-pointed, not closed",
      config([a([1, 2]), b([3])]),
      config([a([1]), b([2, 3])]),
      { repoint: ["2:b"], update: ["a", "b"] },
    ],
    [
      "a new app with a port another app gave up",
      config([a([1, 2])]),
      config([a([1]), b([2])]),
      { repoint: ["2:b"], create: ["b"], update: ["a"] },
    ],
    ["a removed app retires, its ports close and its targets count as removed", config([a([1]), b([2])]), config([a([1])]), { close: [2], unchanged: ["a"], retire: ["b"], targets: ["b:-127.0.0.1:9002"] }],
    [
      "a renamed app is one created and one retired, its port re-pointed",
      config([a([1])]),
      config([{ ...a([1]), name: "c" }]),
      { repoint: ["1:c"], create: ["c"], retire: ["a"], targets: ["a:-127.0.0.1:9001"] },
    ],
    [
      "changed targets are listed as added and removed",
      config([a([1], ["127.0.0.1:9001", "127.0.0.1:9002"])]),
      config([a([1], ["127.0.0.1:9002", "127.0.0.1:9003"])]),
      { update: ["a"], targets: ["a:+127.0.0.1:9003,-127.0.0.1:9001"] },
    ],
    ["reordered targets update the app but add or remove none", config([a([1], ["127.0.0.1:1", "127.0.0.1:2"])]), config([a([1], ["127.0.0.1:2", "127.0.0.1:1"])]), { update: ["a"] }],
    ["a changed setting updates the app", config([a([1])]), config([a([1], undefined, { balancer: "p2c" })]), { update: ["a"] }],
    ["a changed [health] updates every kept app", config([a([1]), b([2])]), config([a([1]), b([2])], { health: { interval: "5s" } }), { update: ["a", "b"] }],
    ["an IPv6 allow list compares by value (its blocks hold bigints)", config([a([1], undefined, { allow: ["::1", "2001:db8::/32"] })]), config([a([1], undefined, { allow: ["::1", "2001:db8::/32"] })]), { unchanged: ["a"] }],
    ["a changed IPv6 allow list updates the app", config([a([1], undefined, { allow: ["::1"] })]), config([a([1], undefined, { allow: ["::2"] })]), { update: ["a"] }],
    ["[defaults] reach apps through their resolved config", config([a([1])]), config([a([1])], { defaults: { connect_timeout: "9s" } }), { update: ["a"] }],
  ];
  for (const [name, before, after, want] of rows) {
    test(name, () => {
      expect(shape(diff(before, after))).toEqual({ ...none, ...want });
    });
  }

  test("the admin listener: opened at start, moved, closed, or left alone", () => {
    const on = (port: number) => config([a([1])], { admin: { listen: `127.0.0.1:${port}` } });
    const off = config([a([1])]);
    expect(diff(undefined, on(9900)).admin).toEqual({ from: undefined, to: "127.0.0.1:9900" });
    expect(diff(undefined, off).admin).toBeUndefined();
    expect(diff(on(9900), on(9900)).admin).toBeUndefined();
    expect(diff(on(9900), on(9901)).admin).toEqual({ from: "127.0.0.1:9900", to: "127.0.0.1:9901" });
    expect(diff(on(9900), off).admin).toEqual({ from: "127.0.0.1:9900", to: undefined });
    expect(diff(off, on(9901)).admin).toEqual({ from: undefined, to: "127.0.0.1:9901" });
  });

  test("bind is kept across a reload, with a note", () => {
    const before = config([a([1])], { bind: "127.0.0.1" });
    const p = diff(before, config([a([1])], { bind: "127.0.0.2" }));
    expect(p.bind).toBe("127.0.0.1");
    expect(p.notes).toEqual(["bind stays 127.0.0.1 until restart (config says 127.0.0.2)"]);
    expect(diff(undefined, config([a([1])], { bind: "127.0.0.2" })).bind).toBe("127.0.0.2");
  });

  test("workers is read at start only: a reload that changes it leaves a note", () => {
    const p = diff(config([a([1])], { workers: 2 }), config([a([1])], { workers: 4 }));
    expect(p.notes).toEqual(["workers stays as started until restart (config says 4)"]);
    expect(changesNothing(diff(config([a([1])], { workers: "auto" }), config([a([1])], { workers: "auto" })))).toBe(true);
  });

  test("diff reads its inputs and never changes them", () => {
    const before = config([a([1, 2]), b([3])]);
    const after = config([a([1]), b([2])]);
    const copies = [structuredClone(before), structuredClone(after)];
    diff(before, after);
    expect([before, after]).toEqual(copies);
  });
});

describe("summary and changesNothing", () => {
  test("one line with only what changed", () => {
    const p = diff(config([a([1, 2], ["127.0.0.1:9001"]), b([3])]), config([a([1, 4], ["127.0.0.1:9005"]), { ...b([2]), name: "c" }]));
    expect(summary(p)).toBe("ports +4 -3 2->c; apps +c ~a -b; targets a:+127.0.0.1:9005,-127.0.0.1:9001");
    expect(changesNothing(p)).toBe(false);
  });

  test("no change says so", () => {
    const p = diff(config([a([1])]), config([a([1])]));
    expect(summary(p)).toBe("no change");
    expect(changesNothing(p)).toBe(true);
  });
});
