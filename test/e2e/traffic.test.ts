/**
 * Traffic control through the compiled binary: weighted balancing, a
 * target's max_connections, the queue, slow start, allow/deny and the
 * per-client limit. Clients bind other loopback addresses (127.0.0.2, …)
 * to look like other hosts.
 */
import { expect, test } from "bun:test";
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { connect, exchange, freePort, nameBackend, refused, withTimeout, type Client } from "../helpers/net.ts";
import { appToml, poll, startSluice, type Sluice } from "../helpers/sluice.ts";

const head = (admin: number, extra = "") => `bind = "127.0.0.1"\nwatch = false\n${extra}[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n`;

type Status = { apps: { name: string; queued: number; targets: { address: string; active: number }[] }[] };
const status = async (sl: Sluice) => (await (await sl.admin("/status")).json()) as Status;
const closedBy = async (sl: Sluice, reason: string) => {
  const m = /sluice_downstream_closed_total\{app="a",reason="([^"]+)"\} (\d+)/g;
  const text = await (await sl.admin("/metrics")).text();
  for (const [, r, n] of text.matchAll(m)) if (r === reason) return Number(n);
  return 0;
};

/** fromAddress connects from a given loopback address and resolves with what the peer sent before it closed, or "reset". */
function fromAddress(localAddress: string, port: number, send = "x"): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s: NetSocket = netConnect({ host: "127.0.0.1", port, localAddress }, () => {
      s.end(send);
    });
    s.on("data", (d) => (got += d.toString()));
    s.on("error", () => resolve("reset"));
    s.on("close", (hadError) => resolve(hadError ? "reset" : got));
  });
}

/** held opens a session and waits for the target's greeting, so it is counted where it landed. */
async function held(port: number): Promise<Client> {
  const c = await connect(port);
  await withTimeout(c.waitFor(1), 5000, "a greeting");
  return c;
}

test("round-robin with weights 3 and 1 gives exactly 30 and 10 of 40", async () => {
  using a = nameBackend("A");
  using b = nameBackend("B");
  const [port, admin] = [freePort(), freePort()];
  const targets = `targets = [{ address = "127.0.0.1:${a.port}", weight = 3 }, "127.0.0.1:${b.port}"]\n`;
  // The smooth weighted rotation is exact within one worker (each worker rotates its own share: README, "Workers").
  await using sl = await startSluice(head(admin, "workers = 1\n") + `[[apps]]\nname = "a"\nports = [${port}]\nbalancer = "round-robin"\n${targets}`, { adminPort: admin });
  const got: Record<string, number> = { A: 0, B: 0 };
  for (let i = 0; i < 40; i++) got[(await exchange(port, "")).slice(0, 1)]!++;
  expect(got).toEqual({ A: 30, B: 10 });
});

test("least-connections with weights 3 and 1 holds 30 and 10 of 40 open sessions", async () => {
  using a = nameBackend("A");
  using b = nameBackend("B");
  const [port, admin] = [freePort(), freePort()];
  const targets = `targets = [{ address = "127.0.0.1:${a.port}", weight = 3 }, "127.0.0.1:${b.port}"]\n`;
  await using sl = await startSluice(head(admin) + `[[apps]]\nname = "a"\nports = [${port}]\n${targets}`, { adminPort: admin });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < 40; i++) clients.push(await held(port));
    const st = await status(sl);
    expect(st.apps[0]!.targets.map((t) => t.active)).toEqual([30, 10]);
  } finally {
    for (const c of clients) c.socket.end();
  }
});

test("a target at its max_connections is skipped", async () => {
  using a = nameBackend("A");
  using b = nameBackend("B");
  const [port, admin] = [freePort(), freePort()];
  const targets = `targets = [{ address = "127.0.0.1:${a.port}", max_connections = 2 }, "127.0.0.1:${b.port}"]\n`;
  await using sl = await startSluice(head(admin) + `[[apps]]\nname = "a"\nports = [${port}]\nbalancer = "round-robin"\n${targets}`, { adminPort: admin });
  const clients: Client[] = [];
  try {
    for (let i = 0; i < 8; i++) clients.push(await held(port));
    const names = clients.map((c) => c.received().toString()).sort().join("");
    expect(names).toBe("AABBBBBB");
    expect((await status(sl)).apps[0]!.targets.map((t) => t.active)).toEqual([2, 6]);
  } finally {
    for (const c of clients) c.socket.end();
  }
});

