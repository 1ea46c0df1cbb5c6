import { describe, expect, test } from "bun:test";
import { FakeClock } from "../../helpers/fake-clock.ts";
import type { HealthConfig } from "../../../src/config/types.ts";
import { ProbeBudget } from "../../../src/upstream/health/budget.ts";
import { HealthChecker, type Probe } from "../../../src/upstream/health/checker.ts";
import { TargetState } from "../../../src/upstream/pool.ts";
import { formatEndpoint, parseEndpoint, type Endpoint } from "../../../src/net/target.ts";

/** FakeProbe records each probe and leaves it pending until the test settles it. */
class FakeProbe {
  readonly calls: { address: string; timeoutMs: number }[] = [];
  readonly #pending = new Map<string, { promise: Promise<string | null>; resolve: (r: string | null) => void }[]>();

  readonly probe: Probe = (host, port, timeoutMs) => {
    const address = formatEndpoint(host, port);
    this.calls.push({ address, timeoutMs });
    const { promise, resolve } = Promise.withResolvers<string | null>();
    const list = this.#pending.get(address) ?? [];
    list.push({ promise, resolve });
    this.#pending.set(address, list);
    return promise;
  };

  /** probed lists the addresses probed since the last call. */
  probed(): string[] {
    return this.calls.splice(0).map((c) => c.address);
  }

  inflight(address: string): number {
    return this.#pending.get(address)?.length ?? 0;
  }

  /** settle resolves the oldest pending probe of `address` and lets the checker see the result. */
  async settle(address: string, result: string | null): Promise<void> {
    const p = this.#pending.get(address)?.shift();
    if (p === undefined) throw new Error(`no probe of ${address} in flight`);
    p.resolve(result);
    // The checker's then() was registered first, so it has run once this await returns.
    await p.promise;
  }
}

const CONFIG: HealthConfig = { intervalMs: 1000, timeoutMs: 200, rise: 1, fall: 2 };

function setup(addresses: string[], config: Partial<HealthConfig> = {}, budget = new ProbeBudget(), random = () => 0.5) {
  const targets = addresses.map((a) => new TargetState(parseEndpoint(a) as Endpoint));
  const clock = new FakeClock();
  const probe = new FakeProbe();
  const results: [address: string, flipped: boolean][] = [];
  const checker = new HealthChecker(
    () => targets,
    { ...CONFIG, ...config },
    (t, flipped) => results.push([t.address, flipped]),
    clock,
    probe.probe,
    budget,
    random, // 0.5: no jitter, rounds exactly one interval apart
  );
  return { targets, clock, probe, results, checker };
}

