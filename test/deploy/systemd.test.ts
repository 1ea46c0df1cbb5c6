/**
 * deploy/systemd/sluice.service must load cleanly in systemd: `systemd-analyze
 * verify` prints a warning (and still exits 0) for any key or value it cannot
 * parse, so any output about the unit fails the test. Skipped, saying so, on
 * machines without systemd-analyze.
 */
import { expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import { BINARY } from "../helpers/sluice.ts";

const UNIT = resolve(import.meta.dir, "../../deploy/systemd/sluice.service");
const text = readFileSync(UNIT, "utf8");
const analyze = Bun.which("systemd-analyze");

test.skipIf(!analyze)("systemd-analyze verify accepts the unit without a warning", () => {
  // verify checks that ExecStart's binary exists: point it at the one just built.
  const dir = mkdtempSync(join(tmpdir(), "sluice-unit-"));
  try {
    const unit = join(dir, "sluice.service");
    writeFileSync(unit, text.replaceAll("/usr/local/bin/sluice", BINARY));
    const r = Bun.spawnSync([analyze!, "verify", unit], { stdout: "pipe", stderr: "pipe" });
    const out = (r.stdout.toString() + r.stderr.toString()).split("\n").filter((l) => l.includes("sluice.service"));
    expect(out).toEqual([]);
    expect(r.exitCode).toBe(0);
  } finally {
    rmSync(dir, { recursive: true, force: true });
  }
});
if (!analyze) console.log("systemd unit: systemd-analyze is not installed here, so the unit was not verified");

test("the unit reloads with SIGHUP, follows an upgrade's new main PID, raises the fd limit, sandboxes, and outlasts the drain", () => {
  const keys = new Map([...text.matchAll(/^(\w+)=(.*)$/gm)].map((m) => [m[1]!, m[2]!]));
  expect(keys.get("ExecReload")).toBe("/bin/kill -HUP $MAINPID");
  // sluice sends READY=1 and, in an upgrade, MAINPID= of the new process (src/sys/sd-notify.ts).
  expect(keys.get("Type")).toBe("notify");
  expect(keys.get("NotifyAccess")).toBe("all");
  expect(text).toContain("systemctl kill --kill-whom=main -s SIGUSR2 sluice");
  expect(Number(keys.get("LimitNOFILE"))).toBeGreaterThanOrEqual(65536);
  expect(keys.get("DynamicUser")).toBe("yes");
  expect(keys.get("ProtectSystem")).toBe("strict");
  expect(keys.get("AmbientCapabilities")).toBe("CAP_NET_BIND_SERVICE");
  expect(keys.get("KillSignal")).toBe("SIGTERM");
  // The default shutdown_timeout is 30 s; systemd must not SIGKILL a drain in progress.
  expect(Number.parseInt(keys.get("TimeoutStopSec")!)).toBeGreaterThan(30);
  // Bun's JIT writes the code it runs, which MemoryDenyWriteExecute forbids.
  expect(keys.has("MemoryDenyWriteExecute")).toBe(false);
});
