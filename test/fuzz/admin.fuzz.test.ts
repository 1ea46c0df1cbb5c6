/**
 * Admin API fuzzing: the compiled binary with an admin listener takes
 * hundreds of raw TCP requests from a fixed seed: malformed request lines,
 * random bytes, HTTP/1.0 with and without Host, CONNECT, OPTIONS, TRACE and
 * unknown methods, absolute-form targets, huge and numerous headers, bodies,
 * pipelining, byte-at-a-time clients and early closes; then the operator's
 * routes (POST /reload, drain, enable) with odd methods and credentials.
 *
 * Every reply is below 500, a request line that is not `METHOD SP target SP
 * HTTP/1.0|HTTP/1.1` included (the admin port's guard answers 400, and 405
 * for a method no route takes: src/ops/admin-guard.ts); every client that
 * sends bytes and waits gets at least one status line, never a silent close.
 * Nothing hangs past a bound, and afterwards the process is alive, /healthz
 * answers 200 and stderr holds no stack trace.
 */
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import { deadPort, freePort } from "../helpers/net.ts";
import { rawRequest, type RawOptions, type RawReply } from "../helpers/raw-http.ts";
import { appToml, startSluice, type Sluice } from "../helpers/sluice.ts";
import { FUZZ_SEED, Rng } from "./prng.ts";

/** Expected is one reply the contract fixes: an exact status (and `Allow` for 405), or "the API's", any status below 500. */
type Expected = { status: 400 } | { status: 405; allow: string } | "api";

interface Case {
  name: string;
  bytes: Buffer;
  opts: RawOptions;
  /** the final statuses that must come back, in order, when the case fixes them (the request-line batch). */
  expect?: Expected[];
  /** some request line is not `token SP target SP HTTP/1.0|1.1 CRLF` (kept for the tally; it changes no verdict). */
  badLine: boolean;
  /** one well-formed GET or HEAD of /healthz: exactly one 200 must come back. */
  control: boolean;
}

// Methods: real ones, ones Bun does not know (it closes without a reply), a lowercase one, a broken token.
const METHODS = ["GET", "GET", "GET", "HEAD", "POST", "PUT", "DELETE", "CONNECT", "OPTIONS", "TRACE", "PATCH", "PROPFIND", "FOO", "BREW", "M-SEARCH", "get", "G\x00T", ""];
const TARGETS = [
  "/healthz", "/healthz", "/status", "/metrics", "/", "/nope", "/healthz?x=1", "/healthz#frag", "*", "http://x/healthz",
  "https://h:1/status?q", "HTTP://X", "127.0.0.1:80", "//x/healthz", "/%00", "/a/../healthz", "/\u00e9t\u00e9", "/a b", "/\x01",
];
const GOOD_VERSIONS = ["HTTP/1.1", "HTTP/1.0"];
const VERSIONS = [...GOOD_VERSIONS, ...GOOD_VERSIONS, "HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/9.9", "http/1.1", "HTTP/1.1 extra", ""];
const HEADERS = ["Host: x", "Host: 127.0.0.1:9900", "Host: a b", "Host: [::1", "Host:", "Connection: close", "Connection: keep-alive", "Expect: 100-continue", "X-Unicode: \u00fcn\u00ef"];
// Header lines Bun's parser rejects with 400 before the handler runs.
const BAD_HEADERS = ["X-Nul: a\x00b", " Leading-Space: x", "NoColon", ": empty-name", "Content-Length: abc"];

/** lineIsGood mirrors what Bun.serve reads as an HTTP/1.x request line (measured, see docs/ADMIN-HTTP.md). */
function lineIsGood(method: string, target: string, version: string, eol: string): boolean {
  return /^[A-Za-z]+$/.test(method) && /^[\x21-\x7e\u0080-\uffff]+$/.test(target) && GOOD_VERSIONS.includes(version) && eol === "\r\n";
}

interface Built {
  text: string;
  badLine: boolean;
  control: boolean;
}

