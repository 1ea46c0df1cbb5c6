import { describe, expect, test } from "bun:test";
import { encode, judge } from "../../src/ops/request-head.ts";

describe("judge: one request head", () => {
  const rows: [head: string, kind: "relay" | "route" | "refuse", detail?: number | string][] = [
    ["GET /healthz HTTP/1.1\r\nHost: x", "relay", 0],
    ["GET /healthz HTTP/1.0", "relay", 0],
    ["HEAD /status HTTP/1.1\r\nHost: x", "relay", 0],
    ["POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 12", "relay", 12],
    ["POST /upgrade HTTP/1.1\r\ncontent-length:  7 \r\nContent-Length: 7", "relay", 7],
    ["BREW /healthz HTTP/1.1", "route", "BREW"],
    ["FOO / HTTP/1.0", "route", "FOO"],
    ["DELETE /reload HTTP/1.1\r\nHost: x", "route", "DELETE"],
    ["get /healthz HTTP/1.1", "route", "get"],
    ["M-SEARCH * HTTP/1.1", "route", "M-SEARCH"],
    ["GET /healthz", "refuse", 400],
    ["GET /healthz HTTP/9.9", "refuse", 400],
    ["GET /healthz HTTP/2.0", "refuse", 400],
    ["GET /healthz http/1.1", "refuse", 400],
    ["GET /healthz HTTP/1.1 extra", "refuse", 400],
    ["GET  /healthz HTTP/1.1", "refuse", 400],
    ["G\x00T / HTTP/1.1", "refuse", 400],
    ["G(T / HTTP/1.1", "refuse", 400],
    [" / HTTP/1.1", "refuse", 400],
    ["GET /a\x01b HTTP/1.1", "refuse", 400],
    ["GET /healthz HTTP/1.1\n", "refuse", 400],
    ["", "refuse", 400],
    ["\x16\x03\x01\x02\x00\x01", "refuse", 400],
    ["POST /reload HTTP/1.1\r\nTransfer-Encoding: chunked", "refuse", 400],
    ["POST /reload HTTP/1.1\r\nContent-Length: 5\r\nContent-Length: 6", "refuse", 400],
    ["POST /reload HTTP/1.1\r\nContent-Length: -1", "refuse", 400],
    ["POST /reload HTTP/1.1\r\nContent-Length: 1e3", "refuse", 400],
  ];
  test.each(rows)("%j → %s", (head, kind, detail) => {
    const v = judge(head);
    expect(v.kind).toBe(kind);
    if (v.kind === "relay") expect(v.bodyLength).toBe(detail as number);
    if (v.kind === "route") expect(v.method).toBe(detail as string);
    if (v.kind === "refuse") expect(v.status).toBe(detail as 400);
  });
});

test("encode writes a complete response that closes the connection", () => {
  const text = Buffer.from(encode({ status: 405, headers: { allow: "GET, HEAD, POST" }, body: "method not allowed\n" })).toString();
  expect(text).toBe("HTTP/1.1 405 Method Not Allowed\r\nallow: GET, HEAD, POST\r\ncontent-length: 19\r\nconnection: close\r\n\r\nmethod not allowed\n");
});