describe("HealthChecker", () => {
  test("start probes every target at once, with the configured timeout", () => {
    const { probe, checker } = setup(["10.0.0.1:80", "10.0.0.2:81", "[::1]:82"]);
    expect(probe.calls).toHaveLength(0);
    checker.start();
    expect(probe.calls).toEqual([
      { address: "10.0.0.1:80", timeoutMs: 200 },
      { address: "10.0.0.2:81", timeoutMs: 200 },
      { address: "[::1]:82", timeoutMs: 200 },
    ]);
  });

  test("the next round comes after the interval, not before", async () => {
    const { clock, probe, checker } = setup(["10.0.0.1:80", "10.0.0.2:80"]);
    checker.start();
    expect(probe.probed()).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
    await probe.settle("10.0.0.1:80", null);
    await probe.settle("10.0.0.2:80", null);
    clock.advance(999);
    expect(probe.probed()).toEqual([]);
    clock.advance(1);
    expect(probe.probed()).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
    expect(clock.timers.size).toBe(1);
  });

  test("a probe still in flight is not duplicated", async () => {
    const { clock, probe, checker } = setup(["10.0.0.1:80", "10.0.0.2:80"]);
    checker.start();
    probe.probed();
    await probe.settle("10.0.0.2:80", null);
    clock.advance(1000);
    expect(probe.probed()).toEqual(["10.0.0.2:80"]);
    clock.advance(1000);
    expect(probe.probed()).toEqual([]);
    expect(probe.inflight("10.0.0.1:80")).toBe(1);
    await probe.settle("10.0.0.1:80", null);
    await probe.settle("10.0.0.2:80", null);
    clock.advance(1000);
    expect(probe.probed()).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
  });

  test("onResult reports each result and whether it flipped the target", async () => {
    const { clock, probe, results, targets, checker } = setup(["10.0.0.1:80", "10.0.0.2:80"], { rise: 1, fall: 2 });
    const [a, b] = targets;
    checker.start();

    await probe.settle("10.0.0.1:80", "ECONNREFUSED");
    await probe.settle("10.0.0.2:80", null);
    expect(results.splice(0)).toEqual([
      ["10.0.0.1:80", false],
      ["10.0.0.2:80", false],
    ]);
    expect(a!.health.healthy).toBe(true);

    clock.advance(1000);
    clock.advance(250);
    await probe.settle("10.0.0.1:80", "ETIMEDOUT");
    expect(results.splice(0)).toEqual([["10.0.0.1:80", true]]);
    expect([a!.health.healthy, a!.health.since, a!.health.lastError]).toEqual([false, 1250, "ETIMEDOUT"]);
    await probe.settle("10.0.0.2:80", null);
    expect(results.splice(0)).toEqual([["10.0.0.2:80", false]]);

    clock.advance(750);
    await probe.settle("10.0.0.1:80", null);
    expect(results.splice(0)).toEqual([["10.0.0.1:80", true]]);
    expect([a!.health.healthy, a!.health.since]).toEqual([true, 2000]);
    expect(b!.health.healthy).toBe(true);
  });

  test("stop cancels the next round and drops results still in flight", async () => {
    const { clock, probe, results, targets, checker } = setup(["10.0.0.1:80"], { fall: 1 });
    checker.start();
    probe.probed();
    expect(clock.timers.size).toBe(1);
    checker.stop();
    expect(clock.timers.size).toBe(0);
    await probe.settle("10.0.0.1:80", "ECONNREFUSED");
    expect(results).toEqual([]);
    expect(targets[0]!.health.healthy).toBe(true);
    clock.advance(10_000);
    expect(probe.probed()).toEqual([]);
  });

  test("start while running does not start a second round", () => {
    const { clock, probe, checker } = setup(["10.0.0.1:80"]);
    checker.start();
    checker.start();
    expect(probe.probed()).toEqual(["10.0.0.1:80"]);
    expect(clock.timers.size).toBe(1);
  });

  test("start after stop runs a round at once again", async () => {
    const { probe, checker } = setup(["10.0.0.1:80"]);
    checker.start();
    await probe.settle("10.0.0.1:80", null);
    checker.stop();
    probe.probed();
    checker.start();
    expect(probe.probed()).toEqual(["10.0.0.1:80"]);
  });

  test("each round reads the current target list", async () => {
    const { clock, probe, targets, checker } = setup(["10.0.0.1:80"]);
    checker.start();
    await probe.settle("10.0.0.1:80", null);
    probe.probed();
    targets.push(new TargetState(parseEndpoint("10.0.0.9:80") as Endpoint));
    clock.advance(1000);
    expect(probe.probed()).toEqual(["10.0.0.1:80", "10.0.0.9:80"]);
  });

  test("a changed interval applies from the next scheduling", async () => {
    const { clock, probe, checker } = setup(["10.0.0.1:80"]);
    checker.start();
    await probe.settle("10.0.0.1:80", null);
    probe.probed();
    checker.config = { ...checker.config, intervalMs: 5000 };
    clock.advance(1000); // the round already scheduled still runs at 1000
    expect(probe.probed()).toEqual(["10.0.0.1:80"]);
    await probe.settle("10.0.0.1:80", null);
    clock.advance(4999);
    expect(probe.probed()).toEqual([]);
    clock.advance(1);
    expect(probe.probed()).toEqual(["10.0.0.1:80"]);
  });

  test("each probe gets the config's send and expect, read anew every round", async () => {
    const targets = [new TargetState(parseEndpoint("10.0.0.1:80") as Endpoint)];
    const clock = new FakeClock();
    const seen: unknown[] = [];
    const probe: Probe = async (_host, _port, timeoutMs, conversation) => {
      seen.push({ timeoutMs, ...conversation });
      return null;
    };
    const enc = (t: string) => new TextEncoder().encode(t);
    const checker = new HealthChecker(() => targets, { ...CONFIG, send: enc("PING\r\n"), expect: enc("+PONG") }, () => {}, clock, probe, new ProbeBudget(), () => 0.5);
    checker.start();
    await Promise.resolve();
    checker.config = { ...CONFIG, expect: enc("220 ") };
    clock.advance(1000);
    checker.stop();
    expect(seen).toEqual([
      { timeoutMs: 200, send: enc("PING\r\n"), expect: enc("+PONG") },
      { timeoutMs: 200, send: undefined, expect: enc("220 ") },
    ]);
  });

  test("a local shortage (EMFILE) says nothing about the target: no observation, no flip", async () => {
    const { probe, results, targets, checker } = setup(["10.0.0.1:80"], { fall: 1 });
    checker.start();
    await probe.settle("10.0.0.1:80", "EMFILE");
    expect(results).toEqual([]);
    expect(targets[0]!.health.healthy).toBe(true);
  });

  test("rounds are spread by up to a tenth of the interval either way", () => {
    for (const [r, due] of [[0, 900], [0.25, 950], [0.5, 1000], [1, 1100]] as const) {
      const { clock, checker } = setup(["10.0.0.1:80"], {}, new ProbeBudget(), () => r);
      checker.start();
      expect(clock.dueTimes()).toEqual([due]);
      checker.stop();
    }
  });

  test("probes past the budget wait, first come first served, and start as others settle", async () => {
    const addresses = ["10.0.0.1:80", "10.0.0.2:80", "10.0.0.3:80", "10.0.0.4:80"];
    const budget = new ProbeBudget(2);
    const { probe, checker } = setup(addresses, {}, budget);
    checker.start();
    expect(probe.probed()).toEqual(["10.0.0.1:80", "10.0.0.2:80"]);
    expect([budget.running, budget.waiting]).toEqual([2, 2]);
    await probe.settle("10.0.0.2:80", null);
    await Promise.resolve(); // the budget's finally runs one tick after the check
    expect(probe.probed()).toEqual(["10.0.0.3:80"]);
    await probe.settle("10.0.0.1:80", null);
    await Promise.resolve();
    expect(probe.probed()).toEqual(["10.0.0.4:80"]);
    expect([budget.running, budget.waiting]).toEqual([2, 0]);
  });

  test("20,001 targets: the first round starts only the budget's worth of probes", () => {
    const addresses = Array.from({ length: 20_001 }, (_, i) => `10.${(i >> 16) & 255}.${(i >> 8) & 255}.${i & 255}:80`);
    const budget = new ProbeBudget(128);
    const { probe, checker } = setup(addresses, {}, budget);
    checker.start();
    expect(probe.probed()).toHaveLength(128);
    expect(budget.waiting).toBe(20_001 - 128);
    checker.stop();
  });
});