/** request builds one request from the pools, with an optional body that matches its framing or not. */
function request(rng: Rng): Built {
  // Two in three lines are well formed, so most requests reach the handler; the rest break the line somewhere.
  const wellFormed = rng.chance(0.67);
  const method = wellFormed ? rng.pick(METHODS.filter((m) => /^[A-Za-z]+$/.test(m))) : rng.pick(METHODS);
  const target = rng.chance(0.03) ? "/" + "a".repeat(rng.between(1000, 20_000)) : rng.pick(TARGETS);
  const version = wellFormed ? rng.pick(GOOD_VERSIONS) : rng.pick(VERSIONS);
  const eol = wellFormed || rng.chance(0.7) ? "\r\n" : "\n";
  const headers = Array.from({ length: rng.int(4) }, () => rng.pick(rng.chance(0.85) ? HEADERS : BAD_HEADERS));
  if (version === "HTTP/1.1" && rng.chance(0.7)) headers.unshift("Host: x"); // else Bun answers 400 itself
  let body = "";
  const framing = rng.int(8);
  if (framing === 0) {
    body = "hello";
    headers.push(`Content-Length: ${rng.chance(0.8) ? 5 : rng.pick([0, 2, 9, 1_000_000_000])}`);
  } else if (framing === 1) {
    body = "5\r\nhello\r\n0\r\n\r\n";
    headers.push("Transfer-Encoding: chunked");
  } else if (framing === 2 && rng.chance(0.3)) {
    headers.push(`X-Big: ${"a".repeat(rng.between(16_000, 80_000))}`);
  } else if (framing === 3 && rng.chance(0.3)) {
    for (let i = rng.between(150, 400); i > 0; i--) headers.push(`X-H${i}: v`);
  }
  const line = [method, target, version].filter((part, i) => i < 2 || part !== "").join(" ");
  const text = `${line}${eol}${headers.map((h) => h + eol).join("")}${eol}${body}`;
  const good = lineIsGood(method, target, version, eol);
  const hasHost = headers.some((h) => h.startsWith("Host: x"));
  const control =
    good && (method === "GET" || method === "HEAD") && target === "/healthz" && headers.length === (hasHost ? 1 : 0) && (hasHost || version === "HTTP/1.0");
  return { text, badLine: !good, control };
}

