/**
 * Live operations through the compiled binary: reload when the config file
 * changes on disk (rename-saves and Kubernetes-style symlink swaps), failed
 * reloads counted and shown while the old config serves, on_remove keep and
 * drain, and shutdown_delay.
 */
import { expect, test } from "bun:test";
import { mkdirSync, renameSync, symlinkSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { connect, exchange, freePort, nameBackend, withTimeout } from "../helpers/net.ts";
import { appToml, poll, startSluice } from "../helpers/sluice.ts";

const head = (admin: number, extra = "") => `bind = "127.0.0.1"\n${extra}[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n`;

function countOf(text: string, needle: string): number {
  return text.split(needle).length - 1;
}

test("a rename-save of the config file is reloaded once, with no signal", async () => {
  using one = nameBackend("one");
  using two = nameBackend("two");
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${one.port}`]), { adminPort: admin });
  expect(await exchange(port, "x")).toBe("onex");

  // What editors do: write a temporary file beside it, then rename it over the original.
  const tmp = join(sl.dir, ".config.toml.swp");
  writeFileSync(tmp, head(admin) + appToml("a", [port], [`127.0.0.1:${two.port}`]));
  renameSync(tmp, sl.configPath);
  await sl.waitForOutput("(file)");
  expect(await exchange(port, "y")).toBe("twoy");
  expect(countOf(sl.output(), "reloaded ")).toBe(1);

  // Touching a file beside it, or rewriting the same text, reloads nothing.
  writeFileSync(join(sl.dir, "unrelated"), "x");
  writeFileSync(sl.configPath, head(admin) + appToml("a", [port], [`127.0.0.1:${two.port}`]));
  const metrics = async () => (await sl.admin("/metrics")).text();
  // A third, real change is the marker that the two before it were seen and skipped.
  writeFileSync(sl.configPath, head(admin) + appToml("a", [port], [`127.0.0.1:${one.port}`]));
  await poll(metrics, (m) => m.includes('sluice_config_reloads_total{result="success"} 2'), 5000, "the second file reload");
  expect(countOf(sl.output(), "reloaded ")).toBe(2);
  expect(await exchange(port, "z")).toBe("onez");
});

test("a Kubernetes ConfigMap swap (..data symlink renamed) is reloaded", async () => {
  using one = nameBackend("one");
  using two = nameBackend("two");
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${one.port}`]), { adminPort: admin });

  // The kubelet's layout: config.toml -> ..data/config.toml, ..data -> ..v1 (a timestamped dir).
  const version = (name: string, text: string) => {
    mkdirSync(join(sl.dir, name));
    writeFileSync(join(sl.dir, name, "config.toml"), text);
  };
  version("..v1", head(admin) + appToml("a", [port], [`127.0.0.1:${one.port}`]));
  symlinkSync("..v1", join(sl.dir, "..data"));
  symlinkSync("..data/config.toml", join(sl.dir, "config.tmp"));
  renameSync(join(sl.dir, "config.tmp"), sl.configPath);
  // Same text as before: the switch to symlinks alone reloads nothing. Now the update:
  version("..v2", head(admin) + appToml("a", [port], [`127.0.0.1:${two.port}`]));
  symlinkSync("..v2", join(sl.dir, "..data_tmp"));
  renameSync(join(sl.dir, "..data_tmp"), join(sl.dir, "..data"));
  await sl.waitForOutput("(file)");
  expect(await exchange(port, "k")).toBe("twok");
  expect(countOf(sl.output(), "reloaded ")).toBe(1);
});

test("a failed reload is counted and shown in /status while the old config serves; the message reads cleanly", async () => {
  using one = nameBackend("one");
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(head(admin, "watch = false\n") + appToml("a", [port], [`127.0.0.1:${one.port}`]), { adminPort: admin });
  const before = (await (await sl.admin("/status")).json()) as { config: { path: string; loaded_at: string; last_error: null } };
  expect(before.config).toMatchObject({ path: sl.configPath, last_error: null });
  expect(Date.parse(before.config.loaded_at)).toBeGreaterThan(Date.now() - 60_000);

  writeFileSync(sl.configPath, head(admin, "watch = false\n") + appToml("a", [port], [`127.0.0.1:${one.port}`], "bogus = 1"));
  sl.signal("SIGHUP");
  await sl.waitForOutput("reload failed");
  expect(sl.output()).toContain(`reload failed (signal), the running config stays: invalid config ${sl.configPath}: apps[0].bogus: unknown key\n`);
  const after = (await (await sl.admin("/status")).json()) as { config: { loaded_at: string; last_error: string } };
  expect(after.config.last_error).toBe(`invalid config ${sl.configPath}: apps[0].bogus: unknown key`);
  expect(after.config.loaded_at).toBe(before.config.loaded_at);
  const metrics = await (await sl.admin("/metrics")).text();
  expect(metrics).toContain('sluice_config_reloads_total{result="success"} 0');
  expect(metrics).toContain('sluice_config_reloads_total{result="failure"} 1');
  expect(await exchange(port, "x")).toBe("onex");

  // The next good reload clears last_error.
  writeFileSync(sl.configPath, head(admin, "watch = false\n") + appToml("a", [port], [`127.0.0.1:${one.port}`]));
  sl.signal("SIGHUP");
  await sl.waitForOutput("reloaded ");
  const fixed = (await (await sl.admin("/status")).json()) as { config: { last_error: null } };
  expect(fixed.config.last_error).toBeNull();
});

