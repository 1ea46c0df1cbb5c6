/** Reading the server name from a ClientHello, whole, split and spread over records; and route patterns. */
import { describe, expect, test } from "bun:test";
import { connect as tlsConnect } from "node:tls";
import { MAX_HELLO, readHello, sniMatches } from "../../src/net/sni.ts";
import { clientHello } from "../helpers/tls-hello.ts";

describe("readHello", () => {
  test("finds the name, lower-cased without a trailing dot", () => {
    expect(readHello(clientHello({ sni: "Example.COM." }))).toEqual({ kind: "ok", serverName: "example.com" });
  });

  test("no server_name extension, and no extensions at all", () => {
    expect(readHello(clientHello({ filler: [3] }))).toEqual({ kind: "ok", serverName: undefined });
    expect(readHello(clientHello())).toEqual({ kind: "ok", serverName: undefined });
  });

  test("incomplete at every prefix, then found, for one record and for 7-byte records", () => {
    for (const recordSize of [undefined, 7]) {
      const hello = clientHello({ sni: "a.example.org", filler: [40, 0, 5], recordSize });
      for (let i = 0; i < hello.length; i++) expect(readHello(hello.subarray(0, i)).kind).toBe("incomplete");
      expect(readHello(hello)).toEqual({ kind: "ok", serverName: "a.example.org" });
    }
  });

  test("bytes after the ClientHello do not matter", () => {
    const hello = clientHello({ sni: "x.test" });
    expect(readHello(new Uint8Array([...hello, 0x17, 0x03, 0x03, 0, 1, 0]))).toEqual({ kind: "ok", serverName: "x.test" });
  });

  test("a name behind 15 KB of other extensions is still found; past 16 KiB is refused", () => {
    expect(readHello(clientHello({ sni: "deep.test", filler: [15_000] }))).toEqual({ kind: "ok", serverName: "deep.test" });
    const huge = clientHello({ sni: "far.test", filler: [MAX_HELLO] });
    expect(readHello(huge).kind).toBe("invalid");
  });

  test.each([
    ["HTTP", new TextEncoder().encode("GET / HTTP/1.1\r\n\r\n"), "not a TLS"],
    ["SSLv2-style hello", new Uint8Array([0x80, 0x2e, 0x01, 0x03, 0x01]), "not a TLS"],
    ["an alert record", new Uint8Array([0x15, 0x03, 0x03, 0x00, 0x02, 0x02, 0x28]), "not a TLS"],
    ["record version 2.0", new Uint8Array([0x16, 0x02, 0x00, 0x00, 0x05]), "not a TLS"],
    ["a ServerHello", new Uint8Array([0x16, 0x03, 0x03, 0x00, 0x04, 0x02, 0x00, 0x00, 0x00]), "not a ClientHello"],
    ["an empty record", new Uint8Array([0x16, 0x03, 0x01, 0x00, 0x00]), "record of 0"],
    ["a name that is not a host name", clientHello({ sni: "a b" }), "not a host name"],
  ])("refused: %s", (_, bytes, why) => {
    const r = readHello(bytes);
    expect(r.kind).toBe("invalid");
    expect((r as { reason: string }).reason).toContain(why);
  });

  test("a real TLS client's ClientHello (node:tls) names its servername", async () => {
    const { promise, resolve } = Promise.withResolvers<Uint8Array>();
    let got = new Uint8Array(0);
    const server = Bun.listen({
      hostname: "127.0.0.1",
      port: 0,
      socket: {
        data(s, d) {
          got = new Uint8Array([...got, ...d]);
          if (readHello(got).kind !== "incomplete") {
            resolve(got);
            s.end();
          }
        },
      },
    });
    const client = tlsConnect({ host: "127.0.0.1", port: server.port, servername: "real.example.net", rejectUnauthorized: false });
    client.on("error", () => {});
    try {
      expect(readHello(await promise)).toEqual({ kind: "ok", serverName: "real.example.net" });
    } finally {
      client.destroy();
      server.stop(true);
    }
  });
});

describe("sniMatches", () => {
  test.each([
    ["example.com", "example.com", true],
    ["Example.com.", "example.com", true],
    ["example.com", "www.example.com", false],
    ["*.example.org", "a.example.org", true],
    ["*.example.org", "example.org", false],
    ["*.example.org", "a.b.example.org", false],
    ["*.example.org", "aexample.org", false],
    ["*.EXAMPLE.org", "x.example.org", true],
  ])("%s vs %s: %p", (pattern, name, want) => {
    expect(sniMatches(pattern, name)).toBe(want);
  });
});
