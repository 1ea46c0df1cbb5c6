/**
 * SIGHUP reload through the compiled binary: ports open and close, targets
 * change for new connections, open sessions are untouched, and a bad config
 * leaves the running one in place.
 */
import { expect, test } from "bun:test";
import { writeFileSync } from "node:fs";
import { connect, exchange, freePort, nameBackend, withTimeout } from "../helpers/net.ts";
import { appToml, poll, startSluice } from "../helpers/sluice.ts";

test("SIGHUP applies a new config and keeps open sessions", async () => {
  using one = nameBackend("one");
  using two = nameBackend("two");
  const [p1, p2, p3, admin] = [freePort(), freePort(), freePort(), freePort()];
  const head = `bind = "127.0.0.1"\nwatch = false\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n`;
  await using sl = await startSluice(head + appToml("a", [p1, p2], [`127.0.0.1:${one.port}`]), { adminPort: admin });

  const held = await connect(p1);
  await withTimeout(held.waitFor(3), 5000, "the greeting");
  expect(held.received().toString()).toBe("one");

  // p2 closes, p3 opens for a new app, and app a now points at target two.
  writeFileSync(sl.configPath, head + appToml("a", [p1], [`127.0.0.1:${two.port}`]) + appToml("b", [p3], [`127.0.0.1:${one.port}`]));
  sl.signal("SIGHUP");
  await sl.waitForOutput("reloaded");

  expect(await exchange(p1, "x")).toBe("twox");
  expect(await exchange(p3, "y")).toBe("oney");
  await expect(connect(p2)).rejects.toThrow();
  // The session opened before the reload still talks to its old target.
  held.writer.write(Buffer.from("!"));
  await withTimeout(held.waitFor(4), 5000, "an echo on the held session");
  expect(held.received().toString()).toBe("one!");
  const st = await sl.status();
  expect(st.apps.map((a) => a.name)).toEqual(["a", "b"]);
  expect(st.apps[0]!.targets.map((t) => t.address)).toEqual([`127.0.0.1:${two.port}`]);

  // An invalid config is logged and changes nothing.
  writeFileSync(sl.configPath, head + appToml("a", [p1], ["nowhere"]));
  sl.signal("SIGHUP");
  await sl.waitForOutput("reload failed");
  expect(sl.output()).toContain("apps[0].targets[0]");
  expect(await exchange(p1, "z")).toBe("twoz");

  // A reload whose new port is taken fails whole: the other new port is not opened either.
  const squatter = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { data() {} } });
  const p4 = freePort();
  writeFileSync(sl.configPath, head + appToml("a", [p1, p4, squatter.port], [`127.0.0.1:${one.port}`]));
  sl.signal("SIGHUP");
  await sl.waitForOutput("already in use");
  squatter.stop(true);
  await expect(connect(p4)).rejects.toThrow();
  expect(await exchange(p1, "w")).toBe("twow");
  held.socket.end();

  // An app removed while one of its sessions is open stays in /status (marked retired) until that session ends.
  const onB = await connect(p3);
  await withTimeout(onB.waitFor(3), 5000, "b's greeting");
  writeFileSync(sl.configPath, head + appToml("a", [p1], [`127.0.0.1:${two.port}`]));
  sl.signal("SIGHUP");
  await sl.waitForOutput(/reloaded [\s\S]*reloaded /);
  const during = await sl.status();
  expect(during.apps.map((a) => [a.name, a.retired ?? false, a.active])).toEqual([
    ["a", false, 0],
    ["b", true, 1],
  ]);
  await expect(connect(p3)).rejects.toThrow();
  onB.socket.shutdown();
  await withTimeout(onB.closed, 5000, "b's session to close");
  await poll(() => sl.status(), (st) => st.apps.length === 1, 5000, "b to leave /status");
});
