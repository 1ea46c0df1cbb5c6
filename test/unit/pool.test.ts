import { describe, expect, test } from "bun:test";
import type { Balancer, Candidate } from "../../src/upstream/balancer/index.ts";
import { roundRobin } from "../../src/upstream/balancer/round-robin.ts";
import { Pool, TargetState } from "../../src/upstream/pool.ts";
import { parseEndpoint, type Endpoint } from "../../src/net/target.ts";

function ep(text: string): Endpoint {
  const e = parseEndpoint(text);
  if (typeof e === "string") throw new Error(e);
  return e;
}

const A = ep("10.0.0.1:80");
const B = ep("10.0.0.2:80");
const C = ep("10.0.0.3:80");

/** recording is a balancer that notes the addresses it was offered and picks `index` of them. */
function recording(index = 0): Balancer & { offered: string[][] } {
  const offered: string[][] = [];
  return {
    offered,
    pick(candidates: readonly Candidate[]): number {
      offered.push(candidates.map((c) => (c as TargetState).address));
      return index;
    },
  };
}

function addresses(ts: readonly TargetState[]): string[] {
  return ts.map((t) => t.address);
}

describe("TargetState", () => {
  test("starts idle, healthy and enabled, with the endpoint's address", () => {
    const t = new TargetState(ep("[::1]:9001"));
    expect({ host: t.host, port: t.port, address: t.address, active: t.active, total: t.total, errors: t.connectErrors }).toEqual({
      host: "::1",
      port: 9001,
      address: "[::1]:9001",
      active: 0,
      total: 0,
      errors: 0,
    });
    expect([t.health.healthy, t.enabled, t.ready]).toEqual([true, true, true]);
  });

  const rows: [healthy: boolean, enabled: boolean, ready: boolean][] = [
    [true, true, true],
    [true, false, false],
    [false, true, false],
    [false, false, false],
  ];
  for (const [healthy, enabled, ready] of rows) {
    test(`healthy=${healthy} enabled=${enabled} is ready=${ready}`, () => {
      const t = new TargetState(A);
      if (!healthy) t.health.markDown(1);
      t.enabled = enabled;
      expect(t.ready).toBe(ready);
    });
  }
});

