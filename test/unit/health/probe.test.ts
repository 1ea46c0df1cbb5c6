/**
 * Health probes against real loopback peers, through both implementations:
 * Bun.connect (every target's first) and node:net (for a target whose probe
 * once timed out while connecting). Each peer serves one probe connection and
 * reports what it received and how the connection ended.
 */
import { readdirSync, readFileSync, readlinkSync } from "node:fs";
import { describe, expect, test } from "bun:test";
import type { Socket } from "bun";
import { bunProbe, netProbe, probeSockets, type Conversation, type Probe } from "../../../src/upstream/health/probe.ts";
import { deadPort, HOST } from "../../helpers/net.ts";

const bytes = (s: string) => new TextEncoder().encode(s);
const PING: Conversation = { send: bytes("PING\r\n"), expect: bytes("+PONG") };

type Ending = { got: string; how: "fin" | "reset" };

/** peer listens on loopback for one probe; `script` plays its side, and `done` resolves once that connection closes. */
function peer(script: { open?(s: Socket): void; data?(s: Socket, got: string): void } = {}) {
  const done = Promise.withResolvers<Ending>();
  let got = "";
  let fin = false;
  const listener = Bun.listen({
    hostname: HOST,
    port: 0,
    allowHalfOpen: true,
    socket: {
      open(s) {
        script.open?.(s);
      },
      data(s, d) {
        got += d.toString("latin1");
        script.data?.(s, got);
      },
      end(s) {
        fin = true;
        s.end();
      },
      close(_s, e) {
        done.resolve({ got, how: e === undefined && fin ? "fin" : "reset" });
      },
      error() {},
    },
  });
  return { port: listener.port, done: done.promise, [Symbol.dispose]: () => listener.stop(true) };
}

/** redis answers "+PONG\r\n" to each "PING\r\n" and `other` to anything else. */
function redis(other = "-ERR unknown command\r\n") {
  return peer({
    data(s, got) {
      if (got.endsWith("\r\n")) s.write(got === "PING\r\n" ? "+PONG\r\n" : other);
    },
  });
}

/**
 * socketsTo counts this process's open sockets connected to `port`: the
 * inodes behind /proc/self/fd matched with /proc/net/tcp's remote ports.
 * Counting all fds would also count (or miss) any other socket that happens
 * to open or close meanwhile.
 */
function socketsTo(port: number): number {
  const mine = new Set<string>();
  for (const fd of readdirSync("/proc/self/fd")) {
    try {
      const m = /^socket:\[(\d+)\]$/.exec(readlinkSync(`/proc/self/fd/${fd}`));
      if (m !== null) mine.add(m[1]!);
    } catch {
      // closed between readdir and readlink
    }
  }
  const hexPort = port.toString(16).toUpperCase().padStart(4, "0");
  let n = 0;
  for (const line of readFileSync("/proc/net/tcp", "utf8").split("\n").slice(1)) {
    const f = line.trim().split(/\s+/);
    if (f.length > 9 && f[2]!.endsWith(`:${hexPort}`) && mine.has(f[9]!)) n++;
  }
  return n;
}

