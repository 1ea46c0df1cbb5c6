import { describe, expect, test } from "bun:test";
import { adoptable, encodeInherited, parseInherited, parseState, share } from "../../src/control/inherit.ts";
import { childSockets, handover } from "../../src/control/upgrade.ts";

describe("inherited sockets", () => {
  test.each([
    ["one port", { ports: new Map([[5001, [7]]]) }, "5001=7"],
    ["ports with several sockets and the admin's", { ports: new Map([[5001, [7, 9]], [80, [11]]]), admin: 12 }, "5001=7,5001=9,80=11;admin=12"],
    ["the admin's with its address", { ports: new Map([[5001, [7]]]), admin: 8, adminAt: "127.0.0.1:9900" }, "5001=7;admin=8@127.0.0.1:9900"],
    ["nothing", { ports: new Map() }, ""],
  ])("%s: encoded and parsed back", (_name, sockets, text) => {
    expect(encodeInherited(sockets)).toBe(text);
    expect(parseInherited(text)).toEqual(sockets);
  });

  test.each(["5001", "5001=x", "0=3", "70000=3", "5001=3;admin=x", "5001=3;admin=4;admin=5", "5001=3;other=4"])("%s is refused", (text) => {
    expect(() => parseInherited(text)).toThrow();
  });

  test("the child's descriptors are 3, 4, … in the order the sockets are listed, the admin's last", () => {
    const { fds, described } = childSockets({ ports: new Map([[5001, [20, 31]], [80, [25]]]), admin: 40, adminAt: "[::1]:9900" });
    expect(fds).toEqual([20, 31, 25, 40]);
    expect(described).toEqual({ ports: new Map([[5001, [3, 4]], [80, [5]]]), admin: 6, adminAt: "[::1]:9900" });
  });
});

describe("share", () => {
  const sockets = new Map([
    [5001, [3, 4]],
    [80, [5, 6, 7]],
  ]);
  test("as many threads as sockets: one each", () => {
    expect(share(new Map([[5001, [3, 4]]]), 2)).toEqual([new Map([[5001, [3]]]), new Map([[5001, [4]]])]);
  });
  test("fewer threads: the main thread adopts what is left over", () => {
    expect(share(sockets, 2)).toEqual([
      new Map([
        [5001, [3]],
        [80, [5, 7]],
      ]),
      new Map([
        [5001, [4]],
        [80, [6]],
      ]),
    ]);
  });
  test("more threads: the others bind their own", () => {
    expect(share(new Map([[5001, [3]]]), 3)).toEqual([new Map([[5001, [3]]]), new Map(), new Map()]);
  });
  test("every socket goes to exactly one thread", () => {
    for (let threads = 1; threads <= 5; threads++) {
      const all = share(sockets, threads).flatMap((m) => [...m.values()].flat()).sort();
      expect(all).toEqual([3, 4, 5, 6, 7]);
    }
  });
});

describe("operator state", () => {
  test("drained targets by app; anything malformed is no state at all", () => {
    expect(parseState('{"web":["127.0.0.1:9001"]}')).toEqual({ web: ["127.0.0.1:9001"] });
    expect(parseState('{"web":["a",3]}')).toEqual({ web: ["a"] });
    for (const bad of [undefined, "", "[1]", "null", "{", '"x"']) expect(parseState(bad)).toEqual({});
  });
});

describe("adoptable", () => {
  test("keeps the sockets of ports the config still has and the admin socket at the same address; the rest is to close", () => {
    const handed = { ports: new Map([[5001, [3, 4]], [6000, [5]]]), admin: 6, adminAt: "127.0.0.1:9900" };
    expect(adoptable(handed, new Set([5001, 7000]), "127.0.0.1:9900")).toEqual({
      keep: { ports: new Map([[5001, [3, 4]]]), admin: 6, adminAt: "127.0.0.1:9900" },
      close: [5],
    });
  });
  test("an admin API that moved or went closes the old admin socket", () => {
    const handed = { ports: new Map([[5001, [3]]]), admin: 6, adminAt: "127.0.0.1:9900" };
    expect(adoptable(handed, new Set([5001]), "127.0.0.1:9901").close).toEqual([6]);
    expect(adoptable(handed, new Set([5001]), undefined)).toEqual({ keep: { ports: new Map([[5001, [3]]]) }, close: [6] });
  });
});

describe("handover", () => {
  test("every thread's sockets by port, the admin socket with its address, the drained targets", () => {
    const runtime = {
      listenerFds: (): [number, number[]][] => [[5001, [10]], [5002, [11]]],
      apps: new Map([
        ["web", { name: "web", allTargets: [{ address: "127.0.0.1:9001", enabled: true }, { address: "127.0.0.1:9002", enabled: false }] }],
        ["db", { name: "db", allTargets: [{ address: "127.0.0.1:5432", enabled: true }] }],
      ]),
      admin: { fd: 12 },
      config: { admin: { address: "127.0.0.1:9900" } },
    };
    const workers = { listenerFds: (): [number, number[]][] => [[5001, [20]], [5002, [21]]] };
    expect(handover(runtime, workers)).toEqual({
      sockets: { ports: new Map([[5001, [10, 20]], [5002, [11, 21]]]), admin: 12, adminAt: "127.0.0.1:9900" },
      state: { web: ["127.0.0.1:9002"] },
    });
    expect(handover({ ...runtime, admin: undefined }, undefined).sockets).toEqual({ ports: new Map([[5001, [10]], [5002, [11]]]) });
  });
});