test("the queue: waiting clients get slots in arrival order, and time out with reason limit", async () => {
  using a = nameBackend("A");
  const [port, admin] = [freePort(), freePort()];
  const app = `[[apps]]\nname = "a"\nports = [${port}]\ntargets = [{ address = "127.0.0.1:${a.port}", max_connections = 2 }]\nqueue_timeout = "3s"\n`;
  // Arrival order is kept within a worker thread (README, "Queue"): one worker, so all four are in one queue.
  await using sl = await startSluice(head(admin, "workers = 1\n") + app, { adminPort: admin });
  const first = [await held(port), await held(port)];
  // Two more wait, in this order.
  const third = await connect(port);
  await poll(() => status(sl), (st) => st.apps[0]!.queued === 1, 5000, "the third client to queue");
  const fourth = await connect(port);
  await poll(() => status(sl), (st) => st.apps[0]!.queued === 2, 5000, "the fourth client to queue");
  // Bytes a waiting client sends are kept for the target, not lost.
  third.writer.write(Buffer.from("3"));
  fourth.writer.write(Buffer.from("4"));
  first[0]!.socket.end();
  await withTimeout(third.waitFor(2), 5000, "the third client to be served");
  expect(third.received().toString()).toBe("A3");
  expect(fourth.bytes).toBe(0);
  expect((await status(sl)).apps[0]!.queued).toBe(1);
  first[1]!.socket.end();
  await withTimeout(fourth.waitFor(2), 5000, "the fourth client to be served");
  expect(fourth.received().toString()).toBe("A4");

  // With both slots taken again, a fifth waits 3 s and is then reset.
  const t0 = performance.now();
  const fifth = await connect(port);
  const cut = await withTimeout(fifth.closed, 6000, "the fifth client to time out");
  expect(performance.now() - t0).toBeGreaterThan(2500);
  expect(cut).toBeDefined();
  expect(fifth.bytes).toBe(0);
  expect(await closedBy(sl, "limit")).toBe(1);
  third.socket.end();
  fourth.socket.end();
});

test("queue_timeout 0 closes a client at once when every target is full", async () => {
  using a = nameBackend("A");
  const [port, admin] = [freePort(), freePort()];
  const app = `[[apps]]\nname = "a"\nports = [${port}]\ntargets = [{ address = "127.0.0.1:${a.port}", max_connections = 1 }]\n`;
  await using sl = await startSluice(head(admin) + app, { adminPort: admin });
  const one = await held(port);
  expect(await refused(port)).toBe(0);
  expect(await closedBy(sl, "limit")).toBe(1);
  one.socket.end();
});

test("allow and deny decide at accept, by client address", async () => {
  using a = nameBackend("A");
  const [port, admin] = [freePort(), freePort()];
  const app = appToml("a", [port], [`127.0.0.1:${a.port}`], `allow = ["127.0.0.0/29"]\ndeny = ["127.0.0.3"]`);
  await using sl = await startSluice(head(admin) + app, { adminPort: admin });
  expect(await fromAddress("127.0.0.2", port)).toBe("Ax");
  expect(await fromAddress("127.0.0.3", port)).toBe("reset");
  expect(await fromAddress("127.0.0.9", port)).toBe("reset");
  expect(await fromAddress("127.0.0.1", port)).toBe("Ax");
  expect(await closedBy(sl, "denied")).toBe(2);
  // The denied never reached a target: one health probe and two served clients.
  expect(a.accepted).toBe(3);
});

test("max_connections_per_client counts each client address on its own", async () => {
  using a = nameBackend("A");
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${a.port}`], "max_connections_per_client = 2"), { adminPort: admin });
  const open: NetSocket[] = [];
  const hold = (from: string) =>
    new Promise<NetSocket>((resolve, reject) => {
      const s = netConnect({ host: "127.0.0.1", port, localAddress: from });
      s.once("data", () => resolve(s));
      s.once("error", reject);
      open.push(s);
    });
  try {
    await hold("127.0.0.2");
    await hold("127.0.0.2");
    expect(await fromAddress("127.0.0.2", port)).toBe("reset");
    expect(await fromAddress("127.0.0.4", port)).toBe("Ax");
    expect(await closedBy(sl, "limit")).toBe(1);
    // One of the two ends: 127.0.0.2 may open another.
    open[0]!.destroy();
    await poll(() => status(sl), (st) => st.apps[0]!.targets[0]!.active === 1, 5000, "the first session to close");
    expect(await fromAddress("127.0.0.2", port)).toBe("Ax");
  } finally {
    for (const s of open) s.destroy();
  }
});

test("slow start: a target that comes back gets a small share at first", async () => {
  using a = nameBackend("A");
  const bPort = freePort();
  const [port, admin] = [freePort(), freePort()];
  const cfg =
    `bind = "127.0.0.1"\nwatch = false\n[health]\ninterval = "100ms"\ntimeout = "100ms"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
    appToml("a", [port], [`127.0.0.1:${a.port}`, `127.0.0.1:${bPort}`], `balancer = "round-robin"\nslow_start = "60s"`);
  await using sl = await startSluice(cfg, { adminPort: admin });
  await sl.waitForOutput(`127.0.0.1:${bPort} down`);
  using b = nameBackend("B", bPort);
  await sl.waitForOutput(`127.0.0.1:${bPort} up (slow start`);
  let toB = 0;
  for (let i = 0; i < 100; i++) if ((await exchange(port, "")).startsWith("B")) toB++;
  // At 10 % of its weight against A's full one, B's share starts near 1 in 11; without slow start it is 1 in 2.
  expect(toB).toBeGreaterThan(0);
  expect(toB).toBeLessThan(25);
  expect(b.accepted).toBeGreaterThan(0);
});
