/**
 * Several worker threads through the compiled binary: every port shared by
 * two event loops (SO_REUSEPORT), one set of counts for balancing, caps and
 * /metrics, reloads and drains that reach every worker, and a worker that
 * crashes replaced without touching the other's connections.
 *
 * Which thread the kernel hands a connection to is not up to the test:
 * /status's `workers` block says how many each holds, and the tests hold
 * enough connections that both threads get some.
 */
import { describe, expect, test } from "bun:test";
import { perTest } from "../helpers/cleanup.ts";
import { connect, echoBackend, freePort, withTimeout, type Client } from "../helpers/net.ts";
import { appToml, poll, startSluice, type Sluice, type StatusDoc } from "../helpers/sluice.ts";

type WorkerDoc = NonNullable<StatusDoc["workers"]>[number];

const { cleanup, backends } = perTest();

function header(admin: number, extra = ""): string {
  return `bind = "127.0.0.1"\nworkers = 2\nwatch = false\n${extra}\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n`;
}

async function start(toml: string, admin: number, env?: Record<string, string>): Promise<Sluice> {
  const sl = await startSluice(toml, { adminPort: admin, env });
  cleanup.push(() => sl[Symbol.asyncDispose]());
  return sl;
}

/** hold opens `n` clients one after another, each waiting for its target's 2-byte greeting. */
async function hold(port: number, n: number): Promise<Client[]> {
  const out: Client[] = [];
  for (let i = 0; i < n; i++) {
    const c = await connect(port);
    cleanup.push(() => c.socket.terminate());
    await withTimeout(c.waitFor(2), 5000, `greeting ${i}`);
    out.push(c);
  }
  return out;
}

function metric(text: string, line: string): number {
  const m = new RegExp(`^${line.replace(/[{}"=,.]/g, "\\$&")} (\\S+)$`, "m").exec(text);
  if (m === null) throw new Error(`no ${line} in:\n${text}`);
  return Number(m[1]);
}

/**
 * faultRig starts two workers with the debug hooks on in front of the echo
 * target on `target`, and holds 40 clients, some on each thread.
 */
async function faultRig(target: number) {
  const [port, admin] = [freePort(), freePort()];
  const sl = await start(header(admin) + appToml("echo", [port], [`127.0.0.1:${target}`]), admin, { SLUICE_DEBUG_HOOKS: "1" });
  const clients: Client[] = [];
  for (let i = 0; i < 40; i++) clients.push(await connect(port));
  for (const c of clients) cleanup.push(() => c.socket.terminate());
  const before = await poll(() => sl.status(), (s) => s.connections.active === 40, 5000, "40 sessions");
  const [w0, w1] = before.workers as [WorkerDoc, WorkerDoc];
  expect(w0.active > 0 && w1.active > 0).toBe(true);
  return { sl, port, admin, clients, w0, w1 };
}

/** servedByBoth opens 40 more clients beside the `held` still open and checks both threads took some. */
async function servedByBoth(sl: Sluice, port: number, held: number): Promise<void> {
  const more: Client[] = [];
  for (let i = 0; i < 40; i++) more.push(await connect(port));
  for (const c of more) cleanup.push(() => c.socket.terminate());
  const again = await poll(() => sl.status(), (x) => x.connections.active === held + 40, 5000, "40 more sessions");
  expect(again.workers!.every((w) => w.active > 0)).toBe(true);
}

