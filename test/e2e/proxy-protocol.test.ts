/**
 * PROXY protocol through the compiled binary: send_proxy v1 and v2 as the
 * first bytes a target reads (and never to health probes, and never counted
 * as client bytes), accept_proxy's header stripped and its source used by the
 * ACL, the access log and send_proxy, the clients it closes, and HAProxy on
 * either side. Clients bind 127.0.0.2 so the header carries an address that
 * is not the proxy's own.
 */
import { describe, expect, test } from "bun:test";
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { rmSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import type { Socket } from "bun";
import { backend, freePort, withTimeout, type Backend } from "../helpers/net.ts";
import { appToml, poll, startSluice, tempDir, type Sluice } from "../helpers/sluice.ts";

const SIG = [0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0a];

const head = (admin: number, extra = "") =>
  `bind = "127.0.0.1"\nwatch = false\n${extra}[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[log]\nformat = "json"\naccess = true\n`;

/** v2 builds a PROXY v2 TCP4 header by hand, independent of src/net/proxy-protocol.ts. */
function v2(src: string, dst: string, sport: number, dport: number, tlvs: number[] = []): Uint8Array {
  const ip = (s: string) => s.split(".").map(Number);
  const body = [...ip(src), ...ip(dst), sport >> 8, sport & 255, dport >> 8, dport & 255, ...tlvs];
  return new Uint8Array([...SIG, 0x21, 0x11, body.length >> 8, body.length & 255, ...body]);
}
const V2_LOCAL = new Uint8Array([...SIG, 0x20, 0x00, 0x00, 0x00]);

/** Conn is one connection a recorder accepted: every byte it read, and a promise for its end. */
interface Conn {
  bytes: () => Buffer;
  /** resolves once at least n bytes arrived. */
  waitFor(n: number): Promise<void>;
  closed: Promise<void>;
}

/** recorder is a target that keeps what each connection sends and answers a FIN with `ok` and its own FIN. */
function recorder(): Backend & { conns: Conn[] } {
  const conns: Conn[] = [];
  const state = new WeakMap<Socket<unknown>, { chunks: Buffer[]; n: number; wake: () => void; done: () => void }>();
  const b = backend({
    open(s) {
      const chunks: Buffer[] = [];
      let waiters: { n: number; r: () => void }[] = [];
      let done!: () => void;
      const st = {
        chunks,
        n: 0,
        wake: () => (waiters = waiters.filter((w) => (st.n >= w.n ? (w.r(), false) : true))),
        done: () => done(),
      };
      state.set(s, st);
      conns.push({
        bytes: () => Buffer.concat(chunks),
        waitFor: (n) => (st.n >= n ? Promise.resolve() : new Promise<void>((r) => waiters.push({ n, r }))),
        closed: new Promise<void>((r) => (done = r)),
      });
    },
    data(s, d) {
      const st = state.get(s)!;
      st.chunks.push(Buffer.from(d));
      st.n += d.length;
      st.wake();
    },
    end(s) {
      s.write("ok");
      s.shutdown();
    },
    close(s) {
      state.get(s)?.done();
    },
  });
  return Object.assign(b, { conns });
}

/** served is what the recorder's connections read, leaving out health probes (which send nothing). */
const served = (r: { conns: Conn[] }) => r.conns.map((c) => c.bytes()).filter((b) => b.length > 0);

/** Talk is a node:net client bound to a chosen loopback address. */
interface Talk {
  socket: NetSocket;
  localPort: number;
  /** what came back before the peer closed, or "reset". */
  result: Promise<string>;
}

function client(port: number, localAddress = "127.0.0.2"): Promise<Talk> {
  return new Promise((resolve, reject) => {
    let got = "";
    let settle!: (v: string) => void;
    const result = new Promise<string>((r) => (settle = r));
    const s: NetSocket = netConnect({ host: "127.0.0.1", port, localAddress }, () => resolve({ socket: s, localPort: s.localPort!, result }));
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", (e) => {
      settle("reset");
      reject(e);
    });
    s.on("close", (hadError) => settle(hadError ? "reset" : got));
  });
}

/** send writes `parts` one by one (each its own write, let through before the next) and half-closes. */
async function send(t: Talk, parts: (string | Uint8Array)[], end = true): Promise<void> {
  for (const p of parts) {
    await new Promise<void>((r) => t.socket.write(typeof p === "string" ? Buffer.from(p, "latin1") : p, () => r()));
    await Bun.sleep(5); // give each part its own segment; the order, not the delay, is what is checked
  }
  if (end) t.socket.end();
}

const accessLines = (sl: Sluice) =>
  sl
    .output()
    .split("\n")
    .filter((l) => l.startsWith("{") && l.includes('"msg":"connection"'))
    .map((l) => JSON.parse(l) as Record<string, unknown>);

