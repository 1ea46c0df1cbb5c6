/**
 * TLS passthrough routing through the compiled binary: real TLS clients
 * (node:tls) reach the TLS backend their server name routes to, sluice never
 * terminating TLS; the ClientHello arrives unchanged however it was split; a
 * client sluice cannot route is closed with reason `no-target`.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { mkdtempSync, readFileSync, rmSync } from "node:fs";
import { connect as netConnect, type Socket as NetSocket } from "node:net";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { connect as tlsConnect } from "node:tls";
import type { Socket, TCPSocketListener } from "bun";
import { backend, freePort, withTimeout, type Backend } from "../helpers/net.ts";
import { poll, startSluice, type Sluice } from "../helpers/sluice.ts";
import { clientHello } from "../helpers/tls-hello.ts";

const OPENSSL = Bun.which("openssl");
if (OPENSSL === null) console.warn("sni.test.ts: openssl is not installed; skipping the tests with real TLS (they need a self-signed certificate)");

let dir = "";
let tlsFiles: { key: string; cert: string } | undefined;
beforeAll(() => {
  if (OPENSSL === null) return;
  dir = mkdtempSync(join(tmpdir(), "sluice-sni-"));
  const r = Bun.spawnSync(
    ["openssl", "req", "-x509", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=test", "-days", "1", "-keyout", join(dir, "key.pem"), "-out", join(dir, "cert.pem")],
    { stdout: "ignore", stderr: "pipe" },
  );
  if (r.exitCode !== 0) throw new Error(`openssl req failed: ${r.stderr.toString()}`);
  tlsFiles = { key: readFileSync(join(dir, "key.pem"), "utf8"), cert: readFileSync(join(dir, "cert.pem"), "utf8") };
});
afterAll(() => {
  if (dir !== "") rmSync(dir, { recursive: true, force: true });
});

/** tlsBackend terminates TLS and answers the client's first bytes with `<name>:<bytes>`, then closes. */
function tlsBackend(name: string): TCPSocketListener<unknown> {
  return Bun.listen<unknown>({
    hostname: "127.0.0.1",
    port: 0,
    tls: tlsFiles!,
    socket: {
      data(s, d) {
        s.write(`${name}:${d.toString()}`);
        s.end();
      },
      error() {},
    },
  });
}

/** tlsClient does a TLS handshake through `port` with `servername` ("" sends none), writes "hi" and resolves with the reply, or "closed" when the connection ends without one. */
function tlsClient(port: number, servername: string): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s = tlsConnect({ host: "127.0.0.1", port, servername, rejectUnauthorized: false }, () => s.write("hi"));
    s.on("data", (d) => (got += d.toString()));
    s.on("error", () => {});
    s.on("close", () => resolve(got === "" ? "closed" : got));
  });
}

/** recorder is a plain TCP target that keeps each connection's bytes and answers a FIN with its name and a FIN. */
function recorder(name: string): Backend & { got: Buffer[] } {
  const got: Buffer[] = [];
  const slot = new WeakMap<Socket<unknown>, { i: number; chunks: Buffer[] }>();
  const b = backend({
    open(s) {
      slot.set(s, { i: got.push(Buffer.alloc(0)) - 1, chunks: [] });
    },
    data(s, d) {
      const x = slot.get(s)!;
      x.chunks.push(Buffer.from(d));
      got[x.i] = Buffer.concat(x.chunks);
    },
    end(s) {
      s.write(name);
      s.shutdown();
    },
  });
  return Object.assign(b, { got });
}

/** raw connects with node:net, writes `parts` one write each (a short pause between, so they travel as separate segments), half-closes, and resolves with the reply or "reset". */
function raw(port: number, parts: Uint8Array[], opts: { fin?: boolean } = {}): Promise<string> {
  return new Promise((resolve) => {
    let got = "";
    const s: NetSocket = netConnect({ host: "127.0.0.1", port }, async () => {
      for (const p of parts) {
        await new Promise<void>((r) => s.write(p, () => r()));
        await Bun.sleep(2);
      }
      if (opts.fin !== false) s.end();
    });
    s.on("data", (d) => (got += d.toString("latin1")));
    s.on("error", () => {});
    s.on("close", (hadError) => resolve(hadError ? "reset" : got));
  });
}