test("on_remove: keep lets a removed target's session run on; drain closes it after drain_timeout", async () => {
  using one = nameBackend("one");
  using two = nameBackend("two");
  const [keepPort, drainPort, admin] = [freePort(), freePort(), freePort()];
  const cfg = (keepTarget: number, drainTarget: number) =>
    head(admin, "watch = false\n") +
    appToml("keeper", [keepPort], [`127.0.0.1:${keepTarget}`], `on_remove = "keep"`) +
    appToml("drainer", [drainPort], [`127.0.0.1:${drainTarget}`], `on_remove = "drain"\ndrain_timeout = "300ms"`);
  await using sl = await startSluice(cfg(one.port, one.port), { adminPort: admin });

  const kept = await connect(keepPort);
  const drained = await connect(drainPort);
  await withTimeout(Promise.all([kept.waitFor(3), drained.waitFor(3)]), 5000, "both greetings");

  writeFileSync(sl.configPath, cfg(two.port, two.port));
  sl.signal("SIGHUP");
  await sl.waitForOutput("reloaded ");
  // The drained session is closed with a reset (its stream was cut), the kept one still echoes.
  const cut = await withTimeout(drained.closed, 5000, "the drained session to close");
  expect(cut).toBeDefined();
  await sl.waitForOutput('on_remove = "drain"');
  kept.writer.write(Buffer.from("!"));
  await withTimeout(kept.waitFor(4), 5000, "an echo on the kept session");
  expect(kept.received().toString()).toBe("one!");
  expect(await exchange(drainPort, "n")).toBe("twon");
  kept.socket.end();
});

test("shutdown_delay: /healthz is 503 at once while the ports still accept, then the drain", async () => {
  using one = nameBackend("one");
  const [port, admin] = [freePort(), freePort()];
  await using sl = await startSluice(head(admin, 'shutdown_delay = "1s"\n') + appToml("a", [port], [`127.0.0.1:${one.port}`]), { adminPort: admin });
  const t0 = performance.now();
  sl.signal("SIGTERM");
  await sl.waitForOutput("draining");
  const health = await sl.admin("/healthz");
  expect(health.status).toBe(503);
  expect(await health.text()).toBe("draining");
  // Still within the delay: a new connection is served.
  expect(await exchange(port, "late")).toBe("onelate");
  expect(performance.now() - t0).toBeLessThan(1000);
  expect(await withTimeout(sl.exited, 5000, "sluice to exit")).toBe(0);
  expect(performance.now() - t0).toBeGreaterThanOrEqual(990);
  await expect(connect(port)).rejects.toThrow();
});

test("a session cut at shutdown_timeout gets a JSON access line: reason shutdown, first_close sluice, exact bytes", async () => {
  using one = nameBackend("one");
  const [port, admin] = [freePort(), freePort()];
  const cfg = head(admin, 'watch = false\nshutdown_timeout = "300ms"\n') + `[log]\nformat = "json"\naccess = true\n` + appToml("a", [port], [`127.0.0.1:${one.port}`]);
  await using sl = await startSluice(cfg, { adminPort: admin });
  const held = await connect(port);
  held.writer.write(Buffer.from("12345"));
  await withTimeout(held.waitFor(8), 5000, "greeting and echo");
  sl.signal("SIGTERM");
  expect(await withTimeout(held.closed, 5000, "the cut")).toBeDefined();
  expect(await withTimeout(sl.exited, 5000, "sluice to exit")).toBe(0);
  const line = sl
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>)
    .find((o) => o.msg === "connection");
  expect(line).toMatchObject({ app: "a", port, target: `127.0.0.1:${one.port}`, tried: 1, bytes_up: 5, bytes_down: 8, first_close: "sluice", reason: "shutdown" });
  expect(line!.duration_ms as number).toBeGreaterThanOrEqual(300);
});
