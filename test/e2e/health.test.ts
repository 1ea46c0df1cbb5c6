/**
 * Active health checks through the compiled binary: probes to targets that
 * drop SYNs must not pile up sockets, however short the interval.
 */
import { readdirSync } from "node:fs";
import { expect, test } from "bun:test";
import { blackHole, type BlackHole } from "../helpers/black-hole.ts";
import { exchange, freePort, nameBackend } from "../helpers/net.ts";
import { appToml, poll, startSluice } from "../helpers/sluice.ts";

function openFds(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** checks sums sluice_health_checks_total over every target with `result`. */
function checks(metrics: string, result: "pass" | "fail"): number {
  let n = 0;
  for (const m of metrics.matchAll(new RegExp(`^sluice_health_checks_total\\{.*result="${result}"\\} (\\d+)$`, "gm"))) n += Number(m[1]);
  return n;
}

test("probes to black-holed targets keep the fd count flat, and the healthy app keeps serving", async () => {
  using live = nameBackend("ok");
  const holes: BlackHole[] = [];
  try {
    for (let i = 0; i < 5; i++) holes.push(await blackHole());
    const [port, admin] = [freePort(), freePort()];
    const apps = holes.map((h, i) => appToml(`hole${i}`, [freePort()], [`127.0.0.1:${h.port}`])).join("");
    await using sl = await startSluice(
      `bind = "127.0.0.1"\n[health]\ninterval = "100ms"\ntimeout = "50ms"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
        appToml("live", [port], [`127.0.0.1:${live.port}`]) +
        apps,
      { adminPort: admin },
    );
    const metrics = () => sl.admin("/metrics").then((r) => r.text());
    // Two failed rounds per hole: every hole has had its one abandoned Bun socket and moved on.
    await poll(metrics, (m) => checks(m, "fail") >= 2 * holes.length, 10_000, "two failed rounds per hole");
    const before = openFds(sl.pid);
    const failsBefore = checks(await metrics(), "fail");
    // Ten more rounds per hole: with one new socket per probe left behind, that would be 50 more fds.
    await poll(metrics, (m) => checks(m, "fail") >= failsBefore + 10 * holes.length, 20_000, "ten more failed rounds per hole");
    const after = openFds(sl.pid);
    expect(after - before).toBeLessThanOrEqual(holes.length);
    expect(await exchange(port, "x")).toBe("okx");
    const st = await sl.status();
    expect(st.apps.find((a) => a.name === "live")!.targets[0]!.healthy).toBe(true);
    for (const a of st.apps.filter((a) => a.name !== "live")) expect(a.targets[0]!.healthy).toBe(false);
  } finally {
    for (const h of holes) await h[Symbol.asyncDispose]();
  }
}, 40_000);
