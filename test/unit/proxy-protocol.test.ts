/** PROXY protocol v1 and v2: exact bytes written, parsing whole and split, and what is refused. */
import { describe, expect, test } from "bun:test";
import { parseProxyHeader, proxyV1, proxyV2, V1_MAX, V2_MAX, V2_SIGNATURE } from "../../src/net/proxy-protocol.ts";

const ends = (src: string, sport: number, dst: string, dport: number) => ({
  source: { address: src, port: sport },
  destination: { address: dst, port: dport },
});
const text = (b: Uint8Array) => new TextDecoder().decode(b);
const hex = (b: Uint8Array) => Buffer.from(b).toString("hex");

describe("writing", () => {
  test("v1 TCP4, TCP6, mapped IPv4 as TCP4, mixed as TCP6, unreadable as UNKNOWN", () => {
    expect(text(proxyV1(ends("127.0.0.2", 51000, "127.0.0.1", 5001)))).toBe("PROXY TCP4 127.0.0.2 127.0.0.1 51000 5001\r\n");
    expect(text(proxyV1(ends("::1", 40000, "::1", 5001)))).toBe("PROXY TCP6 ::1 ::1 40000 5001\r\n");
    expect(text(proxyV1(ends("::ffff:127.0.0.2", 1, "::ffff:127.0.0.1", 2)))).toBe("PROXY TCP4 127.0.0.2 127.0.0.1 1 2\r\n");
    expect(text(proxyV1(ends("127.0.0.2", 1, "::1", 2)))).toBe("PROXY TCP6 ::ffff:7f00:2 ::1 1 2\r\n");
    expect(text(proxyV1(ends("nonsense", 1, "::1", 2)))).toBe("PROXY UNKNOWN\r\n");
  });

  test("v1 lines stay within 107 bytes at their longest", () => {
    const longest = "ffff:ffff:ffff:ffff:ffff:ffff:ffff:ffff";
    expect(proxyV1(ends(longest, 65535, longest, 65535)).length).toBe(104);
    expect(proxyV1(ends(longest, 65535, longest, 65535)).length).toBeLessThanOrEqual(V1_MAX);
  });

  test("v2 TCP4 bytes, field by field", () => {
    const b = proxyV2(ends("127.0.0.2", 0x1234, "127.0.0.1", 5001));
    expect(hex(b)).toBe(
      hex(V2_SIGNATURE) + "21" + "11" + "000c" + "7f000002" + "7f000001" + "1234" + (5001).toString(16).padStart(4, "0"),
    );
  });

  test("v2 TCP6 and LOCAL", () => {
    const b = proxyV2(ends("::1", 1, "2001:db8::2", 2));
    expect(b.length).toBe(52);
    expect(hex(b.subarray(12, 16))).toBe("21210024");
    expect(hex(b.subarray(16, 32))).toBe("00000000000000000000000000000001");
    expect(hex(b.subarray(32, 48))).toBe("20010db8000000000000000000000002");
    expect(hex(b.subarray(48))).toBe("00010002");
    expect(hex(proxyV2(undefined))).toBe(hex(V2_SIGNATURE) + "20000000");
  });
});

