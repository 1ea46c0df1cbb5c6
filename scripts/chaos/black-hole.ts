/**
 * @module chaos/black-hole: `holes` apps whose one target drops every SYN,
 * health-checked each second, beside one healthy app, with sluice held to
 * `ulimit -n 1024`. Probes that time out must not pile up sockets: the fd
 * count stays flat, the healthy app serves every stream and /healthz answers
 * throughout. (Before this was fixed, fds grew by one per hole per second.)
 */
import { blackHole, type BlackHole } from "../../test/helpers/black-hole.ts";
import { freePort, freePorts } from "../../test/helpers/net.ts";
import { cleanClient, cleanTarget } from "./clean.ts";
import { prng } from "./pattern.ts";
import { fdCount, open, type Settings, type Via } from "./path.ts";
import { tally, type Row } from "./tally.ts";

const FD_LIMIT = 1024;

export async function blackHoles(via: Via, s: Settings & { holes: number }): Promise<Row> {
  const rand = prng(s.seed ^ 0xb1ac);
  const holes: BlackHole[] = [];
  const live = cleanTarget(rand, 64 * 1024);
  const t = tally();
  const problems: string[] = [];
  try {
    for (let i = 0; i < s.holes; i++) holes.push(await blackHole());
    // Distinct ports: freePort() called one after another can hand back a port it just gave.
    const ports = freePorts(holes.length);
    const apps = holes.map((h, i) => `[[apps]]\nname = "hole-${i}"\nports = [${ports[i]}]\ntargets = ["127.0.0.1:${h.port}"]\n`).join("\n");
    await using path = await open(via, [live.port], s, {
      health: `interval = "1s"\ntimeout = "1s"`,
      apps,
      wrap: (argv) => ["/bin/sh", "-c", `ulimit -n ${FD_LIMIT} && exec "$@"`, "sh", ...argv],
    });
    const pid = path.sluice!.pid;
    const start = fdCount(pid);
    let max = start;
    let healthz = 0;
    const seconds = Math.max(3, s.seconds);
    for (let i = 0; i < seconds; i++) {
      const tick = Bun.sleep(1000);
      t[await cleanClient(path.port, i, rand).catch(() => "failed" as const)]++;
      const r = await path.sluice!.admin("/healthz").catch(() => null);
      if (r?.status === 200) healthz++;
      max = Math.max(max, fdCount(pid));
      await tick;
    }
    const end = fdCount(pid);
    if (healthz < seconds) problems.push(`/healthz answered ${healthz} of ${seconds} times`);
    // Each hole may have one probe in flight; anything beyond that (and a little slack) is a pile-up.
    if (max > start + s.holes + 16) problems.push(`fds grew from ${start} to ${max}`);
    const notes = [`${s.holes} holes, ${seconds} s at ulimit -n ${FD_LIMIT}`, `sluice fds ${start} at start, ${max} at most, ${end} at the end`];
    return { scenario: "black-hole", via, tally: t, allowed: ["ok"], notes, problems };
  } finally {
    live.stop();
    for (const h of holes) await h[Symbol.asyncDispose]();
  }
}