describe.each([
  ["Bun.connect", bunProbe],
  ["node:net", netProbe],
] as [string, Probe][])("%s probe", (_name, probe) => {
  test("no conversation: the connect alone passes, and the probe closes with a FIN", async () => {
    using p = peer();
    expect(await probe(HOST, p.port, 1000)).toBeNull();
    expect(await p.done).toEqual({ got: "", how: "fin" });
  });

  test("send and expect: an exact match passes, and the probe closes politely", async () => {
    using p = redis();
    expect(await probe(HOST, p.port, 1000, { send: bytes("PING\r\n"), expect: bytes("+PONG\r\n") })).toBeNull();
    expect(await p.done).toEqual({ got: "PING\r\n", how: "fin" });
  });

  test("send and expect: a reply that starts with expect passes", async () => {
    using p = redis();
    expect(await probe(HOST, p.port, 1000, PING)).toBeNull();
    expect((await p.done).got).toBe("PING\r\n");
  });

  test("a reply that differs at its first byte fails at once, quoting it", async () => {
    using p = redis();
    const started = performance.now();
    expect(await probe(HOST, p.port, 5000, { send: bytes("HELLO\r\n"), expect: bytes("+PONG") })).toBe(
      `unexpected reply "-ERR unknown command\\r\\n"`,
    );
    expect(performance.now() - started).toBeLessThan(2500);
    await p.done;
  });

  test("a reply spread over many writes is put together", async () => {
    using p = peer({
      async data(s) {
        // One byte per write, each a turn of the event loop apart.
        for (const c of "+PONG\r\n") {
          s.write(c);
          await new Promise((r) => setImmediate(r));
        }
      },
    });
    expect(await probe(HOST, p.port, 2000, { send: bytes("PING\r\n"), expect: bytes("+PONG\r\n") })).toBeNull();
    await p.done;
  });

  test("a peer that closes before the whole reply fails the check", async () => {
    using p = peer({ data: (s) => s.end("+PO") });
    expect(await probe(HOST, p.port, 2000, PING)).toBe(`reply "+PO" cut short`);
  });

  test("a peer that closes without a word fails the check", async () => {
    using p = peer({ open: (s) => s.end() });
    expect(await probe(HOST, p.port, 2000, { expect: bytes("220 ") })).toBe("closed without a reply");
  });

  test("a peer that resets fails the check with ECONNRESET", async () => {
    using p = peer({ data: (s) => s.terminate() });
    expect(await probe(HOST, p.port, 2000, PING)).toBe("ECONNRESET");
  });

  test("a silent peer fails at the timeout, and the probe's socket is gone with it", async () => {
    // One probe first, so that whatever the implementation opens once (node:net's module) is open already.
    {
      using warm = peer();
      await probe(HOST, warm.port, 1000);
      await warm.done;
    }
    const accepted = Promise.withResolvers<void>();
    using p = peer({ open: () => accepted.resolve() });
    expect(socketsTo(p.port)).toBe(0);
    const asked = probe(HOST, p.port, 150, PING);
    // The probe's socket is open while it waits (so the count below can see one)...
    await accepted.promise;
    const during = socketsTo(p.port);
    expect(await asked).toBe("no reply within 150ms");
    // The peer saw the connection close: nothing of the probe is left behind.
    expect((await p.done).got).toBe("PING\r\n");
    // ...and gone once it has failed.
    expect([during, socketsTo(p.port)]).toEqual([1, 0]);
    expect(probeSockets.abandoned).toBe(0);
  });

  test("part of a reply, then silence, fails at the timeout", async () => {
    using p = peer({ data: (s) => s.write("+PO") });
    expect(await probe(HOST, p.port, 150, PING)).toBe(`incomplete reply "+PO" within 150ms`);
    await p.done;
  });

  test("expect alone reads a banner and sends nothing", async () => {
    using p = peer({ open: (s) => s.write("220 mail.test ESMTP ready\r\n") });
    expect(await probe(HOST, p.port, 1000, { expect: bytes("220 ") })).toBeNull();
    expect(await p.done).toEqual({ got: "", how: "fin" });
  });

  test("expect alone fails on the wrong banner", async () => {
    using p = peer({ open: (s) => s.write("SSH-2.0-OpenSSH_9.6\r\n") });
    expect(await probe(HOST, p.port, 1000, { expect: bytes("220 ") })).toBe(`unexpected reply "SSH-2.0-OpenSSH_9.6\\r\\n"`);
  });

  test("send alone passes once written, and the peer gets it all before a FIN", async () => {
    using p = peer();
    expect(await probe(HOST, p.port, 1000, { send: bytes("QUIT\r\n") })).toBeNull();
    expect(await p.done).toEqual({ got: "QUIT\r\n", how: "fin" });
  });

  test("a send larger than the socket buffers is written in full before the check passes", async () => {
    const size = 8 << 20;
    const big = new Uint8Array(size).fill(0x61);
    let received = 0;
    const all = Promise.withResolvers<void>();
    using p = peer({
      data(_s, got) {
        received = got.length;
        if (received === size) all.resolve();
      },
    });
    expect(await probe(HOST, p.port, 5000, { send: big })).toBeNull();
    await all.promise;
    expect(received).toBe(size);
  });

  test("a refused connect fails as before, conversation or not", async () => {
    expect(await probe(HOST, deadPort(), 1000, PING)).toBe("ECONNREFUSED");
  });
});
