/**
 * The listen backlog. While sluice is stopped (SIGSTOP) nothing accepts, so
 * every handshake the kernel completes waits in the accept queue: with
 * Bun's own backlog of 512 about 513 of a burst of 1,500 connect at once and
 * the rest have their SYNs dropped; with sluice's 4,096 (or the kernel's
 * somaxconn, if lower) all of them connect. After SIGCONT every one is served.
 */
import { expect, test } from "bun:test";
import { readFileSync } from "node:fs";
import { connect as netConnect, type Socket } from "node:net";
import { connect, echoBackend, freePort, nameBackend, withTimeout } from "../helpers/net.ts";
import { appToml, startSluice } from "../helpers/sluice.ts";

const somaxconn = Number(readFileSync("/proc/sys/net/core/somaxconn", "utf8"));
const BURST = 1500;

test(`a burst of ${BURST} connections while sluice cannot accept all get through the handshake`, async () => {
  if (somaxconn < BURST) {
    console.warn(`skipped: net.core.somaxconn is ${somaxconn}, below the burst of ${BURST}`);
    return;
  }
  using a = nameBackend("A");
  const port = freePort();
  await using sl = await startSluice(`bind = "127.0.0.1"\nwatch = false\n[health]\ninterval = "1h"\n` + appToml("a", [port], [`127.0.0.1:${a.port}`]));
  const sockets: Socket[] = [];
  sl.signal("SIGSTOP");
  try {
    // Each resolves when its handshake completes (the kernel answers for the stopped process), or after 1 s.
    const connected = await Promise.all(
      Array.from(
        { length: BURST },
        () =>
          new Promise<boolean>((resolve) => {
            const s = netConnect({ host: "127.0.0.1", port });
            sockets.push(s);
            const timer = setTimeout(() => resolve(false), 1000);
            s.once("connect", () => {
              clearTimeout(timer);
              resolve(true);
            });
            s.once("error", () => resolve(false));
          }),
      ),
    );
    expect(connected.filter(Boolean).length).toBe(BURST);
    sl.signal("SIGCONT");
    // Every queued client is then accepted and reaches the target.
    const greeted = await withTimeout(
      Promise.all(sockets.map((s) => new Promise<void>((r) => (s.readableLength > 0 ? r() : s.once("data", () => r()))))),
      20_000,
      "every client's greeting",
    );
    expect(greeted).toHaveLength(BURST);
  } finally {
    try {
      sl.signal("SIGCONT");
    } catch {}
    for (const s of sockets) s.destroy();
  }
}, 40_000);

for (const defer of [true, false]) {
  test(`defer_accept = ${defer}: a client that has sent nothing is ${defer ? "not accepted yet" : "accepted at once"}`, async () => {
    using e = echoBackend();
    const [port, admin] = [freePort(), freePort()];
    // One worker, so that the kernel's accept queue is one FIFO and the order below is certain.
    await using sl = await startSluice(
      `bind = "127.0.0.1"\nworkers = 1\nwatch = false\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
        appToml("a", [port], [`127.0.0.1:${e.port}`], `defer_accept = ${defer}\n`),
      { adminPort: admin },
    );
    // The silent client's handshake completes either way: the kernel answers it.
    const silent = await connect(port);
    const talker = await connect(port);
    talker.writer.write(Buffer.from("hi"));
    await withTimeout(talker.waitFor(2), 5000, "the talker's echo");
    // Accepted in order: without defer the silent client was accepted before the talker; with it, not at all yet.
    expect((await sl.status()).connections.active).toBe(defer ? 1 : 2);
    silent.writer.write(Buffer.from("late"));
    await withTimeout(silent.waitFor(4), 5000, "the silent client's echo once it speaks");
    expect(silent.received().toString()).toBe("late");
    expect((await sl.status()).connections.active).toBe(2);
    silent.socket.end();
    talker.socket.end();
  });
}
