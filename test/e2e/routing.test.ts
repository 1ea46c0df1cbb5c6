/**
 * Routing and balancing through the compiled binary: several apps on several
 * ports, and one socket test per balancer.
 */
import { describe, expect, test } from "bun:test";
import { perTest } from "../helpers/cleanup.ts";
import { connect, exchange, freePort, withTimeout, type Client } from "../helpers/net.ts";
import { appToml, startSluice } from "../helpers/sluice.ts";

const { cleanup, backends } = perTest();

const HEALTH = `[health]\ninterval = "1h"\n`;

/** nameVia opens a connection through `port` and resolves with the target name it greets with. */
async function nameVia(port: number, names: string[]): Promise<{ name: string; client: Client }> {
  const client = await connect(port);
  cleanup.push(() => client.socket.end());
  const len = names[0]!.length;
  await withTimeout(client.waitFor(len), 5000, "a target greeting");
  return { name: client.received().toString().slice(0, len), client };
}

test("each port of each app reaches that app's targets", async () => {
  const [a1, a2, b1] = backends(["a1", "a2", "b1"]);
  const [pa1, pa2, pb1, pb2] = [freePort(), freePort(), freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n${HEALTH}[defaults]\nbalancer = "round-robin"\n` +
      appToml("alpha", [pa1, pa2], [`127.0.0.1:${a1!.port}`, `127.0.0.1:${a2!.port}`]) +
      appToml("beta", [pb1, pb2], [`127.0.0.1:${b1!.port}`]),
  );
  const seen = { alpha: new Set<string>(), beta: new Set<string>() };
  for (const port of [pa1, pa2, pa1, pa2]) seen.alpha.add((await exchange(port, "")).slice(0, 2));
  for (const port of [pb1, pb2, pb1]) seen.beta.add((await exchange(port, "")).slice(0, 2));
  expect([...seen.alpha].sort()).toEqual(["a1", "a2"]);
  expect([...seen.beta]).toEqual(["b1"]);
  // And bytes pass both ways through every port.
  expect(await exchange(pb2, "ping")).toBe("b1ping");
});

describe("balancers over real sockets", () => {
  const names = ["t0", "t1", "t2"];
  async function setup(balancer: string) {
    const bs = backends(names);
    const port = freePort();
    const sl = await startSluice(
      `bind = "127.0.0.1"\n${HEALTH}` +
        appToml("bal", [port], bs.map((b) => `127.0.0.1:${b.port}`), `balancer = "${balancer}"`),
    );
    cleanup.push(() => sl[Symbol.asyncDispose]());
    return port;
  }

  test("round-robin visits targets in turn", async () => {
    const port = await setup("round-robin");
    const order: string[] = [];
    for (let i = 0; i < 6; i++) order.push((await exchange(port, "")).slice(0, 2));
    // The rotation may start anywhere, but then it cycles in config order.
    const start = names.indexOf(order[0]!);
    expect(order).toEqual([0, 1, 2, 3, 4, 5].map((i) => names[(start + i) % 3]!));
  });

  test("least-connections spreads held connections one per target", async () => {
    const port = await setup("least-connections");
    const got: string[] = [];
    for (let i = 0; i < 6; i++) got.push((await nameVia(port, names)).name);
    // With connections held open, each new one goes to a least-loaded target.
    expect(got.slice(0, 3).sort()).toEqual(names);
    expect(got.slice(3).sort()).toEqual(names);
  });

  test("p2c never sends the second held connection to the loaded target", async () => {
    const port = await setup("p2c");
    const first = (await nameVia(port, names)).name;
    const second = (await nameVia(port, names)).name;
    expect(second).not.toBe(first);
  });

  test("random reaches several targets", async () => {
    const port = await setup("random");
    const seen = new Set<string>();
    for (let i = 0; i < 30; i++) seen.add((await exchange(port, "")).slice(0, 2));
    expect(seen.size).toBeGreaterThan(1);
    for (const n of seen) expect(names).toContain(n);
  });
});

test("IPv6: sluice binds ::1 and forwards to a [::1]:port target", async () => {
  const b = Bun.listen({ hostname: "::1", port: 0, allowHalfOpen: true, socket: { data: (s, d) => void s.write(d), end: (s) => s.shutdown() } });
  cleanup.push(() => b.stop(true));
  const probe = Bun.listen({ hostname: "::1", port: 0, socket: { data() {} } });
  const port = probe.port;
  probe.stop(true);
  await using _sl = await startSluice(`bind = "::1"\n${HEALTH}` + appToml("six", [port], [`[::1]:${b.port}`]));
  let got = "";
  let done!: () => void;
  const closed = new Promise<void>((r) => (done = r));
  const c = await Bun.connect({
    hostname: "::1",
    port,
    allowHalfOpen: true,
    socket: { data: (_s, d) => void (got += d.toString()), close: () => done(), error() {} },
  });
  c.write("over v6");
  c.shutdown();
  await withTimeout(closed, 5000, "the echo over IPv6");
  expect(got).toBe("over v6");
});
