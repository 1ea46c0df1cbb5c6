/**
 * The binary's life: CLI, config errors, a port in use, and graceful drain on SIGTERM/SIGINT.
 */
import { afterEach, describe, expect, test } from "bun:test";
import { writeFileSync, rmSync } from "node:fs";
import { join } from "node:path";
import pkg from "../../package.json" with { type: "json" };
import { connect, echoBackend, exchange, freePort, withTimeout } from "../helpers/net.ts";
import { appToml, poll, run, startSluice, tempDir } from "../helpers/sluice.ts";

const dirs: string[] = [];
afterEach(() => {
  for (const d of dirs.splice(0)) rmSync(d, { recursive: true, force: true });
});

function configFile(text: string, name = "config.toml"): string {
  const dir = tempDir();
  dirs.push(dir);
  const path = join(dir, name);
  writeFileSync(path, text);
  return path;
}

/** A failure must be readable: no stack frames, no source excerpts. */
function expectNoStackTrace(text: string) {
  expect(text).not.toMatch(/^\s+at /m);
  expect(text).not.toMatch(/\.ts:\d+/);
}

describe("CLI", () => {
  test("--version prints the package version", async () => {
    const r = await run(["--version"]);
    expect(r.code).toBe(0);
    expect(r.stdout.trim()).toBe(`sluice ${pkg.version}`);
  });

  test("--help prints usage; an unknown flag is a usage error", async () => {
    const h = await run(["--help"]);
    expect(h.code).toBe(0);
    expect(h.stdout).toContain("--config");
    // What an operator looks for first: how to reload, and where the admin API is.
    expect(h.stdout).toContain("SIGHUP");
    expect(h.stdout).toContain("/healthz");
    expect(h.stdout).toContain("POST /reload");
    const bad = await run(["--frobnicate"]);
    expect(bad.code).toBe(1);
    expect(bad.stderr).toContain("--frobnicate");
    expectNoStackTrace(bad.stderr);
  });

  test("--check accepts a valid TOML config and a seed JSON config", async () => {
    const toml = await run(["--check", "-c", configFile(appToml("web", [8080], ["127.0.0.1:9001"]))]);
    expect(toml.code).toBe(0);
    expect(toml.stdout.trim().split("\n")).toHaveLength(1);
    const seed = configFile(JSON.stringify({ Apps: [{ Name: "five-thousand", Ports: [5001, 5200], Targets: ["127.0.0.1:9001"] }] }), "seed.json");
    const json = await run(["--check", "--config", seed]);
    expect(json.code).toBe(0);
    expect(json.stdout).toContain("1 app");
  });

  test("--check lists every problem with its key path, and exits 1", async () => {
    const path = configFile(
      `shutdown_timeout = "soon"\n[defaults]\nbalancer = "fastest"\n` +
        appToml("a", [5001], ["127.0.0.1:9001", "db"]) +
        appToml("b", [5001, 70000], ["127.0.0.1:9002"], `tragets = []`),
    );
    const r = await run(["--check", "-c", path]);
    expect(r.code).toBe(1);
    for (const key of ["shutdown_timeout", "defaults.balancer", "apps[0].targets[1]", "apps[1].ports[0]", "apps[1].ports[1]", "apps[1].tragets"]) {
      expect(r.stderr).toContain(`${key}: `);
    }
    expectNoStackTrace(r.stderr);
  });

  test("a missing config file or a TOML syntax error is one clear line and exit 1", async () => {
    const missing = await run(["-c", "/nonexistent/sluice.toml"]);
    expect(missing.code).toBe(1);
    expect(missing.stderr).toContain("/nonexistent/sluice.toml");
    expect(missing.stderr.trim().split("\n")).toHaveLength(1);
    const broken = await run(["-c", configFile("[[apps]\nname = ")]);
    expect(broken.code).toBe(1);
    expect(broken.stderr.trim().split("\n")).toHaveLength(1);
    expectNoStackTrace(missing.stderr + broken.stderr);
  });
});