describe("workers = 2", () => {
  test("200 concurrent connections forward every byte; /metrics totals equal the traffic sent", async () => {
    using b = echoBackend();
    const [port, admin] = [freePort(), freePort()];
    const sl = await start(header(admin) + appToml("echo", [port], [`127.0.0.1:${b.port}`]), admin);
    const N = 200;
    // Distinct payloads of 1-33 KB, so a byte moved between sessions or lost shows.
    const payloads = Array.from({ length: N }, (_, i) => {
      const p = Buffer.alloc(1024 * (1 + (i % 33)));
      for (let k = 0; k < p.length; k++) p[k] = (i * 31 + k) & 255;
      return p;
    });
    const clients = await Promise.all(payloads.map(() => connect(port)));
    for (const c of clients) cleanup.push(() => c.socket.terminate());
    // All 200 open at once: both threads hold some.
    const during = await poll(() => sl.status(), (s) => s.connections.active === N, 5000, "200 open sessions");
    expect(during.workers!.map((w) => w.worker)).toEqual([0, 1]);
    expect(during.workers!.reduce((n, w) => n + w.active, 0)).toBe(N);
    expect(during.workers!.every((w) => w.active > 0)).toBe(true);
    await Promise.all(
      clients.map(async (c, i) => {
        c.writer.write(payloads[i]!);
        await c.writer.flushed();
        c.socket.shutdown();
        await withTimeout(c.closed, 10_000, `echo ${i}`);
        expect(c.received().equals(payloads[i]!)).toBe(true);
      }),
    );
    const sent = payloads.reduce((n, p) => n + p.length, 0);
    await poll(() => sl.status(), (s) => s.connections.active === 0, 5000, "every session closed");
    const text = await (await sl.admin("/metrics")).text();
    expect(metric(text, `sluice_bytes_total{app="echo",direction="upstream"}`)).toBe(sent);
    expect(metric(text, `sluice_bytes_total{app="echo",direction="downstream"}`)).toBe(sent);
    expect(metric(text, `sluice_downstream_connections_total{app="echo"}`)).toBe(N);
    expect(metric(text, `sluice_connections_total{app="echo",target="127.0.0.1:${b.port}"}`)).toBe(N);
    expect(metric(text, `sluice_downstream_closed_total{app="echo",reason="client-closed"}`)).toBe(N);
    expect(metric(text, `sluice_connect_duration_seconds_count{app="echo"}`)).toBe(N);
    expect(metric(text, `sluice_connections_active{app="echo",target="127.0.0.1:${b.port}"}`)).toBe(0);
  }, 60_000);

  test("least-connections spreads held connections evenly over targets, whichever thread accepts", async () => {
    const [t1, t2, t3] = backends(["t1", "t2", "t3"]);
    const [port, admin] = [freePort(), freePort()];
    const sl = await start(header(admin) + appToml("web", [port], [t1, t2, t3].map((t) => `127.0.0.1:${t!.port}`)), admin);
    const held = await hold(port, 60);
    const s = await sl.status();
    expect(s.workers!.every((w) => w.active > 0)).toBe(true);
    expect(s.apps[0]!.targets.map((t) => t.active)).toEqual([20, 20, 20]);
    const greeted = new Map<string, number>();
    for (const c of held) greeted.set(c.received().toString(), (greeted.get(c.received().toString()) ?? 0) + 1);
    expect(Object.fromEntries(greeted)).toEqual({ t1: 20, t2: 20, t3: 20 });
  }, 30_000);

  for (const [what, limits, reason, counter] of [
    ["max_connections", "max_connections = 20\n", "limit", "sluice_downstream_rejected_total"],
    ["max_connections_per_client", "max_connections_per_client = 20\n", "limit", undefined],
  ] as const) {
    test(`${what} is one count for the process, not one per thread`, async () => {
      using b = echoBackend();
      const [port, admin] = [freePort(), freePort()];
      const sl = await start(header(admin) + appToml("web", [port], [`127.0.0.1:${b.port}`], limits), admin);
      // The 21st and later are reset, whichever thread took them. A reset can come before Bun's connect has
      // resolved; then the connect itself fails with ECONNRESET, and that client counts as closed too.
      let closed = 0;
      for (let i = 0; i < 25; i++) {
        try {
          const c = await connect(port);
          cleanup.push(() => c.socket.terminate());
          void c.closed.then(() => closed++);
        } catch (e) {
          if ((e as { code?: string }).code !== "ECONNRESET") throw e;
          closed++;
        }
      }
      const limited = async () => metric(await (await sl.admin("/metrics")).text(), `sluice_downstream_closed_total{app="web",reason="${reason}"}`);
      await poll(limited, (n) => n >= 5, 5000, "5 clients refused");
      await poll(async () => closed, (n) => n >= 5, 5000, "5 clients closed");
      const s = await sl.status();
      expect(closed).toBe(5);
      expect(s.connections.active).toBe(20);
      expect(s.workers!.every((w) => w.active > 0)).toBe(true);
      const text = await (await sl.admin("/metrics")).text();
      expect(metric(text, `sluice_downstream_closed_total{app="web",reason="${reason}"}`)).toBe(5);
      if (counter !== undefined) expect(metric(text, `${counter}{app="web"}`)).toBe(5);
    }, 30_000);
  }

  test("a reload and a drain through the admin API reach both threads", async () => {
    const [t1, t2] = backends(["t1", "t2"]);
    const [port, admin] = [freePort(), freePort()];
    const a1 = `127.0.0.1:${t1!.port}`;
    const a2 = `127.0.0.1:${t2!.port}`;
    const sl = await start(header(admin) + appToml("web", [port], [a1]), admin);
    await Bun.write(sl.configPath, header(admin) + appToml("web", [port], [a2]));
    const r = await fetch(`http://127.0.0.1:${admin}/reload`, { method: "POST" });
    expect(r.status).toBe(200);
    // Held at once, so both threads take some; every one reaches the new target.
    let held = await hold(port, 40);
    expect((await sl.status()).workers!.every((w) => w.active > 0)).toBe(true);
    expect(new Set(held.map((c) => c.received().toString()))).toEqual(new Set(["t2"]));
    for (const c of held) c.socket.terminate();

    await Bun.write(sl.configPath, header(admin) + appToml("web", [port], [a1, a2]));
    expect((await fetch(`http://127.0.0.1:${admin}/reload`, { method: "POST" })).status).toBe(200);
    const d = await fetch(`http://127.0.0.1:${admin}/apps/web/targets/${encodeURIComponent(a2)}/drain`, { method: "POST" });
    expect(d.status).toBe(200);
    held = await hold(port, 40);
    expect((await sl.status()).workers!.every((w) => w.active > 0)).toBe(true);
    expect(new Set(held.map((c) => c.received().toString()))).toEqual(new Set(["t1"]));
  }, 30_000);

  test("SIGTERM drains both threads: open sessions on each finish, then exit 0", async () => {
    using b = echoBackend();
    const [port, admin] = [freePort(), freePort()];
    const sl = await startSluice(header(admin, `shutdown_timeout = "10s"`) + appToml("d", [port], [`127.0.0.1:${b.port}`]), { adminPort: admin });
    cleanup.push(() => sl[Symbol.asyncDispose]());
    const clients: Client[] = [];
    for (let i = 0; i < 30; i++) clients.push(await connect(port));
    for (const c of clients) cleanup.push(() => c.socket.terminate());
    await poll(() => sl.status(), (s) => s.connections.active === 30, 5000, "30 sessions");
    expect((await sl.status()).workers!.every((w) => w.active > 0)).toBe(true);
    sl.signal("SIGTERM");
    await sl.waitForOutput("draining 30 open connections");
    expect((await sl.admin("/healthz")).status).toBe(503);
    await Promise.all(
      clients.map(async (c, i) => {
        c.writer.write(Buffer.from(`during ${i}`));
        await withTimeout(c.waitFor(`during ${i}`.length), 5000, `echo ${i} during the drain`);
        c.socket.shutdown();
        await withTimeout(c.closed, 5000, `close ${i}`);
      }),
    );
    expect(await withTimeout(sl.exited, 10_000, "sluice to exit")).toBe(0);
    expect(sl.output()).toContain("all connections finished; bye");
  }, 30_000);

  test("a worker that crashes is replaced; the other thread's connections carry on, the dead one's are reset and uncounted", async () => {
    using b = echoBackend();
    const { sl, port, admin, clients, w0, w1 } = await faultRig(b.port);

    const r = await fetch(`http://127.0.0.1:${admin}/debug/workers/1/crash`, { method: "POST" });
    expect(r.status).toBe(202);
    await sl.waitForOutput("worker 1 exited");
    // Worker 1's clients are reset before anyone writes (a FIN would make a cut stream look ended); worker 0's still echo.
    const ends: (Error | undefined)[] = [];
    const gone = new Set<Client>();
    for (const c of clients) void c.closed.then((e) => (ends.push(e), gone.add(c)));
    await poll(async () => ends.length, (n) => n >= w1.active, 5000, "worker 1's clients to close");
    expect(ends.length).toBe(w1.active);
    expect(ends.filter((e) => e === undefined)).toEqual([]);
    const alive = clients.filter((c) => !gone.has(c));
    await Promise.all(
      alive.map(async (c, i) => {
        const msg = `still ${i}`;
        c.writer.write(Buffer.from(msg));
        await withTimeout(c.waitFor(msg.length), 5000, `echo ${i}`);
        expect(c.received().toString()).toBe(msg);
      }),
    );
    expect(alive.length).toBe(w0.active);
    // The dead thread's sessions are gone from every count.
    const after = await poll(() => sl.status(), (s) => s.connections.active === w0.active, 5000, "the dead worker's sessions uncounted");
    expect(after.apps[0]!.targets[0]!.active).toBe(w0.active);

    await sl.waitForOutput("worker 1 replaced");
    const s = await sl.status();
    expect(s.workers!.map((w) => [w.worker, w.restarts])).toEqual([
      [0, 0],
      [1, 1],
    ]);
    // New connections are served by both threads again.
    await servedByBoth(sl, port, w0.active);
    expect(sl.output()).toMatch(/worker\/1\] crashed, resetting its \d+ open connections: Error: injected crash/);
  }, 30_000);

  test("a worker whose event loop is stuck is stopped by the watchdog and replaced, its clients reset; the other thread's connections carry on", async () => {
    using b = echoBackend();
    const { sl, port, admin, clients, w0, w1 } = await faultRig(b.port);
    const ends: (Error | undefined)[] = [];
    for (const c of clients) void c.closed.then((e) => ends.push(e));

    expect((await fetch(`http://127.0.0.1:${admin}/debug/workers/1/hang`, { method: "POST" })).status).toBe(202);
    await sl.waitForOutput(/worker 1 has not run for \d+ s \(its event loop is stuck\)/, 15_000);
    // The stuck worker's clients are reset at once (not left connected to nothing), before anyone writes.
    await poll(async () => ends.length, (n) => n >= w1.active, 5000, "the stuck worker's clients to be reset");
    expect(ends.length).toBe(w1.active);
    expect(ends.every((e) => (e as { code?: string } | undefined)?.code === "ECONNRESET")).toBe(true);
    expect(sl.output()).toMatch(new RegExp(`reset its ${2 * w1.active} open sockets`));
    await sl.waitForOutput("worker 1 replaced", 10_000);
    // Worker 0's clients still echo; the stuck worker's sessions are gone from every count.
    let echoed = 0;
    clients.forEach((c, i) => {
      const msg = `on ${i}`;
      c.writer.write(Buffer.from(msg));
      void c.waitFor(msg.length).then(() => c.received().toString() === msg && echoed++);
    });
    await poll(async () => echoed, (n) => n === w0.active, 5000, "worker 0's clients to echo");
    expect((await sl.status()).connections.active).toBe(w0.active);
    await servedByBoth(sl, port, w0.active);
    expect((await sl.status()).workers![1]!.restarts).toBe(1);
  }, 40_000);

  test("--workers overrides the config's workers", async () => {
    using b = echoBackend();
    const [port, admin] = [freePort(), freePort()];
    const sl = await startSluice(header(admin) + appToml("echo", [port], [`127.0.0.1:${b.port}`]), {
      adminPort: admin,
      wrap: (argv) => [...argv, "--workers", "1"],
    });
    cleanup.push(() => sl[Symbol.asyncDispose]());
    expect(sl.output()).toContain(", 1 worker, ");
    // One worker: no workers block, and the port is not shared (a plain bind).
    expect((await sl.status()).workers).toBeUndefined();
  });
});