describe("Pool", () => {
  test("keeps the endpoints' order", () => {
    const pool = new Pool([C, A, B], recording());
    expect(addresses(pool.targets)).toEqual([C.address, A.address, B.address]);
  });

  test("pick(null) offers every target when all are ready, and returns the balancer's choice", () => {
    const bal = recording(2);
    const pool = new Pool([A, B, C], bal);
    expect(pool.pick(null)).toBe(pool.targets[2]!);
    expect(bal.offered).toEqual([[A.address, B.address, C.address]]);
  });

  test("pick(null) offers ready targets only", () => {
    const bal = recording(1);
    const pool = new Pool([A, B, C], bal);
    pool.targets[0]!.health.markDown(1);
    pool.refresh();
    expect(pool.pick(null)!.address).toBe(C.address);
    expect(bal.offered).toEqual([[B.address, C.address]]);
  });

  test("pick(null) skips a drained (disabled) target", () => {
    const bal = recording();
    const pool = new Pool([A, B, C], bal);
    pool.targets[1]!.enabled = false;
    pool.refresh();
    pool.pick(null);
    expect(bal.offered).toEqual([[A.address, C.address]]);
  });

  test("pick(null) fails open to every target when none is ready", () => {
    const bal = recording(1);
    const pool = new Pool([A, B, C], bal);
    for (const t of pool.targets) t.health.markDown(1);
    pool.refresh();
    expect(pool.pick(null)!.address).toBe(B.address);
    expect(bal.offered).toEqual([[A.address, B.address, C.address]]);
  });

  test("pick(tried) leaves out the targets already tried", () => {
    const bal = recording();
    const pool = new Pool([A, B, C], bal);
    const [a, , c] = pool.targets;
    expect(pool.pick([a!])!.address).toBe(B.address);
    expect(pool.pick([c!, a!])!.address).toBe(B.address);
    expect(bal.offered).toEqual([[B.address, C.address], [B.address]]);
  });

  test("pick(tried) turns to targets that are not ready once the ready ones are tried", () => {
    const bal = recording();
    const pool = new Pool([A, B, C], bal);
    const [a, b, c] = pool.targets;
    c!.health.markDown(1);
    b!.enabled = false;
    pool.refresh();
    expect(pool.pick([])!.address).toBe(A.address);
    expect(pool.pick([a!])!.address).toBe(B.address);
    expect(pool.pick([a!, b!])!.address).toBe(C.address);
    expect(bal.offered).toEqual([[A.address], [B.address, C.address], [C.address]]);
  });

  test("pick(tried) returns undefined once every target is tried, without asking the balancer", () => {
    const bal = recording();
    const pool = new Pool([A, B], bal);
    pool.targets[1]!.health.markDown(1);
    pool.refresh();
    expect(pool.pick([...pool.targets])).toBeUndefined();
    expect(bal.offered).toEqual([]);
  });

  test("tried compares by identity: a different object with the same address is not excluded", () => {
    const bal = recording();
    const pool = new Pool([A, B], bal);
    pool.pick([new TargetState(A)]);
    expect(bal.offered).toEqual([[A.address, B.address]]);
  });

  test("an empty pool returns undefined without asking the balancer", () => {
    const bal = recording();
    const pool = new Pool([], bal);
    expect(pool.pick(null)).toBeUndefined();
    expect(pool.pick([])).toBeUndefined();
    expect(bal.offered).toEqual([]);
  });

  test("health changes are seen only after refresh", () => {
    const bal = recording();
    const pool = new Pool([A, B], bal);
    const a = pool.targets[0]!;
    a.health.markDown(1);
    pool.pick(null);
    pool.refresh();
    pool.pick(null);
    a.health.observe(true, 1, 1, 2);
    pool.pick(null);
    pool.refresh();
    pool.pick(null);
    expect(bal.offered).toEqual([[A.address, B.address], [B.address], [B.address], [A.address, B.address]]);
  });

  test("a pool built with `previous` keeps TargetState objects by address", () => {
    const old = new Pool([A, B], roundRobin());
    const [oldA, oldB] = old.targets;
    for (let i = 0; i < 3; i++) oldA!.acquire();
    for (let i = 0; i < 10; i++) oldA!.connected();
    oldB!.health.markDown(1, "ECONNREFUSED");
    const next = new Pool([B, C, A], roundRobin(), old);
    expect(next.targets[0]).toBe(oldB!);
    expect(next.targets[2]).toBe(oldA!);
    expect(next.targets[1]).not.toBe(oldA!);
    expect([next.targets[1]!.address, next.targets[1]!.active]).toEqual([C.address, 0]);
    expect([oldA!.active, oldA!.total]).toEqual([3, 10]);
    expect(next.targets[0]!.health.lastError).toBe("ECONNREFUSED");
  });

  test("a pool built with `previous` drops removed addresses and starts its ready list from the kept health", () => {
    const old = new Pool([A, B], roundRobin());
    old.targets[0]!.health.markDown(1);
    const bal = recording();
    const next = new Pool([A, C], bal, old);
    expect(addresses(next.targets)).toEqual([A.address, C.address]);
    next.pick(null);
    expect(bal.offered).toEqual([[C.address]]);
  });

  test("a pool built with `previous` keeps an operator's drain: the target stays disabled and out of the ready list", () => {
    const old = new Pool([A, B], roundRobin());
    old.targets[1]!.enabled = false;
    old.refresh();
    const bal = recording();
    const next = new Pool([B, A, C], bal, old);
    expect(next.targets.map((t) => [t.address, t.enabled])).toEqual([
      [B.address, false],
      [A.address, true],
      [C.address, true],
    ]);
    next.pick(null);
    expect(bal.offered).toEqual([[A.address, C.address]]);
    // Removed by one rebuild and back in the next: a new target, enabled.
    const back = new Pool([B], roundRobin(), new Pool([A], roundRobin(), next));
    expect(back.targets[0]!.enabled).toBe(true);
  });

  test("works with a real balancer: round-robin over the ready targets", () => {
    const pool = new Pool([A, B, C], roundRobin());
    pool.targets[1]!.health.markDown(1);
    pool.refresh();
    const picked = Array.from({ length: 4 }, () => pool.pick(null)!.address);
    expect(picked).toEqual([A.address, C.address, A.address, C.address]);
  });
});

