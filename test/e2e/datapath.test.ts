/**
 * The data path through the compiled binary: half-close both ways, bytes
 * intact under concurrency, and bounded memory against a reader that stops.
 */
import { afterEach, expect, test } from "bun:test";
import { createHash, randomBytes } from "node:crypto";
import { readFileSync } from "node:fs";
import { backend, connect, echoBackend, freePort, withTimeout, Writer } from "../helpers/net.ts";
import { appToml, poll, startSluice, steady } from "../helpers/sluice.ts";

const cleanup: (() => unknown)[] = [];
afterEach(async () => {
  for (const f of cleanup.splice(0).reverse()) await f();
});

const config = (port: number, target: number) =>
  `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n` + appToml("dp", [port], [`127.0.0.1:${target}`]);

/** cpuSeconds is the process's user + system CPU time so far. */
function cpuSeconds(pid: number): number {
  const fields = readFileSync(`/proc/${pid}/stat`, "utf8").split(") ")[1]!.split(" ");
  return (Number(fields[11]) + Number(fields[12])) / 100;
}

function rssBytes(pid: number): number {
  const m = /^VmRSS:\s+(\d+) kB/m.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return Number(m![1]) * 1024;
}

test("client half-close: the client sends, shuts down, and still gets the reply", async () => {
  // The target answers only after it has seen the client's FIN, like `nc -N` against a batch server.
  let got = "";
  using b = backend({
    data: (_s, d) => void (got += d.toString()),
    end: (s) => {
      s.write(`reply to ${got}`);
      s.shutdown();
    },
  });
  const port = freePort();
  await using _sl = await startSluice(config(port, b.port));
  const c = await connect(port);
  c.writer.write(Buffer.from("hello"));
  c.socket.shutdown();
  await withTimeout(c.closed, 5000, "the reply and close");
  expect(c.received().toString()).toBe("reply to hello");
});

test("target half-close: the target finishes first and the client can still send to it", async () => {
  // Health probes connect too; only the connection that carries data counts.
  let afterFin = "";
  let targetDone!: () => void;
  const done = new Promise<void>((r) => (targetDone = r));
  using b = backend({
    open: (s) => {
      s.write("banner");
      s.shutdown();
    },
    data: (_s, d) => void (afterFin += d.toString()),
    // After its own shutdown() a Bun socket sees the peer's FIN as close (docs/BUN-SOCKETS.md).
    close: () => afterFin && targetDone(),
  });
  const port = freePort();
  await using _sl = await startSluice(config(port, b.port));
  const c = await connect(port);
  await withTimeout(c.ended, 5000, "the target's FIN");
  expect(c.received().toString()).toBe("banner");
  c.writer.write(Buffer.from("late words"));
  c.socket.shutdown();
  await withTimeout(done, 5000, "the client's FIN at the target");
  expect(afterFin).toBe("late words");
  await withTimeout(c.closed, 5000, "the session to close");
});

test("bytes written just before the client closes still arrive (TestBufferedClose)", async () => {
  const chunks: Buffer[] = [];
  let ended!: () => void;
  const endedP = new Promise<void>((r) => (ended = r));
  // Health probes connect and close too; the FIN that counts follows data.
  using b = backend({ data: (_s, d) => void chunks.push(d), end: (s) => (chunks.length > 0 && ended(), s.end()) });
  const port = freePort();
  await using _sl = await startSluice(config(port, b.port));
  const c = await connect(port);
  const payload = randomBytes(100 * 1024);
  expect(c.socket.write(payload)).toBe(payload.length);
  c.socket.end();
  await withTimeout(endedP, 5000, "the FIN at the target");
  expect(Buffer.concat(chunks).equals(payload)).toBe(true);
});

