import { describe, expect, test } from "bun:test";
import { isIPv6 as nodeIsIPv6 } from "node:net";
import { formatEndpoint, isIPv6, isPort, parseEndpoint } from "../../src/net/target.ts";

const LABEL63 = "a".repeat(63);
const LABEL64 = "a".repeat(64);
/** 4 labels of 63 and a dot between each: 255 characters, past the 253 limit. */
const LONG_NAME = [LABEL63, LABEL63, LABEL63, LABEL63].join(".");
/** 3 labels of 63 plus one of 61: exactly 253 characters. */
const NAME_253 = [LABEL63, LABEL63, LABEL63, "b".repeat(61)].join(".");

describe("parseEndpoint accepts", () => {
  const valid: [text: string, host: string, port: number, address: string][] = [
    ["127.0.0.1:9001", "127.0.0.1", 9001, "127.0.0.1:9001"],
    ["localhost:9002", "localhost", 9002, "localhost:9002"],
    ["example.com:443", "example.com", 443, "example.com:443"],
    ["example.com.:443", "example.com.", 443, "example.com.:443"],
    ["my-host_1.internal:1", "my-host_1.internal", 1, "my-host_1.internal:1"],
    ["h:65535", "h", 65535, "h:65535"],
    ["1.2.3.4:080", "1.2.3.4", 80, "1.2.3.4:80"], // leading zeros: canonical address drops them
    ["[::1]:80", "::1", 80, "[::1]:80"],
    ["[2001:db8::2]:5432", "2001:db8::2", 5432, "[2001:db8::2]:5432"],
    ["[::ffff:127.0.0.1]:8080", "::ffff:127.0.0.1", 8080, "[::ffff:127.0.0.1]:8080"],
    ["[fe80::1%eth0]:22", "fe80::1%eth0", 22, "[fe80::1%eth0]:22"],
    [`${LABEL63}.com:80`, `${LABEL63}.com`, 80, `${LABEL63}.com:80`],
    [`${NAME_253}:80`, NAME_253, 80, `${NAME_253}:80`],
  ];
  for (const [text, host, port, address] of valid) {
    test(JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}…(${text.length})` : text), () => {
      expect(parseEndpoint(text)).toEqual({ host, port, address });
    });
  }
});

describe("parseEndpoint rejects", () => {
  const invalid: [text: string, why: string][] = [
    ["", "empty"],
    ["localhost", "no port"],
    ["localhost:", "empty port"],
    [":80", "empty host"],
    ["host:0", "port 0"],
    ["host:65536", "port above 65535"],
    ["host:99999", "five digits above 65535"],
    ["host:123456", "six digits"],
    ["host:-1", "negative port"],
    ["host:+80", "signed port"],
    ["host: 80", "space before port"],
    ["host:80 ", "space after port"],
    ["host:8o", "letter in port"],
    ["host:1e3", "exponent port"],
    ["host:0x50", "hex port"],
    ["ho st:80", "space in host"],
    ["-host:80", "leading hyphen"],
    ["a..b:80", "empty label"],
    [".host:80", "leading dot"],
    ["host/x:80", "slash in host"],
    [`${LABEL64}.com:80`, "label of 64"],
    [`${LONG_NAME}:80`, "name longer than 253"],
    ["::1:80", "bare IPv6"],
    ["host:80:90", "two ports"],
    ["[::1]", "bracketed without port"],
    ["[::1]:", "bracketed, empty port"],
    ["[::1]80", "no colon after bracket"],
    ["[::1:80", "unclosed bracket"],
    ["[::1]]:80", "doubled bracket"],
    ["[::1]:80]", "junk after port"],
    ["[]:80", "empty brackets"],
    ["[127.0.0.1]:80", "IPv4 in brackets"],
    ["[localhost]:80", "name in brackets"],
    ["[::g]:80", "non-hex in IPv6"],
    ["[::1]:0", "bracketed, port 0"],
    ["[::1]:65536", "bracketed, port too big"],
  ];
  for (const [text, why] of invalid) {
    test(`${why}: ${JSON.stringify(text.length > 40 ? `${text.slice(0, 20)}…(${text.length})` : text)}`, () => {
      const r = parseEndpoint(text);
      // a reason comes back as a string, to which callers add their key path
      expect(typeof r).toBe("string");
      expect((r as string).length).toBeGreaterThan(0);
    });
  }
});

describe("formatEndpoint", () => {
  const rows: [host: string, port: number, text: string][] = [
    ["127.0.0.1", 9001, "127.0.0.1:9001"],
    ["localhost", 1, "localhost:1"],
    ["::1", 80, "[::1]:80"],
    ["2001:db8::2", 65535, "[2001:db8::2]:65535"],
    ["fe80::1%eth0", 22, "[fe80::1%eth0]:22"],
  ];
  for (const [host, port, text] of rows) {
    test(`${host} ${port} is ${text}`, () => {
      expect(formatEndpoint(host, port)).toBe(text);
    });
  }

  test("is the inverse of parseEndpoint", () => {
    for (const [host, port, text] of rows) expect(parseEndpoint(text)).toEqual({ host, port, address: text });
  });
});

describe("isPort", () => {
  const rows: [value: unknown, ok: boolean][] = [
    [1, true],
    [80, true],
    [65535, true],
    [0, false],
    [65536, false],
    [-1, false],
    [80.5, false],
    [Number.NaN, false],
    [Number.POSITIVE_INFINITY, false],
    ["80", false],
    [null, false],
    [undefined, false],
  ];
  for (const [value, ok] of rows) {
    test(`${typeof value === "string" ? JSON.stringify(value) : String(value)} is ${ok ? "" : "not "}a port`, () => {
      expect(isPort(value)).toBe(ok);
    });
  }
});

describe("parseEndpoint rejects malformed IPv6", () => {
  // A character-class check would let these through and fail only at dial time.
  for (const text of ["[:]:80", "[:::::]:80", "[1:2]:80", "[1.2.3.4:]:80"]) {
    test(`${JSON.stringify(text)} is rejected`, () => {
      expect(typeof parseEndpoint(text)).toBe("string");
    });
  }
});

describe("isIPv6 agrees with node:net", () => {
  const cases = ["::", "::1", "1::", "1:2:3:4:5:6:7:8", "1:2:3:4:5:6:7:8:9", "1:2:3:4:5:6:7", "::ffff:127.0.0.1", "::ffff:256.0.0.1", "1::2::3", ":1::", "1:::2", "fe80::1", "12345::1", "g::1", ":", ":::", ":::::", "1:2", "1.2.3.4:", "1:2:3:4:5:6:1.2.3.4", "1:2:3:4:5:6:7:1.2.3.4", "::1.2.3.4", "1.2.3.4", "", "::1:", "1::2:3:4:5:6:7", "1::2:3:4:5:6:7:8", "0:0:0:0:0:0:0:0", "::1.2.3.4:5", "1.2.3.4::1.2.3.4", "1.2.3.4::"];
  for (const c of cases) {
    test(JSON.stringify(c), () => expect(isIPv6(c)).toBe(nodeIsIPv6(c)));
  }
});