describe("weights, caps and slow start", () => {
  const capped = (text: string, maxConnections: number, weight = 1): Endpoint => ({ ...ep(text), maxConnections, weight });

  test("a target at its max_connections is not offered; waiting says when all untried are full", () => {
    const b = recording();
    const pool = new Pool([capped("10.0.0.1:80", 1), B], b);
    const [a, bt] = pool.targets as [TargetState, TargetState];
    a.acquire();
    expect(pool.pick(null)).toBe(bt);
    expect(b.offered.at(-1)).toEqual(["10.0.0.2:80"]);
    expect(pool.waiting(null)).toBe(false);
    expect(pool.waiting([bt])).toBe(true);
    expect(pool.pick([bt])).toBeUndefined();
    a.release();
    expect(pool.waiting([bt])).toBe(false);
  });

  test("a pool with no caps never waits, even with every target tried", () => {
    const pool = new Pool([A, B], recording());
    expect(pool.waiting(pool.targets)).toBe(false);
    expect(pool.waiting(null)).toBe(false);
  });

  test("a reload changes a kept target's weight and cap in place", () => {
    const first = new Pool([capped("10.0.0.1:80", 5, 2)], recording());
    const t = first.targets[0]!;
    for (let i = 0; i < 3; i++) t.acquire();
    const second = new Pool([capped("10.0.0.1:80", 3, 7)], recording(), first);
    expect(second.targets[0]).toBe(t);
    expect([t.weight, t.maxConnections, t.active, t.full]).toEqual([7, 3, 3, true]);
  });

  test("slow start ramps the weight from 10 % to 100 % linearly", () => {
    const t = new TargetState({ ...A, weight: 10 });
    expect(t.weight).toBe(10);
    const now = performance.now();
    t.slowStart(1000, now);
    expect(t.weight).toBeGreaterThanOrEqual(1);
    expect(t.weight).toBeLessThan(1.5);
    t.slowStart(1000, now - 500); // half-way
    expect(t.weight).toBeGreaterThan(5.4);
    expect(t.weight).toBeLessThan(6);
    t.slowStart(1000, now - 1000); // over
    expect(t.weight).toBe(10);
    t.slowStart(0, now); // no slow start configured
    expect(t.weight).toBe(10);
  });
});

describe("a worker's pool and the board's flags", () => {
  test("a target the owner drained is not picked by another worker, even before that worker's ready list is rebuilt", async () => {
    const { Board } = await import("../../src/sys/board.ts");
    const board = Board.create(2);
    const cells = [board.target(0), board.target(1)];
    const ownerPool = new Pool([A, B], roundRobin(), undefined, (e) => new TargetState(e, cells[e.address === A.address ? 0 : 1], true));
    const w1 = board.as(1);
    const workerPool = new Pool([A, B], roundRobin(), undefined, (e) => new TargetState(e, w1.target(e.address === A.address ? 0 : 1), false));
    // The owner drains A and publishes; the worker has not rebuilt its list yet.
    ownerPool.targets[0]!.enabled = false;
    ownerPool.refresh();
    const picks = Array.from({ length: 6 }, () => workerPool.pick(null)!.address);
    expect(new Set(picks)).toEqual(new Set([B.address]));
  });
});