test("64 concurrent connections x 4 MiB of random bytes come back intact", async () => {
  using b = echoBackend();
  const port = freePort();
  await using sl = await startSluice(config(port, b.port));
  const cpu0 = cpuSeconds(sl.pid);
  const N = 64;
  const SIZE = 4 * 1024 * 1024;
  const t0 = performance.now();
  const results = await Promise.all(
    Array.from({ length: N }, async () => {
      const payload = randomBytes(SIZE);
      const want = createHash("sha256").update(payload).digest("hex");
      const hash = createHash("sha256");
      const c = await connect(port, { keep: false, onData: (d) => hash.update(d) });
      c.writer.write(payload);
      await c.writer.flushed();
      c.socket.shutdown();
      await withTimeout(c.closed, 60_000, "the echo to finish");
      return { want, got: hash.digest("hex"), bytes: c.bytes };
    }),
  );
  const seconds = (performance.now() - t0) / 1000;
  for (const r of results) {
    expect(r.bytes).toBe(SIZE);
    expect(r.got).toBe(r.want);
  }
  const mib = (N * SIZE) / 2 ** 20;
  const cpu = cpuSeconds(sl.pid) - cpu0;
  // The clients (random bytes, two sha256 passes) share this test process, so wall time mostly measures them.
  console.log(
    `[figure] 64x4MiB echo: ${mib} MiB each way in ${seconds.toFixed(2)} s = ${(mib / seconds).toFixed(0)} MiB/s each way; sluice used ${cpu.toFixed(2)} CPU-s`,
  );
}, 120_000);

test("a reader that stops while the target streams 1 GiB: bounded memory, then every byte", async () => {
  const TOTAL = 1024 * 1024 * 1024;
  const block = randomBytes(1024 * 1024);
  let sent = 0;
  const pump = (w: Writer) => {
    // Keep the kernel buffer full; stop at the first short write and continue on drain.
    while (sent < TOTAL && w.pending === 0) {
      w.write(block);
      sent += block.length;
    }
    if (sent >= TOTAL) void w.flushed().then(() => w.s.shutdown());
  };
  const writers = new Map<unknown, Writer>();
  // Streaming starts on the client's "go", so a health probe never takes part of the 1 GiB.
  using b = backend({
    data: (s) => {
      if (writers.has(s)) return;
      const w = new Writer(s);
      writers.set(s, w);
      pump(w);
    },
    drain: (s) => {
      const w = writers.get(s)!;
      w.onDrain();
      pump(w);
    },
  });
  const port = freePort();
  await using sl = await startSluice(config(port, b.port));
  const before = rssBytes(sl.pid);

  const hash = createHash("sha256");
  const c = await connect(port, { keep: false, onData: (d) => hash.update(d) });
  c.socket.pause();
  c.socket.write("go");
  // The target stalls once the kernel buffers and sluice's queue are full.
  await steady(() => sent, "the target to stall");
  const grown = rssBytes(sl.pid) - before;
  console.log(`[figure] slow reader: target stalled after ${(sent / 2 ** 20).toFixed(0)} MiB; sluice RSS grew ${(grown / 2 ** 20).toFixed(1)} MiB`);
  expect(sent).toBeLessThan(TOTAL);
  expect(grown).toBeLessThan(64 * 1024 * 1024);

  c.socket.resume();
  await withTimeout(c.ended, 60_000, "all of the 1 GiB");
  expect(c.bytes).toBe(TOTAL);
  const want = createHash("sha256");
  for (let i = 0; i < TOTAL / block.length; i++) want.update(block);
  expect(hash.digest("hex")).toBe(want.digest("hex"));
  c.socket.end();
}, 120_000);

test("idle_timeout closes a connection that moves no bytes either way", async () => {
  using b = echoBackend();
  const port = freePort();
  await using _sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[defaults]\nidle_timeout = "1s"\n` + appToml("idle", [port], [`127.0.0.1:${b.port}`]),
  );
  const c = await connect(port);
  c.writer.write(Buffer.from("once"));
  await withTimeout(c.waitFor(4), 5000, "the echo");
  const t0 = performance.now();
  // The sweep runs once a second, so the close comes between 1 and 2 s of silence.
  await withTimeout(c.ended, 5000, "the idle close");
  expect(performance.now() - t0).toBeGreaterThan(900);
  expect(c.received().toString()).toBe("once");
  c.socket.end();
});
