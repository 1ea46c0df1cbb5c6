/**
 * Logging end to end with the compiled binary: access lines in JSON and text,
 * debug lines, and a stderr pipe that nobody reads, which must not stop
 * forwarding or /healthz.
 */
import { expect, test } from "bun:test";
import { closeSync, constants, openSync, readSync, rmSync } from "node:fs";
import { join } from "node:path";
import { connect, deadPort, echoBackend, exchange, freePort, withTimeout, type Client } from "../helpers/net.ts";
import { appToml, BINARY, poll, startSluice, tempDir } from "../helpers/sluice.ts";

/** jsonLines parses every output line that is a JSON object (the ready banner and the rest included). */
function jsonLines(out: string): Record<string, unknown>[] {
  return out
    .split("\n")
    .filter((l) => l.startsWith("{"))
    .map((l) => JSON.parse(l) as Record<string, unknown>);
}

const accessLines = (out: string) => jsonLines(out).filter((o) => o.msg === "connection");

/** closedAtOnce connects and waits for sluice to close the client; a reset that beats Bun's connect counts too. */
async function closedAtOnce(port: number): Promise<void> {
  let c: Client;
  try {
    c = await connect(port);
  } catch {
    return; // Bun reports a reset right after the handshake as a failed connect (ECONNRESET).
  }
  await withTimeout(c.closed, 5000, "the client to be closed");
}

test("json access lines: a served connection, a failed dial, a cap rejection; access_log = false silences an app", async () => {
  using b = echoBackend();
  const [web, dead, quiet, admin] = [freePort(), freePort(), freePort(), freePort()];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[log]\nformat = "json"\naccess = true\n` +
      appToml("web", [web], [`127.0.0.1:${b.port}`], "max_connections = 1") +
      appToml("dead", [dead], [`127.0.0.1:${deadPort()}`]) +
      appToml("quiet", [quiet], [`127.0.0.1:${b.port}`], "access_log = false"),
    { adminPort: admin },
  );
  const banner = jsonLines(sl.output()).find((o) => String(o.msg).includes(" ready: "));
  expect(banner).toMatchObject({ level: "info", tag: "sluice" });
  expect(typeof banner!.time).toBe("string");

  // Served: 5 bytes up, 5 back; the client's FIN comes first.
  expect(await exchange(web, "hello")).toBe("hello");
  await sl.waitForOutput('"app":"web"');
  // At the cap: a second client while one is held is reset and logged as `limit`.
  const held: Client = await connect(web);
  held.writer.write(Buffer.from("x"));
  await withTimeout(held.waitFor(1), 5000, "the held echo");
  await closedAtOnce(web);
  await sl.waitForOutput('"reason":"limit"');
  // A target that refuses: connect-failed after one dial.
  await closedAtOnce(dead);
  await sl.waitForOutput('"reason":"connect-failed"');
  expect(await exchange(quiet, "shh")).toBe("shh");
  held.socket.end();
  await sl.waitForOutput(/"reason":"client-reset"|"reason":"client-closed"[\s\S]*"reason":"client-/);

  const lines = accessLines(sl.output());
  expect(lines.filter((l) => l.app === "quiet")).toEqual([]);
  const served = lines.find((l) => l.app === "web" && l.reason === "client-closed")!;
  expect(served).toMatchObject({ level: "info", tag: "access", port: web, target: `127.0.0.1:${b.port}`, tried: 1, bytes_up: 5, bytes_down: 5, first_close: "client" });
  expect(served.client).toMatch(/^127\.0\.0\.1:\d+$/);
  expect(served.connect_ms).toBeNumber();
  expect(served.duration_ms as number).toBeGreaterThanOrEqual(served.connect_ms as number);
  expect(lines.find((l) => l.reason === "limit")).toMatchObject({ app: "web", port: web, target: null, tried: 0, first_close: "sluice" });
  expect(lines.find((l) => l.reason === "connect-failed")).toMatchObject({ app: "dead", target: null, tried: 1, connect_ms: null, first_close: "sluice" });

  const metrics = await (await sl.admin("/metrics")).text();
  expect(metrics).toContain(`sluice_downstream_closed_total{app="web",reason="limit"} 1`);
  expect(metrics).toContain(`sluice_downstream_closed_total{app="dead",reason="connect-failed"} 1`);
  expect(metrics).toContain(`sluice_downstream_closed_total{app="quiet",reason="client-closed"} 1`);
  expect(metrics).toContain(`sluice_downstream_closed_total{app="quiet",reason="idle-timeout"} 0`);
});

test("--log-format text overrides [log] format; --log-level debug logs dials and health checks", async () => {
  using b = echoBackend();
  const port = freePort();
  await using sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "200ms"\n[log]\nformat = "json"\naccess = true\n` + appToml("web", [port], [`127.0.0.1:${b.port}`]),
    { wrap: (argv) => [...argv, "--log-format", "text", "--log-level", "debug"] },
  );
  expect(await exchange(port, "hi")).toBe("hi");
  await sl.waitForOutput(/INFO  \[access\] connection app=web port=\d+ client=127\.0\.0\.1:\d+ target=127\.0\.0\.1:\d+ tried=1 /);
  await sl.waitForOutput(`DEBUG [app/web] dialling 127.0.0.1:${b.port}`);
  await sl.waitForOutput(`DEBUG [app/web] health check 127.0.0.1:${b.port}: pass`);
  expect(sl.output()).not.toContain('{"time"');
});