test("a port already in use: one line naming it, exit 1, nothing left listening", async () => {
  const squatter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const free = freePort();
  try {
    const path = configFile(`bind = "127.0.0.1"\n` + appToml("a", [free, squatter.port], ["127.0.0.1:9"]));
    const r = await run(["-c", path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${squatter.port}`);
    expect(r.stderr).toContain("already in use");
    expectNoStackTrace(r.stderr);
    // The port it did open first was closed again on the way out.
    const again = Bun.listen({ hostname: "127.0.0.1", port: free, socket: { data() {} } });
    again.stop(true);
  } finally {
    squatter.stop(true);
  }
});

// Only a listen is tried on these addresses (it fails at once); nothing is sent anywhere.
test.each([
  ["an address of no interface here (TEST-NET-1)", "192.0.2.1", "192.0.2.1 is not an address of this machine"],
  ["a host name that does not resolve", "no-such-host.invalid", "cannot resolve no-such-host.invalid"],
])("a bind that cannot work, %s: --check fails naming bind, start fails saying what to do", async (_, bind, why) => {
  const path = configFile(`bind = "${bind}"\n` + appToml("a", [freePort()], ["127.0.0.1:9"]));
  const check = await run(["--check", "-c", path]);
  expect(check.code).toBe(1);
  expect(check.stderr).toContain(`bind: ${why}`);
  expectNoStackTrace(check.stderr);
  const start = await run(["-c", path]);
  expect(start.code).toBe(1);
  expect(start.stderr).toContain(why);
  expect(start.stderr.trim().split("\n")).toHaveLength(1);
  expectNoStackTrace(start.stderr);
});

test("an admin address already in use: one line naming it, exit 1", async () => {
  const squatter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  try {
    const path = configFile(`bind = "127.0.0.1"\n[admin]\nlisten = "127.0.0.1:${squatter.port}"\n` + appToml("a", [freePort()], ["127.0.0.1:9"]));
    const r = await run(["-c", path]);
    expect(r.code).toBe(1);
    expect(r.stderr).toContain(`127.0.0.1:${squatter.port}`);
    expect(r.stderr).toContain("admin");
    expect(r.stderr.trim().split("\n")).toHaveLength(1);
    expectNoStackTrace(r.stderr);
  } finally {
    squatter.stop(true);
  }
});

describe("drain", () => {
  for (const sig of ["SIGTERM", "SIGINT"] as const) {
    test(`${sig}: stop accepting, /healthz 503, open sessions finish, exit 0`, async () => {
      using b = echoBackend();
      const [port, admin] = [freePort(), freePort()];
      await using sl = await startSluice(
        `bind = "127.0.0.1"\nshutdown_timeout = "10s"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
          appToml("d", [port], [`127.0.0.1:${b.port}`]),
        { adminPort: admin },
      );
      const c = await connect(port);
      c.writer.write(Buffer.from("before "));
      await withTimeout(c.waitFor(7), 5000, "the first echo");
      sl.signal(sig);
      await sl.waitForOutput("draining 1 open connection");
      expect((await sl.admin("/healthz")).status).toBe(503);
      // New clients are refused while the open session still works.
      await expect(connect(port)).rejects.toThrow();
      c.writer.write(Buffer.from("after"));
      await withTimeout(c.waitFor(12), 5000, "the echo during drain");
      expect(c.received().toString()).toBe("before after");
      c.socket.shutdown();
      expect(await withTimeout(sl.exited, 5000, "sluice to exit")).toBe(0);
    });
  }

  test("sessions still open at shutdown_timeout are closed and the exit is 0", async () => {
    using b = echoBackend();
    const port = freePort();
    await using sl = await startSluice(
      `bind = "127.0.0.1"\nshutdown_timeout = "300ms"\n[health]\ninterval = "1h"\n` + appToml("d", [port], [`127.0.0.1:${b.port}`]),
    );
    const idle = await connect(port);
    expect(await exchange(port, "warm")).toBe("warm");
    sl.signal("SIGTERM");
    await withTimeout(idle.ended, 5000, "the idle session to be closed");
    expect(await withTimeout(sl.exited, 5000, "sluice to exit")).toBe(0);
    expect(sl.output()).toContain("closed 1 connection");
  });
});

describe("a signal as soon as the first port accepts", () => {
  /** firstAccept dials `port` until a connection is taken (the port is up), bounded in tries and time. */
  async function firstAccept(port: number): Promise<void> {
    const deadline = performance.now() + 10_000;
    for (let i = 0; i < 20_000 && performance.now() < deadline; i++) {
      const ok = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {} } }).then(
        (s) => (s.end(), true),
        () => false,
      );
      if (ok) return;
      await Bun.sleep(0);
    }
    throw new Error(`port ${port} never accepted`);
  }

  for (const workers of [1, 2]) {
    test(`SIGTERM or SIGINT (workers = ${workers}) drains and exits 0, eight starts in a row`, async () => {
      using b = echoBackend();
      for (let round = 0; round < 8; round++) {
        const port = freePort();
        await using sl = await startSluice(
          `bind = "127.0.0.1"\nworkers = ${workers}\n[health]\ninterval = "1h"\n` + appToml("sig", [port], [`127.0.0.1:${b.port}`]),
          { ready: false },
        );
        await firstAccept(port);
        sl.signal(round % 2 === 0 ? "SIGTERM" : "SIGINT");
        const code = await withTimeout(sl.exited, 10_000, "sluice to exit");
        // Killed by the signal's default action, Bun reports 128 + signal (143/130) or null; a drain exits 0.
        expect([round, code, sl.output().includes("bye")]).toEqual([round, 0, true]);
      }
    }, 60_000);
  }
});