async function metric(sl: Sluice, name: string, labels: string): Promise<number> {
  const text = await (await sl.admin("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`${name}{${labels}} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe("send_proxy", () => {
  for (const version of ["v1", "v2"] as const) {
    test(`${version}: the target reads the header for the client's address, then the client's bytes; bytes_up counts only those`, async () => {
      using r = recorder();
      const [port, admin] = [freePort(), freePort()];
      await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], `send_proxy = "${version}"`), {
        adminPort: admin,
      });
      const payload = "hello through sluice\n";
      const t = await client(port);
      await send(t, [payload]);
      expect(await withTimeout(t.result, 5000, "the reply")).toBe("ok");
      const got = served(r)[0]!;
      const header =
        version === "v1" ? Buffer.from(`PROXY TCP4 127.0.0.2 127.0.0.1 ${t.localPort} ${port}\r\n`) : Buffer.from(v2("127.0.0.2", "127.0.0.1", t.localPort, port));
      expect(got.subarray(0, header.length).toString("latin1")).toBe(header.toString("latin1"));
      expect(got.subarray(header.length).toString()).toBe(payload);
      await sl.waitForOutput('"msg":"connection"');
      expect(accessLines(sl)[0]).toMatchObject({ app: "a", client: `127.0.0.2:${t.localPort}`, bytes_up: payload.length, bytes_down: 2 });
      expect(await metric(sl, "sluice_bytes_total", `app="a",direction="upstream"`)).toBe(payload.length);
    });
  }

  test("v1 over IPv6: TCP6 with the client's ::1 address", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(head(admin).replace('bind = "127.0.0.1"', 'bind = "::1"') + appToml("a", [port], [`127.0.0.1:${r.port}`], `send_proxy = "v1"`), {
      adminPort: admin,
    });
    const t = await new Promise<Talk>((resolve, reject) => {
      let settle!: (v: string) => void;
      const result = new Promise<string>((r) => (settle = r));
      const s: NetSocket = netConnect({ host: "::1", port }, () => resolve({ socket: s, localPort: s.localPort!, result }));
      s.on("data", () => {});
      s.on("error", reject);
      s.on("close", () => settle("closed"));
    });
    await send(t, ["six"]);
    await withTimeout(t.result, 5000, "the close");
    expect(served(r)[0]!.toString("latin1")).toBe(`PROXY TCP6 ::1 ::1 ${t.localPort} ${port}\r\nsix`);
  });

  test("health probes to a send_proxy target carry no header", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(
      `bind = "127.0.0.1"\nwatch = false\n[health]\ninterval = "100ms"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` +
        appToml("a", [port], [`127.0.0.1:${r.port}`], `send_proxy = "v2"`),
      { adminPort: admin },
    );
    await poll(async () => r.conns.length, (n) => n >= 3, 5000, "three health probes");
    const t = await client(port);
    await send(t, ["x"]);
    await withTimeout(t.result, 5000, "the reply");
    // Every connection that read anything was the client's; the probes read nothing.
    const withBytes = r.conns.filter((c) => c.bytes().length > 0);
    expect(withBytes.length).toBe(1);
    expect(withBytes[0]!.bytes().subarray(0, 12)).toEqual(Buffer.from(SIG));
    expect(r.conns.length).toBeGreaterThanOrEqual(4);
  });
});

