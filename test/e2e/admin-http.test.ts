/**
 * The admin API answers odd but real requests without a 5xx and never closes
 * without an answer: HTTP/1.0 without Host (HAProxy's httpchk), CONNECT,
 * absolute-form targets, unknown methods and versions, pipelining.
 * docs/ADMIN-HTTP.md records what answers what (the port's guard, or
 * Bun.serve behind it).
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { deadPort, freePort } from "../helpers/net.ts";
import { rawRequest } from "../helpers/raw-http.ts";
import { appToml, startSluice, type Sluice } from "../helpers/sluice.ts";

let sl: Sluice;
let admin = 0;

beforeAll(async () => {
  admin = freePort();
  sl = await startSluice(
    `bind = "127.0.0.1"\n[health]\ninterval = "1h"\n[admin]\nlisten = "127.0.0.1:${admin}"\n` + appToml("web", [freePort()], [`127.0.0.1:${deadPort()}`]),
    { adminPort: admin },
  );
});

afterAll(async () => {
  await sl?.[Symbol.asyncDispose]();
});

/** one sends a single raw request, half-closes and returns the one reply's status, headers and body. */
async function one(request: string) {
  const r = await rawRequest(admin, request);
  expect(r.timedOut).toBe(false);
  expect(r.statuses).toHaveLength(1);
  const text = r.bytes.toString("latin1");
  const [head = "", body = ""] = text.split("\r\n\r\n", 2);
  return { status: r.statuses[0], head: head.toLowerCase(), body };
}

describe("admin answers what Bun.serve hands it without a 5xx", () => {
  // [name, raw request, status, text the body must contain]
  const rows: [string, string, number, string?][] = [
    ["HTTP/1.0 without Host (HAProxy httpchk)", "GET /healthz HTTP/1.0\r\n\r\n", 200, "ok"],
    ["HTTP/1.0 with Host", "GET /healthz HTTP/1.0\r\nHost: x\r\n\r\n", 200, "ok"],
    ["HTTP/1.0 /status without Host", "GET /status HTTP/1.0\r\n\r\n", 200, `"draining":false`],
    ["query string without Host", "GET /healthz?full=1 HTTP/1.0\r\n\r\n", 200, "ok"],
    ["absolute-form target", "GET http://example.invalid/healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200, "ok"],
    ["absolute-form target without Host", "GET http://example.invalid/metrics HTTP/1.0\r\n\r\n", 200, "sluice_draining 0"],
    ["a Host that is not a host", "GET /healthz HTTP/1.1\r\nHost: a b\r\n\r\n", 200, "ok"],
    ["a Host with an open bracket", "GET /healthz HTTP/1.1\r\nHost: [::1\r\n\r\n", 200, "ok"],
    ["an empty Host", "GET /healthz HTTP/1.1\r\nHost:\r\n\r\n", 200, "ok"],
    ["CONNECT with Host", "CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", 405],
    ["CONNECT without Host", "CONNECT 127.0.0.1:80 HTTP/1.0\r\n\r\n", 405],
    ["POST", "POST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 2\r\n\r\nhi", 405],
    ["TRACE", "TRACE / HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["unknown path", "GET /nope HTTP/1.1\r\nHost: x\r\n\r\n", 404],
    ["unknown path without Host", "GET /nope HTTP/1.0\r\n\r\n", 404],
    ["OPTIONS * (a method no route takes)", "OPTIONS * HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["no version", "GET /healthz\r\n\r\n", 400, "bad request"],
    ["an unknown version", "GET /healthz HTTP/9.9\r\nHost: x\r\n\r\n", 400, "unsupported version"],
    ["HTTP/2.0 on an HTTP/1 connection", "GET /healthz HTTP/2.0\r\n\r\n", 400, "unsupported version"],
    ["an unknown method on a known path", "BREW /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["an unknown method, HTTP/1.0", "FOO / HTTP/1.0\r\n\r\n", 405],
    ["a lowercase method", "get /healthz HTTP/1.1\r\nHost: x\r\n\r\n", 405],
    ["a bare LF", "GET /healthz HTTP/1.1\nHost: x\n\n", 400],
    ["HTTP/1.1 without Host (Bun's parser)", "GET /healthz HTTP/1.1\r\n\r\n", 400],
  ];
  for (const [name, request, status, contains] of rows) {
    test(name, async () => {
      const r = await one(request);
      expect(r.status).toBe(status);
      if (status === 405) expect(r.head).toContain("allow: get, head");
      if (contains !== undefined) expect(r.body).toContain(contains);
    });
  }

  test("an unknown method names every method the API takes; a known path's own Allow otherwise", async () => {
    expect((await one("FOO / HTTP/1.0\r\n\r\n")).head).toContain("allow: get, head, post");
    expect((await one("DELETE /reload HTTP/1.1\r\nHost: x\r\n\r\n")).head).toContain("allow: post");
  });

  test("pipelined requests are each checked: the replies before a bad one come first, then its answer, then a clean close", async () => {
    const r = await rawRequest(
      admin,
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /status HTTP/1.1\r\nHost: x\r\n\r\nBREW /healthz HTTP/1.1\r\nHost: x\r\n\r\nGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
      { after: "keep", timeoutMs: 5000 },
    );
    expect([r.statuses, r.timedOut, r.error]).toEqual([[200, 200, 405], false, undefined]);
  });

  test("keep-alive: one connection, several good requests with bodies, all answered", async () => {
    const r = await rawRequest(
      admin,
      "GET /healthz HTTP/1.1\r\nHost: x\r\n\r\nPOST /healthz HTTP/1.1\r\nHost: x\r\nContent-Length: 3\r\n\r\nabcGET /healthz HTTP/1.1\r\nHost: x\r\n\r\n",
    );
    expect([r.statuses, r.timedOut]).toEqual([[200, 405, 200], false]);
  });

  test("a head cut short by the client's FIN, or a body shorter than its Content-Length, gets 400, not a silent close", async () => {
    expect((await rawRequest(admin, "GET /heal")).statuses).toEqual([400]);
    expect((await rawRequest(admin, "POST /reload HTTP/1.1\r\nHost: x\r\nContent-Length: 50\r\n\r\nshort")).statuses.at(-1)).toBe(400);
  });

  test("a head left incomplete for 10 s gets 408, then a clean close", async () => {
    const t0 = performance.now();
    const r = await rawRequest(admin, "GET /healthz HTTP/1.1\r\nHo", { after: "keep", timeoutMs: 15_000 });
    expect([r.statuses, r.timedOut, r.error]).toEqual([[408], false, undefined]);
    expect(performance.now() - t0).toBeGreaterThan(9_000);
  }, 20_000);

  test("HEAD /healthz without Host answers 200 with no body", async () => {
    const r = await one("HEAD /healthz HTTP/1.0\r\n\r\n");
    expect(r.status).toBe(200);
    expect(r.body).toBe("");
  });

  test("none of it was logged as a failure to answer", () => {
    expect(sl.output()).not.toContain("cannot answer");
    expect(sl.output()).not.toMatch(/^\s+at /m);
  });
});
