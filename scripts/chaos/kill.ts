/**
 * @module chaos/kill: the target process dies (SIGKILL) in the middle of
 * `concurrency` streams at once, round after round. The target never reads
 * and the clients keep uploading, so the kernel answers the death with
 * resets: every client must see one, and sluice must let go of every session.
 */
import { resolve } from "node:path";
import { freePort, withTimeout } from "../../test/helpers/net.ts";
import { poll } from "../../test/helpers/sluice.ts";
import { dial, outcome, type Stream } from "./endpoint.ts";
import { drained, fdCount, open, type Settings, type Via } from "./path.ts";
import { tally, type Outcome, type Row } from "./tally.ts";

const TARGET = resolve(import.meta.dir, "target-proc.ts");

async function spawnTarget(port: number) {
  const proc = Bun.spawn([process.execPath, TARGET, String(port)], { stdout: "pipe", stderr: "inherit" });
  const { value } = await withTimeout(proc.stdout.getReader().read(), 10_000, "the target process to listen");
  if (!new TextDecoder().decode(value).startsWith("listening")) throw new Error("target process did not start");
  return proc;
}

export async function targetKill(via: Via, s: Settings): Promise<Row> {
  const port = freePort();
  const t = tally();
  const problems: string[] = [];
  const notes: string[] = [];
  // Fast health checks, so the target is back in rotation soon after each restart.
  await using path = await open(via, [port], s, { health: `interval = "100ms"\ntimeout = "500ms"` });
  const rounds = Math.max(1, Math.ceil(s.streams / s.concurrency));
  const deadline = performance.now() + s.seconds * 1000;
  let fdsBefore = -1;
  let id = 0;
  for (let round = 0; round < rounds && performance.now() < deadline; round++) {
    const target = await spawnTarget(port);
    try {
      if (path.sluice) {
        await poll(() => path.sluice!.status(), (st) => st.apps[0]!.targets[0]!.healthy, 5000, "the target to be healthy");
        if (fdsBefore < 0) fdsBefore = fdCount(path.sluice.pid);
      }
      const streams: Promise<Stream>[] = [];
      const ports: Promise<number | undefined>[] = [];
      const flowing: Promise<unknown>[] = [];
      for (let i = 0; i < s.concurrency; i++) {
        const st = dial(path.port, (x) => x.sender.endless(id++, 1 << 30));
        streams.push(st);
        // Read now: Bun forgets a socket's local port once it is closed.
        ports.push(st.then((x) => x.sock.localPort).catch(() => undefined));
        // A stream is in full flow once 64 KiB of reply came back (or it already ended).
        flowing.push(st.then((x) => poll(async () => x.end.rx.bytes >= 65536 || x.end.ending !== null, Boolean, 10_000, "reply bytes")).catch(() => {}));
      }
      await Promise.all(flowing);
      target.kill("SIGKILL");
      await target.exited;
      const outcomes = await Promise.all(
        streams.map((st) =>
          withTimeout(outcome(st), 10_000, "the stream to end").then(
            (v): Outcome => v,
            (e): Outcome => (String(e).includes("timed out") ? "stuck" : "failed"),
          ),
        ),
      );
      for (const o of outcomes) t[o]++;
      // A lie is worth its details: the client port finds sluice's access line for it (with --access-log).
      for (const [i, o] of outcomes.entries()) {
        if (o !== "truncated" && o !== "corrupt") continue;
        const port = await ports[i];
        const line = path.sluice?.output().split("\n").find((l) => port !== undefined && l.includes(`client=127.0.0.1:${port} `));
        notes.push(`${o}: client port ${port}${line === undefined ? "" : `, sluice: ${line.slice(line.indexOf("connection"))}`}`);
      }
      for (const st of streams) void st.then((x) => x.sock.terminate()).catch(() => {});
    } finally {
      target.kill("SIGKILL");
      await target.exited;
    }
  }
  if (!(await drained(path))) problems.push("sluice kept connections open");
  if (path.sluice) {
    const after = fdCount(path.sluice.pid);
    notes.push(`sluice fds ${fdsBefore} before, ${after} after`);
    // Health probes may hold a socket or two in flight; more is a leak.
    if (after > fdsBefore + 4) problems.push(`sluice fds grew from ${fdsBefore} to ${after}`);
  }
  notes.unshift(`${rounds} kills`);
  return { scenario: "kill-target", via, tally: t, allowed: ["reset"], notes, problems };
}
