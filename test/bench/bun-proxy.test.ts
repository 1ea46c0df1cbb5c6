/**
 * The bench's "bun" peer stands for the floor any Bun proxy pays; it must be a
 * correct proxy, or a lower cost would only mean less work. Every byte through
 * in order, half-close both ways, a reset passed on as a reset.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import type { Subprocess } from "bun";
import { connect, echoBackend, freePort, withTimeout, type Backend } from "../helpers/net.ts";

let proxy: Subprocess<"ignore", "pipe", "inherit">;
let target: Backend;
let port: number;

beforeAll(async () => {
  target = echoBackend();
  port = freePort();
  proxy = Bun.spawn([process.execPath, `${import.meta.dir}/../../scripts/bench/bun-proxy.ts`, String(port), String(target.port)], { stdout: "pipe" });
  // Synchronise on its banner.
  const first = await withTimeout(proxy.stdout.getReader().read(), 10_000, "bun-proxy's banner");
  expect(new TextDecoder().decode(first.value)).toContain(`127.0.0.1:${port}`);
});

afterAll(() => {
  process.kill(proxy.pid, "SIGKILL");
  target[Symbol.dispose]();
});

test("20 streams of 1 KB to 2 MB come back whole and in order, the client's FIN answered by the target's", async () => {
  await Promise.all(
    Array.from({ length: 20 }, async (_, i) => {
      const payload = Uint8Array.from({ length: 1000 + i * 100_000 }, (_, j) => (j * 7 + i) & 0xff);
      const c = await connect(port);
      c.writer.write(payload);
      await c.writer.flushed();
      c.socket.shutdown();
      expect(await withTimeout(c.closed, 10_000, `stream ${i} to close`)).toBeUndefined();
      expect(c.received().equals(payload)).toBe(true);
    }),
  );
});

test("a client that resets gets its target reset too", async () => {
  let opened!: () => void;
  let closed!: (e: Error | undefined) => void;
  const accepted = new Promise<void>((r) => (opened = r));
  const seen = new Promise<Error | undefined>((r) => (closed = r));
  const quiet = Bun.listen({ hostname: "127.0.0.1", port: 0, socket: { open: () => opened(), data() {}, close: (_s, e) => closed(e), error() {} } });
  const p = freePort();
  const other = Bun.spawn([process.execPath, `${import.meta.dir}/../../scripts/bench/bun-proxy.ts`, String(p), String(quiet.port)], { stdout: "pipe" });
  try {
    await withTimeout(other.stdout.getReader().read(), 10_000, "bun-proxy's banner");
    const c = await connect(p);
    await withTimeout(accepted, 5000, "the target to accept");
    c.socket.terminate();
    const e = await withTimeout(seen, 5000, "the target's close");
    expect((e as { code?: string } | undefined)?.code).toBe("ECONNRESET");
  } finally {
    process.kill(other.pid, "SIGKILL");
    quiet.stop(true);
  }
});