/** routesToml: one app on `port` with the two test routes, and fallback targets unless `fallback` is undefined. */
function routesToml(name: string, port: number, t: { a: number; wild: number; fallback?: number }, extra = ""): string {
  const fallback = t.fallback === undefined ? "" : `targets = ["127.0.0.1:${t.fallback}"]\n`;
  return (
    `[[apps]]\nname = "${name}"\nports = [${port}]\n${fallback}${extra}\n` +
    `[[apps.routes]]\nsni = ["a.test"]\ntargets = ["127.0.0.1:${t.a}"]\n` +
    `[[apps.routes]]\nsni = ["*.wild.test"]\ntargets = ["127.0.0.1:${t.wild}"]\n`
  );
}

const head = (admin: number) =>
  `bind = "127.0.0.1"\nwatch = false\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[log]\nformat = "json"\naccess = true\n`;

async function closedBy(sl: Sluice, app: string, reason: string): Promise<number> {
  const text = await (await sl.admin("/metrics")).text();
  const line = text.split("\n").find((l) => l.startsWith(`sluice_downstream_closed_total{app="${app}",reason="${reason}"} `));
  return line === undefined ? NaN : Number(line.slice(line.lastIndexOf(" ") + 1));
}

describe.skipIf(OPENSSL === null)("real TLS clients", () => {
  test("exact name, one-label wildcard, fallback for no match and for no SNI; no match and no fallback closes (no-target)", async () => {
    using a = tlsBackend("A");
    using wild = tlsBackend("W");
    using fb = tlsBackend("F");
    const [port, strict, admin] = [freePort(), freePort(), freePort()];
    await using sl = await startSluice(
      head(admin) +
        routesToml("tls", port, { a: a.port, wild: wild.port, fallback: fb.port }) +
        routesToml("strict", strict, { a: a.port, wild: wild.port }),
      { adminPort: admin },
    );
    const cases: [string, string][] = [
      ["a.test", "A:hi"],
      ["x.wild.test", "W:hi"],
      ["wild.test", "F:hi"], // `*.` needs one more label
      ["x.y.wild.test", "F:hi"], // and only one
      ["b.test", "F:hi"],
      ["", "F:hi"], // no SNI at all
    ];
    for (const [name, want] of cases) expect([name, await withTimeout(tlsClient(port, name), 5000, `a TLS reply for ${name}`)]).toEqual([name, want]);
    expect(await withTimeout(tlsClient(strict, "a.test"), 5000, "a TLS reply")).toBe("A:hi");
    expect(await withTimeout(tlsClient(strict, "x.wild.test"), 5000, "a TLS reply")).toBe("W:hi");
    expect(await withTimeout(tlsClient(strict, "b.test"), 5000, "the unrouted client to be closed")).toBe("closed");
    expect(await withTimeout(tlsClient(strict, ""), 5000, "the client without SNI to be closed")).toBe("closed");
    expect(await closedBy(sl, "strict", "no-target")).toBe(2);
  });
});