describe("parsing", () => {
  const roundTrips: [string, ReturnType<typeof ends>][] = [
    ["IPv4", ends("127.0.0.2", 51000, "127.0.0.1", 5001)],
    ["IPv6", ends("2001:db8::1", 1, "::1", 65535)],
  ];
  for (const [name, e] of roundTrips) {
    for (const [v, write] of [[1, proxyV1], [2, proxyV2]] as const) {
      test(`v${v} ${name} round trip, fed whole and split at every byte`, () => {
        const header = write(e);
        const withData = new Uint8Array([...header, ...new TextEncoder().encode("GET / HTTP/1.1\r\n")]);
        const whole = parseProxyHeader(withData);
        expect(whole).toEqual({ kind: "ok", version: v, length: header.length, source: e.source, destination: e.destination });
        for (let i = 0; i < header.length; i++) expect(parseProxyHeader(header.subarray(0, i)).kind).toBe("incomplete");
      });
    }
  }

  test("v1 UNKNOWN (with or without the rest of a line) carries no address", () => {
    expect(parseProxyHeader(new TextEncoder().encode("PROXY UNKNOWN\r\n"))).toEqual({ kind: "ok", version: 1, length: 15 });
    const long = new TextEncoder().encode("PROXY UNKNOWN ffff::1 ffff::2 1 2\r\n");
    expect(parseProxyHeader(long)).toEqual({ kind: "ok", version: 1, length: long.length });
  });

  test("v2 LOCAL, UNSPEC and UNIX carry no address; TLVs are skipped", () => {
    expect(parseProxyHeader(proxyV2(undefined))).toEqual({ kind: "ok", version: 2, length: 16 });
    const unix = new Uint8Array(16 + 216);
    unix.set(V2_SIGNATURE);
    unix.set([0x21, 0x31, 0, 216], 12);
    expect(parseProxyHeader(unix)).toEqual({ kind: "ok", version: 2, length: 232 });
    const base = proxyV2(ends("127.0.0.2", 1, "127.0.0.1", 2));
    const tlvs = [0x04, 0x00, 0x03, 0x61, 0x62, 0x63, 0xea, 0x00, 0x00];
    const withTlv = new Uint8Array([...base, ...tlvs]);
    withTlv[15] = 12 + tlvs.length;
    expect(parseProxyHeader(withTlv)).toMatchObject({ kind: "ok", length: base.length + tlvs.length, source: { address: "127.0.0.2", port: 1 } });
  });

  test("v2 LOCAL ignores its family and address block, as the spec says, even a short or unknown one", () => {
    const local = (fam: number, len: number) => {
      const b = new Uint8Array(16 + len);
      b.set(V2_SIGNATURE);
      b.set([0x20, fam, len >> 8, len & 0xff], 12);
      return b;
    };
    expect(parseProxyHeader(local(0x11, 12))).toEqual({ kind: "ok", version: 2, length: 28 });
    expect(parseProxyHeader(local(0x21, 0))).toEqual({ kind: "ok", version: 2, length: 16 });
    expect(parseProxyHeader(local(0x51, 4))).toEqual({ kind: "ok", version: 2, length: 20 });
    expect(parseProxyHeader(local(0x11, 12).subarray(0, 20))).toEqual({ kind: "incomplete" });
  });

  const bad: [string, Uint8Array | string, string][] = [
    ["plain data", "GET / HTTP/1.1\r\n", "no PROXY"],
    ["a near-miss prefix", "PROXZ TCP4", "no PROXY"],
    ["v1 without CRLF in 107 bytes", "PROXY TCP4 " + "1".repeat(120), "longer than 107"],
    ["v1 bad family", "PROXY UDP4 1.2.3.4 1.2.3.4 1 2\r\n", "malformed"],
    ["v1 v6 address under TCP4", "PROXY TCP4 ::1 ::1 1 2\r\n", "malformed"],
    ["v1 octet over 255", "PROXY TCP4 1.2.3.256 1.2.3.4 1 2\r\n", "malformed"],
    ["v1 port over 65535", "PROXY TCP4 1.2.3.4 1.2.3.4 65536 2\r\n", "ports"],
    ["v1 leading zero port", "PROXY TCP4 1.2.3.4 1.2.3.4 01 2\r\n", "ports"],
    ["v1 missing field", "PROXY TCP4 1.2.3.4 1.2.3.4 1\r\n", "malformed"],
    ["v1 double space", "PROXY TCP4  1.2.3.4 1.2.3.4 1 2\r\n", "malformed"],
    ["v1 control byte", "PROXY TCP4 1.2.3.4\t1.2.3.4 1 2\r\n", "printable"],
    ["v2 broken signature", new Uint8Array([0x0d, 0x0a, 0x0d, 0x0a, 0x00, 0x0d, 0x0a, 0x51, 0x55, 0x49, 0x54, 0x0b]), "no PROXY"],
  ];
  for (const [name, input, why] of bad) {
    test(`refused: ${name}`, () => {
      const r = parseProxyHeader(typeof input === "string" ? new TextEncoder().encode(input) : input);
      expect(r.kind).toBe("invalid");
      expect((r as { reason: string }).reason).toContain(why);
    });
  }

  test("refused: v2 version 1, command 2, family 4, a short address block, and an oversize length", () => {
    const head = (verCmd: number, fam: number, len: number) => {
      const b = new Uint8Array(16);
      b.set(V2_SIGNATURE);
      b.set([verCmd, fam, len >> 8, len & 0xff], 12);
      return b;
    };
    expect(parseProxyHeader(head(0x11, 0x11, 12))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("version 1") });
    expect(parseProxyHeader(head(0x22, 0x11, 12))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("command 2") });
    expect(parseProxyHeader(head(0x21, 0x41, 12))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("family") });
    expect(parseProxyHeader(head(0x21, 0x21, 12))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("needs 36") });
    expect(parseProxyHeader(head(0x21, 0x11, V2_MAX))).toMatchObject({ kind: "invalid", reason: expect.stringContaining("at most") });
  });
});