test("workers = 2: queued clients in both threads are all served as places free up, the cap is never passed, nothing is lost", async () => {
  const [port, admin] = [freePort(), freePort()];
  // A backend that counts its open connections: the cap of 3 must hold across both threads.
  let open = 0;
  let most = 0;
  const target = Bun.listen({
    hostname: "127.0.0.1",
    port: 0,
    socket: {
      open() {
        most = Math.max(most, ++open);
      },
      data: (s, d) => void s.write(d),
      end: (s) => void s.end(),
      close() {
        open--;
      },
    },
  });
  cleanup.push(() => target.stop(true));
  const sl = await start(
    header(admin) + `[[apps]]\nname = "q"\nports = [${port}]\ntargets = [{ address = "127.0.0.1:${target.port}", max_connections = 3 }]\nqueue_timeout = "10s"\n`,
    admin,
  );
  // 20 clients at once: 3 served, 17 queued over both threads; each sends its name, waits for the echo, and ends.
  const clients = await Promise.all(Array.from({ length: 20 }, () => connect(port)));
  for (const c of clients) cleanup.push(() => c.socket.terminate());
  await poll(() => sl.status(), (s) => s.apps[0]!.queued === 17, 5000, "17 clients queued");
  // Both threads hold clients (all 20 on one would be a 1 in 500,000 hash).
  expect((await sl.status()).workers!.every((w) => w.active > 0)).toBe(true);
  await Promise.all(
    clients.map(async (c, i) => {
      const msg = `client ${i}`;
      c.writer.write(Buffer.from(msg));
      await withTimeout(c.waitFor(msg.length), 10_000, `echo ${i}`);
      expect(c.received().toString()).toBe(msg);
      c.socket.end();
    }),
  );
  expect(most).toBe(3);
  const s = await poll(() => sl.status(), (x) => x.connections.active === 0, 5000, "all closed");
  expect(s.apps[0]!.queued).toBe(0);
}, 30_000);
