/**
 * The connection cap: clients past it are closed at once and counted, and the
 * proxy keeps serving the rest. Without max_connections the cap comes from
 * the fd limit, so the fd table never fills (Bun's accept loop spins on EMFILE).
 */
import { expect, test } from "bun:test";
import { connect, echoBackend, exchange, freePort, withTimeout, type Client } from "../helpers/net.ts";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { appToml, BINARY, poll, startSluice, tempDir } from "../helpers/sluice.ts";

/**
 * refused is true when a client to `port` is reset before it gets a byte. The
 * reset can beat Bun's own open, so the connect itself may fail with it.
 */
async function refused(port: number): Promise<boolean> {
  let c: Client;
  try {
    c = await connect(port);
  } catch {
    // Bun names this failure inconsistently (ECONNRESET, "Failed to connect"); the port itself is open.
    return true;
  }
  const error = await withTimeout(c.closed, 5000, "the client past the cap to be reset");
  return error !== undefined && c.bytes === 0;
}

test("past max_connections new clients are closed at once and counted; the rest keep working", async () => {
  using b = echoBackend();
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\nmax_connections = 3\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("cap", [port], [`127.0.0.1:${b.port}`]),
    { adminPort: admin },
  );
  const held: Client[] = [];
  for (let i = 0; i < 3; i++) {
    const c = await connect(port);
    c.writer.write(Buffer.from(`c${i}`));
    await withTimeout(c.waitFor(2), 5000, "an echo");
    held.push(c);
  }
  for (let i = 0; i < 2; i++) expect(await refused(port)).toBe(true);
  const st = await sl.status();
  expect(st.connections).toEqual({ active: 3, max: 3, rejected: 2, abandoned_dials: 0 });
  expect(await (await sl.admin("/metrics")).text()).toContain(`sluice_downstream_rejected_total{app="cap"} 2`);
  // The held sessions are untouched, and once one ends a new client gets in.
  held[0]!.writer.write(Buffer.from("!"));
  await withTimeout(held[0]!.waitFor(3), 5000, "an echo on a held session");
  held[0]!.socket.shutdown();
  await withTimeout(held[0]!.closed, 5000, "the held session to close");
  await poll(() => sl.status(), (s) => s.connections.active === 2, 5000, "the session count to drop");
  expect(await exchange(port, "room again")).toBe("room again");
  for (const c of held.slice(1)) c.socket.end();
});

test("without max_connections the cap is derived from the fd limit", async () => {
  using b = echoBackend();
  const [port, admin] = [freePort(), freePort()];
  const FDS = 200;
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` + appToml("fd", [port], [`127.0.0.1:${b.port}`]),
    // ulimit -n lowers both the soft and the hard limit, so Bun cannot raise it back.
    { adminPort: admin, wrap: (argv) => ["sh", "-c", `ulimit -n ${FDS} && exec "$@"`, "sh", ...argv] },
  );
  const st = await sl.status();
  // Two fds per session, after a reserve for listeners, probes and the runtime.
  expect(st.connections.max).toBeGreaterThan(0);
  expect(st.connections.max).toBeLessThan(FDS / 2);
  const clients: Client[] = [];
  for (let i = 0; i < st.connections.max + 5; i++) clients.push(await connect(port));
  await poll(() => sl.status(), (s) => s.connections.rejected === 5, 10_000, "5 rejections");
  // Still serving: a held session works, and the admin API answers.
  const c = clients[0]!;
  c.writer.write(Buffer.from("alive"));
  await withTimeout(c.waitFor(5), 5000, "an echo at the cap");
  expect(c.received().toString()).toBe("alive");
  for (const x of clients) x.socket.end();
  await poll(() => sl.status(), (s) => s.connections.active === 0, 10_000, "all sessions to close");
  expect(await exchange(port, "after")).toBe("after");
}, 30_000);

test("--check refuses a max_connections the fd limit cannot honour, naming the fds it needs", async () => {
  const dir = tempDir();
  const path = join(dir, "c.toml");
  writeFileSync(path, `max_connections = 100000\n` + appToml("a", [freePort()], ["127.0.0.1:1"]));
  const proc = Bun.spawn(["sh", "-c", `ulimit -n 1024 && exec "$0" --check -c "$1"`, BINARY, path], { stdout: "pipe", stderr: "pipe" });
  try {
    const [stderr, code] = await withTimeout(Promise.all([new Response(proc.stderr).text(), proc.exited]), 10_000, "sluice --check");
    expect(code).toBe(1);
    expect(stderr).toContain("max_connections = 100000 needs");
    expect(stderr).not.toContain("    at ");
  } finally {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
});

test("one app's idle clients cannot lock another app out: per-app max_connections and the default share", async () => {
  using b = echoBackend();
  const [busy, calm, admin] = [freePort(), freePort(), freePort()];
  // Global cap 8, two apps: without its own max_connections, each app may hold 8 - 8/(4*2) = 7.
  await using sl = await startSluice(
    `bind = "127.0.0.1"\nmax_connections = 8\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
      appToml("busy", [busy], [`127.0.0.1:${b.port}`]) +
      appToml("calm", [calm], [`127.0.0.1:${b.port}`], "max_connections = 2"),
    { adminPort: admin },
  );
  const held: Client[] = [];
  try {
    for (let i = 0; i < 7; i++) {
      const c = await connect(busy);
      c.writer.write(Buffer.from(`b${i}`));
      await withTimeout(c.waitFor(2), 5000, "an echo");
      held.push(c);
    }
    expect(await refused(busy)).toBe(true);
    // The global cap still has a slot, kept for the other app.
    expect(await exchange(calm, "still served")).toBe("still served");
    const st = await sl.status();
    const [bs, cs] = st.apps as unknown as { name: string; max_connections: number; rejected: number }[];
    expect([bs!.max_connections, bs!.rejected]).toEqual([7, 1]);
    expect(cs!.max_connections).toBe(2);
  } finally {
    for (const c of held) c.socket.terminate();
  }
});
