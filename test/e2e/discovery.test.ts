/**
 * DNS discovery end to end: `localhost:PORT` becomes one target per address
 * the system resolver gives for localhost (on this machine's kind, 127.0.0.1
 * and, where /etc/hosts lists it, ::1), each reachable and listed in /status
 * with the name it came from.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { exchange, freePort, freePorts, nameBackend, type Backend } from "../helpers/net.ts";
import { appToml, poll, startSluice } from "../helpers/sluice.ts";

test("a localhost target expands to its addresses and serves through them", async () => {
  const addrs = [...new Set((await Bun.dns.lookup("localhost", {})).map((a) => a.address))].sort();
  const v4 = nameBackend("v4");
  const backends: Backend[] = [v4];
  // Listen on every address localhost resolves to, on the same port.
  for (const a of addrs.filter((a) => a.includes(":"))) {
    const l = Bun.listen({ hostname: a, port: v4.port, socket: { open: (s) => void s.write("v6"), data() {}, end: (s) => void s.end() } });
    backends.push({ stop: () => l.stop(true) } as Backend);
  }
  const port = freePort();
  const adminPort = freePort();
  const target = `localhost:${v4.port}`;
  await using sl = await startSluice(`[admin]\nlisten = "127.0.0.1:${adminPort}"\n${appToml("named", [port], [target])}`, { adminPort });
  try {
    const want = addrs.map((a) => (a.includes(":") ? `[${a}]:${v4.port}` : `${a}:${v4.port}`)).sort();
    const st = await poll(() => sl.status(), (s) => s.apps[0]!.targets.map((t) => t.address).sort().join() === want.join(), 5000, `targets ${want}`);
    for (const t of st.apps[0]!.targets) expect((t as { origin?: string }).origin).toBe(target);
    expect(await sl.waitForOutput(`[app/named] targets from DNS: +`)).toBeUndefined();
    const seen = new Set<string>();
    for (let i = 0; i < 2 * want.length; i++) seen.add(await exchange(port, ""));
    expect(seen.size).toBe(want.length);
    const metrics = await (await sl.admin("/metrics")).text();
    expect(metrics).toMatch(/^sluice_dns_failures_total\{app="named"\} 0$/m);
  } finally {
    for (const b of backends) b.stop();
  }
});

/** canUnshare: a private mount namespace (root, or a kernel that allows it), where /etc/hosts can be swapped for one process. */
const canUnshare = Bun.spawnSync(["unshare", "-m", "sh", "-c", "mount --bind /etc/hosts /etc/hosts"], { stderr: "ignore" }).exitCode === 0;

test.skipIf(!canUnshare)("a reload re-resolves host names even when the config text did not change", async () => {
  const name = "sluice-reresolve.test";
  const dir = mkdtempSync(join(tmpdir(), "sluice-hosts-"));
  const hosts = join(dir, "hosts");
  writeFileSync(hosts, `127.0.0.1 localhost\n127.0.0.2 ${name}\n`);
  const two = nameBackend("two", 0, "127.0.0.2");
  const three = nameBackend("three", two.port, "127.0.0.3");
  const [port, adminPort] = freePorts(2) as [number, number];
  try {
    // sluice alone sees `hosts` as /etc/hosts (a bind mount in its own mount namespace); the file is rewritten in place.
    await using sl = await startSluice(
      `bind = "127.0.0.1"\nwatch = false\n[admin]\nlisten = "127.0.0.1:${adminPort}"\n[health]\ninterval = "1h"\n` + appToml("named", [port], [`${name}:${two.port}`]),
      { adminPort, wrap: (argv) => ["unshare", "-m", "sh", "-c", 'mount --bind "$0" /etc/hosts && exec "$@"', hosts, ...argv] },
    );
    await poll(() => sl.status(), (s) => s.apps[0]!.targets.map((t) => t.address).join() === `127.0.0.2:${two.port}`, 5000, "the first address");
    expect(await exchange(port, "")).toBe("two");
    writeFileSync(hosts, `127.0.0.1 localhost\n127.0.0.3 ${name}\n`);
    sl.signal("SIGHUP");
    await sl.waitForOutput("reloaded");
    await poll(() => sl.status(), (s) => s.apps[0]!.targets.map((t) => t.address).join() === `127.0.0.3:${two.port}`, 5000, "the new address");
    expect(await exchange(port, "")).toBe("three");
  } finally {
    two.stop();
    three.stop();
    rmSync(dir, { recursive: true, force: true });
  }
});
