/**
 * @module chaos/reload: clean streams both ways while sluice is reloaded every
 * 200 ms onto another set of three targets. A third of the clients pause
 * half-way, so many streams span a reload. Every stream, both directions,
 * must arrive whole; direct runs the same streams without reloads.
 */
import { cleanClient, cleanTarget } from "./clean.ts";
import { prng } from "./pattern.ts";
import { drained, open, type Settings, type Via } from "./path.ts";
import { runStreams, type Row } from "./tally.ts";

export async function reloadChurn(via: Via, s: Settings): Promise<Row> {
  const rand = prng(s.seed ^ 0x7e10ad);
  const targets = [cleanTarget(rand), cleanTarget(rand), cleanTarget(rand)];
  const ports = targets.map((t) => t.port);
  const problems: string[] = [];
  let reloads = 0;
  try {
    await using path = await open(via, ports, s);
    let running = true;
    let lastMask = 7;
    const reloader = (async () => {
      if (via !== "sluice") return;
      for (let i = 0; running && i < 100_000; i++) {
        await Bun.sleep(200);
        // A non-empty subset of the three targets, never the same twice running.
        let mask = 1 + Math.floor(rand() * 7);
        if (mask === lastMask) mask = (mask % 7) + 1;
        lastMask = mask;
        await path.retarget(ports.filter((_, j) => mask & (1 << j))).catch((e) => problems.push(String(e)));
        reloads++;
      }
    })();
    const deadline = performance.now() + s.seconds * 1000;
    const replies = await runStreams({ count: s.streams, concurrency: s.concurrency, deadline }, (i) =>
      cleanClient(path.port, i, rand, rand() < 1 / 3 ? 100 + Math.floor(rand() * 300) : 0),
    );
    running = false;
    await reloader;
    if (!(await drained(path))) problems.push("sluice kept connections open");
    for (let i = 0; i < 500 && targets.some((t) => t.open > 0); i++) await Bun.sleep(10);
    const uploads = targets.reduce((n, t) => n + t.uploads.ok, 0);
    const badUploads = targets.flatMap((t) => (["reset", "truncated", "corrupt"] as const).map((o) => t.uploads[o])).reduce((a, b) => a + b, 0);
    if (badUploads > 0) problems.push(`${badUploads} uploads not ok at the targets`);
    // Each client stream carries a header, so an empty clean connection is a health probe, and every upload must show up.
    if (uploads !== replies.ok) problems.push(`${replies.ok} replies ok but ${uploads} uploads ok`);
    const notes = [`${uploads} uploads checked ok at the targets`, `${targets.reduce((n, t) => n + t.empty, 0)} health probes`];
    if (via === "sluice") notes.push(`${reloads} reloads`);
    return { scenario: "reload", via, tally: replies, allowed: ["ok"], notes, problems };
  } finally {
    for (const t of targets) t.stop();
  }
}
