import { describe, expect, test } from "bun:test";
import { printable, ReplyMatcher } from "../../../src/upstream/health/reply.ts";

const bytes = (s: string) => Buffer.from(s, "latin1");

/** feedAll feeds `chunks` in order and returns every result, up to and including the first verdict. */
function feedAll(expectText: string, chunks: string[]): (string | null | undefined)[] {
  const m = new ReplyMatcher(bytes(expectText));
  const out: (string | null | undefined)[] = [];
  for (const c of chunks) {
    const r = m.feed(bytes(c));
    out.push(r);
    if (r !== undefined) break;
  }
  return out;
}

describe("ReplyMatcher.feed", () => {
  const rows: [name: string, expect: string, chunks: string[], results: (string | null | undefined)[]][] = [
    ["exact match", "+PONG\r\n", ["+PONG\r\n"], [null]],
    ["prefix match, the rest ignored", "+PONG", ["+PONG\r\n"], [null]],
    ["banner prefix", "SSH-", ["SSH-2.0-OpenSSH_9.6\r\n"], [null]],
    ["one byte per read", "+PONG", ["+", "P", "O", "N", "G"], [undefined, undefined, undefined, undefined, null]],
    ["split mid-way, passes on the chunk that completes it", "220 ", ["2", "20 mail ESMTP"], [undefined, null]],
    ["an empty chunk changes nothing", "+OK", ["+", "", "OK"], [undefined, undefined, null]],
    ["mismatch at the first byte", "+PONG", ["-ERR unknown command 'PING'\r\n"], [`unexpected reply "-ERR unknown command 'PING'\\r\\n"`]],
    ["mismatch after a matching prefix in an earlier read", "+PONG", ["+P", "ANG"], [undefined, `unexpected reply "+PANG"`]],
    ["mismatch inside one chunk", "HTTP/1.1 200", ["HTTP/1.1 404 Not Found\r\n"], [`unexpected reply "HTTP/1.1 404 Not Found\\r\\n"`]],
    [
      "a long reply is cut at 32 bytes",
      "220",
      ["554 5.7.1 this server does not accept your mail, go away"],
      [`unexpected reply "554 5.7.1 this server does not a…"`],
    ],
    ["binary bytes are escaped", "\x00\x01", ["\x00\xff\"\\"], [`unexpected reply "\\0\\xff\\x22\\\\"`]],
  ];
  for (const [name, exp, chunks, results] of rows) {
    test(name, () => {
      expect(feedAll(exp, chunks)).toEqual(results);
    });
  }

  test("a reply that matches a long expect only so far is quoted from its start, cut at 32 bytes", () => {
    const m = new ReplyMatcher(bytes("x".repeat(40)));
    expect(m.feed(bytes("x".repeat(35)))).toBeUndefined();
    expect(m.feed(bytes("y"))).toBe(`unexpected reply "${"x".repeat(32)}…"`);
  });
});

describe("ReplyMatcher ended and timedOut", () => {
  test("before any byte", () => {
    const m = new ReplyMatcher(bytes("+PONG"));
    expect(m.ended()).toBe("closed without a reply");
    expect(m.timedOut(250)).toBe("no reply within 250ms");
  });

  test("after part of the reply", () => {
    const m = new ReplyMatcher(bytes("+PONG"));
    m.feed(bytes("+PO"));
    expect(m.ended()).toBe(`reply "+PO" cut short`);
    expect(m.timedOut(250)).toBe(`incomplete reply "+PO" within 250ms`);
  });
});

describe("printable", () => {
  test("printable ASCII stays, everything else becomes an escape the config accepts", () => {
    expect(printable(bytes("PING\r\n\t\0 ~\\\"\x7f\x80"))).toBe(`PING\\r\\n\\t\\0 ~\\\\\\x22\\x7f\\x80`);
  });
});
