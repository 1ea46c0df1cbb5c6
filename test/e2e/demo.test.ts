/**
 * `npm start` (scripts/demo.ts) in a terminal: one Ctrl-C must mean "drain",
 * as documented. A terminal sends SIGINT to its whole foreground process
 * group; here the demo is started as the leader of its own group and the
 * group is signalled, as a terminal would.
 */
import { expect, test } from "bun:test";
import { join, resolve } from "node:path";
import { writeFileSync } from "node:fs";
import { connect, exchange, freePort, withTimeout } from "../helpers/net.ts";
import { appToml, tempDir } from "../helpers/sluice.ts";

const ROOT = resolve(import.meta.dir, "../..");

test("one Ctrl-C on the demo drains sluice once and exits 0", async () => {
  const [port, target] = [freePort(), freePort()];
  const config = join(tempDir(), "config.toml");
  writeFileSync(config, `bind = "127.0.0.1"\nwatch = false\n` + appToml("demo", [port], [`127.0.0.1:${target}`]));
  const demo = Bun.spawn([process.execPath, "scripts/demo.ts", config], { cwd: ROOT, stdio: ["ignore", "pipe", "pipe"], detached: true });
  try {
    let text = "";
    const dec = new TextDecoder();
    const seen = (async () => {
      for await (const chunk of demo.stderr) text += dec.decode(chunk, { stream: true });
    })();
    const ready = async () => {
      for (let i = 0; i < 500 && !text.includes(" ready: "); i++) await Bun.sleep(20);
    };
    await withTimeout(ready(), 10_000, "the demo's sluice to be ready");
    expect(await exchange(port, "hello")).toBe("hello");
    // An open session makes the drain wait, so a second SIGINT would have time to cut it short.
    const held = await connect(port);
    held.writer.write(Buffer.from("held"));
    await withTimeout(held.waitFor(4), 5000, "the held session's echo");
    process.kill(-demo.pid, "SIGINT");
    const draining = async () => {
      for (let i = 0; i < 500 && !text.includes("SIGINT: draining"); i++) await Bun.sleep(20);
    };
    await withTimeout(draining(), 5000, "sluice to start draining");
    // Draining: the held session still works, then finishes, and only then does sluice exit.
    held.writer.write(Buffer.from("!"));
    await withTimeout(held.waitFor(5), 5000, "an echo while draining");
    held.socket.shutdown();
    expect(await withTimeout(demo.exited, 10_000, "the demo to exit")).toBe(0);
    await seen;
    expect(text).toContain("all connections finished; bye");
    expect(text).not.toContain("again");
  } finally {
    try {
      process.kill(-demo.pid, "SIGKILL");
    } catch {}
  }
});