describe("accept_proxy", () => {
  test("v1, v2 split over many writes, and v2 LOCAL: the header is stripped, its source is the client", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], "accept_proxy = true"), { adminPort: admin });

    const a = await client(port);
    await send(a, ["PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\nfirst"]);
    expect(await withTimeout(a.result, 5000, "reply 1")).toBe("ok");

    const b = await client(port);
    const h = v2("203.0.113.9", "198.51.100.1", 40002, 443, [0x04, 0x00, 0x02, 0x61, 0x62]); // one TLV (NOOP), skipped
    const parts: (string | Uint8Array)[] = [];
    for (let i = 0; i < h.length; i += 5) parts.push(h.subarray(i, i + 5));
    await send(b, [...parts, "sec", "ond"]);
    expect(await withTimeout(b.result, 5000, "reply 2")).toBe("ok");

    const c = await client(port);
    await send(c, [V2_LOCAL, "third"]);
    expect(await withTimeout(c.result, 5000, "reply 3")).toBe("ok");

    expect(served(r).map((x) => x.toString())).toEqual(["first", "second", "third"]);
    await poll(async () => accessLines(sl).length, (n) => n === 3, 5000, "three access lines");
    expect(accessLines(sl).map((l) => l.client)).toEqual(["192.0.2.7:40001", "203.0.113.9:40002", `127.0.0.2:${c.localPort}`]);
    expect(await metric(sl, "sluice_bytes_total", `app="a",direction="upstream"`)).toBe(16);
  });

  test("allow/deny see the PROXY source, not the socket's", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(
      head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], `accept_proxy = true\nallow = ["192.0.2.0/24"]\ndeny = ["192.0.2.66"]`),
      { adminPort: admin },
    );
    const ok = await client(port);
    await send(ok, ["PROXY TCP4 192.0.2.7 127.0.0.1 1000 2000\r\nin"]);
    expect(await withTimeout(ok.result, 5000, "the allowed reply")).toBe("ok");
    for (const src of ["192.0.2.66", "10.1.2.3"]) {
      const no = await client(port);
      await send(no, [`PROXY TCP4 ${src} 127.0.0.1 1000 2000\r\nout`]);
      expect(await withTimeout(no.result, 5000, "the refused client to close")).toBe("reset");
    }
    // LOCAL keeps the socket's own address, 127.0.0.2, which allow does not list.
    const local = await client(port);
    await send(local, [V2_LOCAL, "out"]);
    expect(await withTimeout(local.result, 5000, "the LOCAL client to close")).toBe("reset");
    expect(served(r).map((x) => x.toString())).toEqual(["in"]);
    expect(await metric(sl, "sluice_downstream_closed_total", `app="a",reason="denied"`)).toBe(3);
    await poll(async () => accessLines(sl).length, (n) => n === 4, 5000, "four access lines");
    expect(accessLines(sl).map((l) => [l.client, l.reason])).toEqual([
      ["192.0.2.7:1000", "client-closed"],
      ["192.0.2.66:1000", "denied"],
      ["10.1.2.3:1000", "denied"],
      [`127.0.0.2:${local.localPort}`, "denied"],
    ]);
  });

  test("max_connections_per_client counts the PROXY source", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], "accept_proxy = true\nmax_connections_per_client = 1"), {
      adminPort: admin,
    });
    // One held session for 192.0.2.7 (all clients share the socket address 127.0.0.2).
    const held = await client(port);
    await send(held, ["PROXY TCP4 192.0.2.7 127.0.0.1 1000 2000\r\nheld"], false);
    await poll(async () => served(r).length, (n) => n === 1, 5000, "the held session at the target");
    const same = await client(port);
    await send(same, ["PROXY TCP4 192.0.2.7 127.0.0.1 1001 2000\r\nx"]);
    expect(await withTimeout(same.result, 5000, "the second client of 192.0.2.7 to be closed")).toBe("reset");
    const other = await client(port);
    await send(other, ["PROXY TCP4 192.0.2.8 127.0.0.1 1000 2000\r\ny"]);
    expect(await withTimeout(other.result, 5000, "the other client's reply")).toBe("ok");
    held.socket.end();
    expect(await withTimeout(held.result, 5000, "the held reply")).toBe("ok");
    expect(await metric(sl, "sluice_downstream_closed_total", `app="a",reason="limit"`)).toBe(1);
  });

  test("with send_proxy v2 the target sees the original client", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], `accept_proxy = true\nsend_proxy = "v2"`), {
      adminPort: admin,
    });
    const t = await client(port);
    await send(t, [v2("192.0.2.7", "198.51.100.1", 40001, 443), "data"]);
    expect(await withTimeout(t.result, 5000, "the reply")).toBe("ok");
    const h = Buffer.from(v2("192.0.2.7", "198.51.100.1", 40001, 443));
    expect(served(r)[0]).toEqual(Buffer.concat([h, Buffer.from("data")]));
    // v1 in, LOCAL: the socket's own addresses go out.
    const l = await client(port);
    await send(l, [V2_LOCAL, "data"]);
    expect(await withTimeout(l.result, 5000, "the reply")).toBe("ok");
    expect(served(r)[1]).toEqual(Buffer.concat([Buffer.from(v2("127.0.0.2", "127.0.0.1", l.localPort, port)), Buffer.from("data")]));
  });

  test("a missing, malformed or oversize header, or none within connect_timeout, closes the client (denied)", async () => {
    using r = recorder();
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(
      head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], `accept_proxy = true\nconnect_timeout = "300ms"`),
      { adminPort: admin },
    );
    const cases: [string, (string | Uint8Array)[], boolean][] = [
      ["no header", ["GET / HTTP/1.1\r\n\r\n"], false],
      ["malformed v1", ["PROXY TCP4 1.2.3 4.5.6.7 1 2\r\nx"], false],
      ["v1 without CRLF within 107 bytes", ["PROXY TCP4 " + "1".repeat(120)], false],
      ["v2 with version 3", [new Uint8Array([...SIG, 0x31, 0x11, 0, 12, ...new Array(12).fill(1)])], false],
      ["v2 longer than 16 KiB", [new Uint8Array([...SIG, 0x21, 0x11, 0x40, 0x10])], false],
      ["a v1 header cut by FIN", ["PROXY TCP4 192.0.2.7"], true],
      ["nothing at all until the deadline", [], false],
      ["half a v2 header until the deadline", [new Uint8Array(SIG.slice(0, 8))], false],
    ];
    for (const [what, parts, fin] of cases) {
      const t = await client(port);
      await send(t, parts, fin);
      expect([what, await withTimeout(t.result, 5000, `${what}: the client to be closed`)]).toEqual([what, "reset"]);
      t.socket.destroy();
    }
    expect(served(r)).toEqual([]);
    expect(await metric(sl, "sluice_downstream_closed_total", `app="a",reason="denied"`)).toBe(cases.length);
  });
});