/** generate builds every case from one seed. */
function generate(seed: number): Case[] {
  const rng = new Rng(seed);
  const cases: Case[] = [];
  const add = (name: string, text: string | Uint8Array, opts: RawOptions, badLine: boolean, control = false, expect?: Expected[]) =>
    cases.push({ name: `#${cases.length} ${name}`, bytes: typeof text === "string" ? Buffer.from(text, "latin1") : Buffer.from(text), opts, badLine, control, expect });

  for (let i = 0; i < 300; i++) {
    const r = request(rng);
    add("one request", r.text, {}, r.badLine, r.control);
  }
  for (let i = 0; i < 30; i++) {
    const n = rng.between(2, 6);
    const parts = Array.from({ length: n }, () => request(rng));
    add(`${n} pipelined`, parts.map((p) => p.text).join(""), {}, parts.some((p) => p.badLine));
  }
  for (let i = 0; i < 30; i++) add("random bytes", rng.bytes(rng.between(1, 600)), {}, true);
  for (let i = 0; i < 10; i++) add("random bytes, then a request", Buffer.concat([rng.bytes(rng.between(1, 40)), Buffer.from("GET /healthz HTTP/1.0\r\n\r\n")]), {}, true);
  for (let i = 0; i < 10; i++) add("random unicode", Buffer.from(rng.unicode(rng.between(1, 200))), {}, true);
  // Slow clients: one to three bytes at a time, a few milliseconds apart; at most ~80 bytes each, so bounded.
  const slow = ["GET /healthz HTTP/1.0\r\n\r\n", "GET /status HTTP/1.1\r\nHost: x\r\n\r\n", "CONNECT 127.0.0.1:80 HTTP/1.0\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "\x16\x03\x01\x02\x00\x01"];
  for (let i = 0; i < 15; i++) {
    const text = rng.pick(slow);
    add("byte-at-a-time", text, { pieceSize: rng.between(1, 3), gapMs: rng.between(1, 4) }, text.includes("HTTP/2.0") || text.startsWith("\x16"), text === slow[0]);
  }
  // Early closes: part or all of a request, then a reset; the server must not mind.
  for (let i = 0; i < 30; i++) {
    const r = request(rng);
    const cut = rng.chance(0.5) ? r.text.slice(0, rng.int(r.text.length)) : r.text;
    add("reset after sending", cut, { after: "reset" }, true);
  }
  for (let i = 0; i < 10; i++) add("connect and reset", "", { after: "reset" }, false);
  // No half-close from us: the server must end these itself (HTTP/1.0, or Connection: close).
  for (const text of ["GET /healthz HTTP/1.0\r\n\r\n", "GET /metrics HTTP/1.1\r\nHost: x\r\nConnection: close\r\n\r\n", "GARBAGE\r\n\r\n", "GET / HTTP/2.0\r\n\r\n", "CONNECT h:1 HTTP/1.0\r\n\r\n"]) {
    add("server closes by itself", text, { after: "keep" }, text.includes("HTTP/2.0"));
  }
  // The operator's routes, with and without credentials. Generated last, so every case above is what it was for this seed.
  const ROUTE_TARGETS = ["/reload", "/reload?x=1", "/apps/web/targets/127.0.0.1:1/drain", "/apps/web/targets/%5B%3A%3A1%5D%3A1/enable", "/apps/%ZZ/targets/%00/drain", "/apps/web/targets//drain", "/apps/web/targets/x/drain/"];
  const AUTH = ["", "Authorization: Bearer x\r\n", "Authorization: Basic eA==\r\n", "Authorization: Bearer\r\n", `Authorization: Bearer ${"a".repeat(5000)}\r\n`];
  for (let i = 0; i < 40; i++) {
    const method = rng.pick(["POST", "POST", "POST", "GET", "HEAD", "PUT", "DELETE", "OPTIONS", "CONNECT"]);
    const version = rng.pick(GOOD_VERSIONS);
    const keep = rng.chance(0.5);
    const head = `${method} ${rng.pick(ROUTE_TARGETS)} ${version}\r\n${version === "HTTP/1.1" ? "Host: x\r\n" : ""}${rng.pick(AUTH)}${keep ? "Connection: close\r\n" : ""}`;
    add("operator route", head + (rng.chance(0.3) ? "Content-Length: 5\r\n\r\nhello" : "\r\n"), { after: keep ? "keep" : "fin" }, false);
  }
  // Request lines built to break, each alone or after a good keep-alive request. Generated last, so the cases above stay as they were.
  for (let i = 0; i < 160; i++) {
    const r = brokenLine(rng);
    const after = rng.chance(0.5) ? "keep" : "fin";
    if (rng.chance(0.25)) add("request line after a good one", `GET /healthz HTTP/1.1\r\nHost: x\r\n\r\n${r.text}`, { after }, true, false, ["api", r.expected]);
    else add("request line", r.text, { after }, true, false, [r.expected]);
  }
  return cases;
}

// The request-line batch: methods that are tokens (known to HTTP or not) and ones that are not, versions, line ends.
const LINE_METHODS = ["GET", "HEAD", "POST", "BREW", "FOO", "GETX", "get", "Get", "QUERY", "M-SEARCH", "PURGE", "X_Y", "~", "1", "!#$%&'*+-.^_`|~", "G@T", "GE\tT", "G\x00T", "G\u00e9T", "GET/", "(GET)", ""];
const LINE_VERSIONS = ["HTTP/1.1", "HTTP/1.0", "HTTP/9.9", "HTTP/2.0", "HTTP/0.9", "HTTP/1.2", "HTTP/1.10", "HTTP/1", "HTTP/", "HTTP", "http/1.1", "HTTP/1.1 extra", " HTTP/1.1", "HTTP/1.1 ", "HTTP/1.1\x00", ""];
const LINE_ENDS = ["\r\n", "\r\n", "\n", "\r\r\n", "\r \n"];
const STRAY = ["\x00", "\t", "\r", "\x7f", "\x01", " "];
/** GOOD_LINE is the request-line grammar, written apart from src/ops/admin-guard.ts so the two check each other. */
const GOOD_LINE = /^[!#$%&'*+\-.^_`|~0-9A-Za-z]+ [\x21-\x7e\x80-\xff]+ HTTP\/1\.[01]\r\n/;

/** allowOf is the `Allow` the contract gives a 405, by target: the route's methods, or every method of the API off the routes. */
function allowOf(target: string): string {
  const path = target.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, "").split(/[?#]/)[0] || "/";
  if (["/healthz", "/status", "/metrics"].includes(path)) return "GET, HEAD";
  if (path === "/reload" || path === "/upgrade" || /^\/apps\/[^/]+\/targets\/[^/]+\/(drain|enable)$/.test(path)) return "POST";
  return "GET, HEAD, POST";
}

/** brokenLine builds one request whose line may break anywhere, and what the contract says it gets. */
function brokenLine(rng: Rng): { text: string; expected: Expected } {
  const method = rng.pick(LINE_METHODS);
  const target = rng.pick([...TARGETS.slice(0, 13), "/reload", "/apps/web/targets/127.0.0.1:1/drain"]);
  const version = rng.pick(LINE_VERSIONS);
  let line = [method, target, version].filter((part, i) => i < 2 || part !== "").join(" ");
  if (rng.chance(0.2)) {
    const at = rng.int(line.length + 1);
    line = line.slice(0, at) + rng.pick(STRAY) + line.slice(at);
  }
  const eol = rng.pick(LINE_ENDS);
  // Connection: close, so a request the API serves still ends without a FIN from the client.
  const text = `${line}${eol}Host: x\r\nConnection: close\r\n\r\n`;
  const m = /^(\S+) (\S+) /.exec(text);
  if (!GOOD_LINE.test(text)) return { text, expected: { status: 400 } };
  if (["GET", "HEAD", "POST"].includes(m![1]!)) return { text, expected: "api" };
  return { text, expected: { status: 405, allow: allowOf(m![2]!) } };
}

const CASES = generate(FUZZ_SEED);
const CONCURRENCY = 16;
const CASE_TIMEOUT_MS = 5000;

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
  await sl?.[Symbol.asyncDispose](); // kills the process by PID
});

/** verdict lists what is wrong with one reply. */
function verdict(c: Case, r: RawReply): string[] {
  const bad: string[] = [];
  if (r.timedOut) bad.push(`no close within ${CASE_TIMEOUT_MS}ms`);
  for (const status of r.statuses) if (status >= 500) bad.push(`status ${status}`);
  if (c.opts.after === "reset") return bad;
  if (c.bytes.length > 0 && r.statuses.length === 0 && !r.timedOut) bad.push("closed without an answer");
  if (r.error !== undefined) bad.push(`the server reset the connection (${r.error.message})`);
  if (c.control && (r.statuses.length !== 1 || r.statuses[0] !== 200)) bad.push(`control request got ${JSON.stringify(r.statuses)}`);
  if (c.expect !== undefined) {
    const finals = r.statuses.filter((s) => s >= 200);
    if (finals.length !== c.expect.length) bad.push(`${finals.length} replies for ${c.expect.length} requests: ${JSON.stringify(finals)}`);
    const text = r.bytes.toString("latin1").toLowerCase();
    c.expect.forEach((want, i) => {
      if (want === "api" || finals[i] === undefined) return;
      if (finals[i] !== want.status) bad.push(`request ${i + 1} got ${finals[i]}, not ${want.status}`);
      if (want.status === 405 && !text.includes(`\r\nallow: ${want.allow.toLowerCase()}\r\n`)) bad.push(`405 without Allow: ${want.allow}`);
    });
  }
  return bad;
}

describe("admin fuzz", () => {
  test(`${CASES.length} raw requests: no 5xx of ours, no hang, still serving`, async () => {
    const tally = new Map<string, number>();
    const count = (key: string) => tally.set(key, (tally.get(key) ?? 0) + 1);
    const failures: string[] = [];
    for (let i = 0; i < CASES.length; i += CONCURRENCY) {
      await Promise.all(
        CASES.slice(i, i + CONCURRENCY).map(async (c) => {
          const r = await rawRequest(admin, c.bytes, { timeoutMs: CASE_TIMEOUT_MS, ...c.opts });
          if (r.statuses.length === 0) count("no reply");
          for (const s of r.statuses) count(String(s));
          const bad = verdict(c, r);
          if (bad.length > 0) {
            failures.push(`${bad.join("; ")}: ${c.name} (seed ${FUZZ_SEED}) sent ${JSON.stringify(c.bytes.toString("latin1").slice(0, 200))} got ${JSON.stringify(r.bytes.toString("latin1").slice(0, 200))}`);
          }
        }),
      );
    }
    const summary = [...tally].sort(([a], [b]) => a.localeCompare(b)).map(([k, n]) => `${k}: ${n}`).join(", ");
    console.log(`admin fuzz: ${CASES.length} cases, seed ${FUZZ_SEED}; replies ${summary}`);
    expect(failures).toEqual([]);

    // Still alive and serving, with nothing alarming on stderr.
    expect(sl.proc.exitCode).toBeNull();
    const health = await sl.admin("/healthz");
    expect(health.status).toBe(200);
    expect(await health.text()).toBe("ok");
    expect(sl.output()).not.toMatch(/^\s+at /m);
    expect(sl.output()).not.toContain("cannot answer");
  }, 90_000);
});