describe("ClientHello bytes", () => {
  test("split into many small writes it still routes, and the target reads exactly what the client sent", async () => {
    using a = recorder("A");
    using wild = recorder("W");
    using fb = recorder("F");
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(head(admin) + routesToml("raw", port, { a: a.port, wild: wild.port, fallback: fb.port }), { adminPort: admin });
    // Several records, one with a 3-byte body, and padding before server_name.
    const hello = clientHello({ sni: "x.wild.test", filler: [300, 40], recordSize: 3 });
    const tail = new TextEncoder().encode("after the hello");
    const parts: Uint8Array[] = [];
    for (let i = 0; i < hello.length; i += 7) parts.push(hello.subarray(i, i + 7));
    expect(await withTimeout(raw(port, [...parts, tail]), 5000, "the routed reply")).toBe("W");
    expect(wild.got.filter((b) => b.length > 0)).toEqual([Buffer.concat([hello, tail])]);
    // No SNI: the fallback; in one write, one record.
    const bare = clientHello();
    expect(await withTimeout(raw(port, [bare]), 5000, "the fallback reply")).toBe("F");
    expect(fb.got.filter((b) => b.length > 0)).toEqual([Buffer.from(bare)]);
  });

  test("a real TLS client's ClientHello reaches the target byte for byte", async () => {
    using a = recorder("A");
    using wild = recorder("W");
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(head(admin) + routesToml("raw", port, { a: a.port, wild: wild.port }), { adminPort: admin });
    // A tap between the client and sluice keeps what the client wrote.
    const sent: Buffer[] = [];
    const tap = Bun.listen<{ up?: Socket<unknown>; early: Buffer[] }>({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        open(s) {
          s.data = { early: [] };
          void Bun.connect({ hostname: "127.0.0.1", port, socket: { data() {}, error() {} } }).then((up) => {
            s.data.up = up;
            for (const c of s.data.early) up.write(c);
          });
        },
        data(s, d) {
          sent.push(Buffer.from(d));
          if (s.data.up) s.data.up.write(d);
          else s.data.early.push(Buffer.from(d));
        },
        close(s) {
          s.data.up?.end();
        },
        error() {},
      },
    });
    try {
      const c = tlsConnect({ host: "127.0.0.1", port: tap.port, servername: "a.test", rejectUnauthorized: false });
      c.on("error", () => {});
      await poll(async () => a.got.filter((b) => b.length > 0)[0]?.length ?? 0, (n) => n > 0 && n === Buffer.concat(sent).length, 5000, "the hello at the target");
      const got = a.got.filter((b) => b.length > 0)[0]!;
      expect(got[0]).toBe(0x16);
      expect(got).toEqual(Buffer.concat(sent));
      c.destroy();
    } finally {
      tap.stop(true);
    }
  });

  test("not TLS, a FIN before the hello is complete, or no hello within connect_timeout: closed with reason no-target", async () => {
    using a = recorder("A");
    using wild = recorder("W");
    using fb = recorder("F");
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(
      head(admin) + routesToml("raw", port, { a: a.port, wild: wild.port, fallback: fb.port }, `connect_timeout = "300ms"`),
      { adminPort: admin },
    );
    const hello = clientHello({ sni: "a.test" });
    const cases: [string, Uint8Array[], boolean][] = [
      ["HTTP", [new TextEncoder().encode("GET / HTTP/1.1\r\nHost: a.test\r\n\r\n")], true],
      ["SSLv2-style hello", [new Uint8Array([0x80, 0x2e, 0x01, 0x03, 0x01])], true],
      ["half a hello, then FIN", [hello.subarray(0, 20)], true],
      ["half a hello, then silence", [hello.subarray(0, 20)], false],
      ["nothing", [], false],
    ];
    for (const [what, parts, fin] of cases) {
      expect([what, await withTimeout(raw(port, parts, { fin }), 5000, `${what}: the client to be closed`)]).toEqual([what, "reset"]);
    }
    for (const b of [a, wild, fb]) expect(b.got.filter((x) => x.length > 0)).toEqual([]);
    expect(await closedBy(sl, "raw", "no-target")).toBe(cases.length);
  });

  test("accept_proxy and routes together: the PROXY header is read, then the hello; send_proxy gives the target the original client", async () => {
    using a = recorder("A");
    using wild = recorder("W");
    const [port, admin] = [freePort(), freePort()];
    await using sl = await startSluice(
      head(admin) + routesToml("both", port, { a: a.port, wild: wild.port }, `accept_proxy = true\nsend_proxy = "v1"`),
      { adminPort: admin },
    );
    const proxy = new TextEncoder().encode("PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\n");
    const hello = clientHello({ sni: "a.test", recordSize: 50 });
    const all = new Uint8Array([...proxy, ...hello]);
    const parts: Uint8Array[] = [];
    for (let i = 0; i < all.length; i += 11) parts.push(all.subarray(i, i + 11));
    expect(await withTimeout(raw(port, parts), 5000, "the routed reply")).toBe("A");
    const want = Buffer.concat([Buffer.from("PROXY TCP4 192.0.2.7 198.51.100.1 40001 443\r\n"), Buffer.from(hello)]);
    expect(a.got.filter((b) => b.length > 0)).toEqual([want]);
    await sl.waitForOutput('"msg":"connection"');
    expect(sl.output()).toContain(`"client":"192.0.2.7:40001"`);
  });
});