/**
 * stuckPipe is a FIFO the test holds open for reading and writing but never
 * reads: the child's stderr is a real pipe that fills at 64 KiB. (A Bun.spawn
 * "pipe" would not do: Bun reads it into memory whether or not the test does.)
 */
function stuckPipe() {
  const dir = tempDir();
  const path = join(dir, "stderr");
  if (Bun.spawnSync(["mkfifo", path]).exitCode !== 0) throw new Error("mkfifo failed");
  // O_RDWR on a FIFO does not wait for a peer on Linux, and keeps the pipe from ever seeing EOF or EPIPE.
  const fd = openSync(path, constants.O_RDWR);
  return {
    fd,
    /** reads what is in the pipe now, without blocking. */
    readNow(): string {
      const r = openSync(path, constants.O_RDONLY | constants.O_NONBLOCK);
      const buf = Buffer.alloc(1 << 16);
      let text = "";
      try {
        for (;;) {
          const n = readSync(r, buf);
          if (n <= 0) break;
          text += buf.toString("utf8", 0, n);
        }
      } catch (e) {
        if ((e as { code?: string }).code !== "EAGAIN") throw e;
      } finally {
        closeSync(r);
      }
      return text;
    },
    [Symbol.dispose]() {
      closeSync(fd);
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

test("a stderr pipe nobody reads never stops forwarding or /healthz; dropped lines are counted, reported, and the bye line gets out", async () => {
  using b = echoBackend();
  using pipe = stuckPipe();
  const [port, admin] = [freePort(), freePort()];
  const dir = tempDir();
  const config = join(dir, "config.toml");
  await Bun.write(
    config,
    `bind = "127.0.0.1"\nworkers = 2\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[log]\naccess = true\nlevel = "debug"\n` +
      appToml("web", [port], [`127.0.0.1:${b.port}`]),
  );
  const proc = Bun.spawn([BINARY, "-c", config], { stdin: "ignore", stdout: "ignore", stderr: pipe.fd });
  try {
    const healthz = async () => (await fetch(`http://127.0.0.1:${admin}/healthz`).catch(() => undefined))?.status;
    await poll(healthz, (s) => s === 200, 10_000, "/healthz");
    // About 400 bytes of log per connection (two debug lines and the access line):
    // 8,000 connections are ~3.2 MB, the 64 KiB pipe 50 times over and past the 1 MiB queue of each of
    // the two worker threads; what they drop is summed in one counter.
    const N = 8000;
    const CONCURRENCY = 40;
    let next = 0;
    const started = performance.now();
    const worker = async () => {
      while (next < N) {
        const i = next++;
        const msg = `m${i}`;
        expect(await exchange(port, msg)).toBe(msg);
        if (i % 500 === 0) expect(await healthz()).toBe(200);
      }
    };
    await withTimeout(Promise.all(Array.from({ length: CONCURRENCY }, worker)), 60_000, `${N} proxied exchanges`);
    const elapsed = performance.now() - started;
    expect(await healthz()).toBe(200);
    const metrics = await (await fetch(`http://127.0.0.1:${admin}/metrics`)).text();
    expect(metrics).toContain(`sluice_downstream_closed_total{app="web",reason="client-closed"} ${N}`);
    const dropped = Number(/^sluice_log_lines_dropped_total (\d+)$/m.exec(metrics)?.[1]);
    expect(dropped).toBeGreaterThan(0);
    console.error(`stuck stderr: ${N} exchanges in ${elapsed.toFixed(0)} ms, ${dropped} log lines dropped`);

    // Reading again: the queue drains, one line says how many were dropped, then SIGTERM's bye gets out.
    let text = "";
    await poll(
      async () => (text += pipe.readNow()),
      (t) => t.includes("log lines dropped"),
      10_000,
      "the dropped-lines notice",
    );
    expect(text).toMatch(/WARN  \[log\] \d+ log lines dropped: stderr was not read fast enough dropped=\d+/);
    // Each worker thread has its own queue: keep reading, as a log collector that caught up would, while sluice exits.
    proc.kill("SIGTERM");
    await poll(
      async () => ((text += pipe.readNow()), proc.exitCode),
      (code) => code !== null,
      10_000,
      "sluice to exit",
    );
    expect(proc.exitCode).toBe(0);
    text += pipe.readNow();
    expect(text).toContain("bye");
  } finally {
    proc.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}, 90_000);