/** haproxy starts HAProxy in the foreground on `cfg` and waits until `port` accepts; undefined when it is not installed. */
async function haproxy(cfg: string, port: number): Promise<AsyncDisposable> {
  const dir = tempDir();
  const path = join(dir, "haproxy.cfg");
  writeFileSync(path, cfg);
  // -db: stay in the foreground, so the PID we hold is HAProxy itself.
  const proc = Bun.spawn(["haproxy", "-db", "-f", path], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  let err = "";
  void new Response(proc.stderr).text().then((t) => (err = t));
  const deadline = performance.now() + 5000;
  while (true) {
    const up = await Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {} } }).then(
      (s) => (s.end(), true),
      () => false,
    );
    if (up) break;
    if (proc.exitCode !== null || performance.now() > deadline) {
      proc.kill("SIGKILL");
      throw new Error(`haproxy did not start: ${err}`);
    }
    await Bun.sleep(20);
  }
  return {
    async [Symbol.asyncDispose]() {
      proc.kill("SIGKILL");
      await proc.exited;
      rmSync(dir, { recursive: true, force: true });
    },
  };
}

const HAPROXY = Bun.which("haproxy");
if (HAPROXY === null) console.warn("proxy-protocol.test.ts: haproxy is not installed (apt-get install haproxy); skipping the HAProxy interop tests");
const haproxyDefaults = `defaults\n  mode tcp\n  timeout connect 5s\n  timeout client 30s\n  timeout server 30s\n`;

describe.skipIf(HAPROXY === null)("HAProxy interop", () => {
  test("HAProxy send-proxy-v2 in front of sluice accept_proxy: the target sees the client that reached HAProxy", async () => {
    using r = recorder();
    const [port, admin, front] = [freePort(), freePort(), freePort()];
    await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${r.port}`], `accept_proxy = true\nsend_proxy = "v1"`), {
      adminPort: admin,
    });
    await using _h = await haproxy(
      `${haproxyDefaults}frontend f\n  bind 127.0.0.1:${front}\n  default_backend b\nbackend b\n  server s 127.0.0.1:${port} send-proxy-v2\n`,
      front,
    );
    const t = await client(front);
    await send(t, ["via haproxy"]);
    expect(await withTimeout(t.result, 5000, "the reply")).toBe("ok");
    // HAProxy's readiness probe went through to the target too, so pick the client's connection by content.
    const got = r.conns.find((c) => c.bytes().includes("via haproxy"))!.bytes().toString("latin1");
    expect(got).toBe(`PROXY TCP4 127.0.0.2 127.0.0.1 ${t.localPort} ${front}\r\nvia haproxy`);
    const line = await poll(async () => accessLines(sl).find((l) => l.bytes_up === 11), (l) => l !== undefined, 5000, "the client's access line");
    expect(line).toMatchObject({ client: `127.0.0.2:${t.localPort}`, reason: "client-closed" });
  });

  for (const version of ["v1", "v2"] as const) {
    test(`sluice send_proxy ${version} in front of HAProxy accept-proxy: HAProxy passes on the client sluice saw`, async () => {
      using r = recorder();
      const [port, admin, front] = [freePort(), freePort(), freePort()];
      // HAProxy re-sends, as v1, the addresses it read from sluice's header.
      await using _h = await haproxy(
        `${haproxyDefaults}frontend f\n  bind 127.0.0.1:${front} accept-proxy\n  default_backend b\nbackend b\n  server s 127.0.0.1:${r.port} send-proxy\n`,
        front,
      );
      await using sl = await startSluice(head(admin) + appToml("a", [port], [`127.0.0.1:${front}`], `send_proxy = "${version}"`), {
        adminPort: admin,
      });
      const t = await client(port);
      await send(t, ["via sluice"]);
      expect(await withTimeout(t.result, 5000, "the reply")).toBe("ok");
      const conn = r.conns.find((c) => c.bytes().includes("via sluice"))!;
      expect(conn.bytes().toString("latin1")).toBe(`PROXY TCP4 127.0.0.2 127.0.0.1 ${t.localPort} ${port}\r\nvia sluice`);
    });
  }
});
