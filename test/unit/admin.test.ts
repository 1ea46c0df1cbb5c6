import { appConfig } from "../helpers/config.ts";
import { Limits } from "../../src/sys/limits.ts";
import { afterAll, beforeAll, describe, expect, test } from "bun:test";
import type { Server } from "bun";
import { adminResponse, authorize, matchRoute, requestPath, startAdmin } from "../../src/ops/admin.ts";
import type { AdminHost, AdminServer, ReloadOutcome } from "../../src/control/views.ts";
import { App } from "../../src/control/app.ts";
import type { AppConfig } from "../../src/config/types.ts";
import type { Logger } from "../../src/sys/log.ts";
import { Sweeper } from "../../src/sys/sweeper.ts";
import { parseEndpoint, type Endpoint } from "../../src/net/target.ts";
import { rawRequest } from "../helpers/raw-http.ts";

describe("requestPath", () => {
  // [what Bun hands the handler as req.url, the path]
  const rows: [string, string][] = [
    ["http://127.0.0.1:9900/healthz", "/healthz"],
    ["http://x/healthz?verbose=1", "/healthz"],
    ["http://x/healthz#top", "/healthz"],
    ["http://x", "/"],
    ["http://x?a", "/"],
    ["https://user@[::1]:9900/status", "/status"],
    ["http://x//x/healthz", "//x/healthz"],
    ["/healthz", "/healthz"], // HTTP/1.0 without Host
    ["/healthz?x=1#f", "/healthz"],
    ["/", "/"],
    ["", "/"],
    ["127.0.0.1:80", "127.0.0.1:80"], // CONNECT's authority form
    ["*", "*"],
    ["http://[::1/healthz", "/healthz"], // Host "[::1": new URL() throws on this
    ["/\uFFFD\uFFFD", "/\uFFFD\uFFFD"],
  ];
  for (const [url, path] of rows) {
    test(`${JSON.stringify(url)} -> ${JSON.stringify(path)}`, () => {
      expect(requestPath(url)).toBe(path);
    });
  }
});

describe("matchRoute", () => {
  // [path, pattern or undefined, params]
  const rows: [string, string | undefined, Record<string, string>?][] = [
    ["/healthz", "/healthz", {}],
    ["/reload", "/reload", {}],
    ["/healthz/", undefined],
    ["/HEALTHZ", undefined],
    ["/%68ealthz", undefined], // literal segments are not decoded, as in Bun's router
    ["/apps/web/targets/127.0.0.1:9001/drain", "/apps/:app/targets/:address/drain", { app: "web", address: "127.0.0.1:9001" }],
    ["/apps/web/targets/%5B%3A%3A1%5D%3A9003/enable", "/apps/:app/targets/:address/enable", { app: "web", address: "[::1]:9003" }],
    ["/apps/web/targets/[::1]:9003/drain", "/apps/:app/targets/:address/drain", { app: "web", address: "[::1]:9003" }],
    ["/apps/a%20b/targets/x%2Fy/drain", "/apps/:app/targets/:address/drain", { app: "a b", address: "x/y" }],
    ["/apps/web/targets/%ZZ/drain", "/apps/:app/targets/:address/drain", { app: "web", address: "%ZZ" }],
    ["/apps//targets/x/drain", undefined],
    ["/apps/web/targets/x/drain/", undefined],
    ["/apps/web/targets/x/y/drain", undefined],
    ["/apps/web/targets/x/pause", undefined],
    ["127.0.0.1:80", undefined],
    ["*", undefined],
  ];
  for (const [path, pattern, params] of rows) {
    test(`${path} -> ${pattern ?? "no route"}`, () => {
      const m = matchRoute(path);
      expect(m?.pattern).toBe(pattern);
      if (pattern !== undefined) expect(m?.params).toEqual(params!);
    });
  }
});

describe("authorize", () => {
  // [token, loopback listener, Authorization header, verdict]
  const rows: [string | undefined, boolean, string | null, 200 | 401 | 403][] = [
    [undefined, true, null, 200],
    [undefined, true, "Bearer whatever", 200],
    [undefined, false, null, 403],
    [undefined, false, "Bearer s3cret", 403],
    ["s3cret", true, null, 401],
    ["s3cret", false, null, 401],
    ["s3cret", true, "Bearer s3cret", 200],
    ["s3cret", false, "Bearer s3cret", 200],
    ["s3cret", false, "bearer  s3cret ", 200],
    ["s3cret", false, "Bearer s3cre", 401],
    ["s3cret", false, "Bearer s3cret2", 401],
    ["s3cret", false, "Bearer S3CRET", 401],
    ["s3cret", false, "Basic czNjcmV0", 401],
    ["s3cret", false, "s3cret", 401],
    ["s3cret", false, "Bearer", 401],
    ["s3cret", false, "Bearer s3cret extra", 401],
    ["s3cret", false, "", 401],
  ];
  for (const [token, loopback, header, verdict] of rows) {
    test(`token ${token ?? "none"}, ${loopback ? "loopback" : "public"} listener, ${JSON.stringify(header)} -> ${verdict}`, () => {
      expect(authorize({ adminToken: token, adminLoopback: loopback }, header)).toBe(verdict);
    });
  }
});

const quiet = { info() {}, warn() {}, error() {}, success() {}, debug() {} } as unknown as Logger;

function ep(text: string): Endpoint {
  const e = parseEndpoint(text);
  if (typeof e === "string") throw new Error(e);
  return e;
}

/** realApp is an App that is never started: no sockets, no timers, just its pool. */
function realApp(name: string, targets: string[]): App {
  const config: AppConfig = appConfig({ name, targets: targets.map(ep) });
  const limits = new Limits(10);
  return new App(config, { limits, dials: new Sweeper(50), idle: new Sweeper(1000), stalls: new Sweeper(1000), log: quiet });
}

type FakeHost = AdminHost & { adminToken: string | undefined; adminLoopback: boolean; draining: boolean; reloadCalls: string[]; outcome: ReloadOutcome | Error };

function fakeHost(init: Partial<Pick<FakeHost, "adminToken" | "adminLoopback" | "draining">> = {}): FakeHost {
  const web = realApp("web", ["127.0.0.1:9001", "[::1]:9003"]);
  const host: FakeHost = {
    apps: new Map([["web", web]]),
    limits: { maxConnections: 10, active: 0, abandonedDials: 0 },
    draining: init.draining ?? false,
    rejected: 0,
    adminToken: init.adminToken,
    adminLoopback: init.adminLoopback ?? true,
    reloadCalls: [],
    outcome: { ok: true, message: "1 app, 1 port" },
    async reload(trigger) {
      host.reloadCalls.push(trigger);
      if (host.outcome instanceof Error) throw host.outcome;
      return host.outcome;
    },
  };
  return host;
}

describe("adminResponse", () => {
  // [method, path, draining, status, Allow when 405]
  const rows: [string, string, boolean, number, string?][] = [
    ["GET", "/healthz", false, 200],
    ["HEAD", "/healthz", false, 200],
    ["GET", "/healthz", true, 503],
    ["GET", "/status", false, 200],
    ["GET", "/metrics", false, 200],
    ["GET", "/", false, 404],
    ["GET", "/healthz/", false, 404],
    ["GET", "127.0.0.1:80", false, 404],
    ["POST", "/nope", false, 404],
    ["POST", "/healthz", false, 405, "GET, HEAD"],
    ["PUT", "/status", false, 405, "GET, HEAD"],
    ["GET", "/reload", false, 405, "POST"],
    ["HEAD", "/reload", false, 405, "POST"],
    ["GET", "/apps/web/targets/127.0.0.1:9001/drain", false, 405, "POST"],
    ["DELETE", "/apps/web/targets/127.0.0.1:9001/enable", false, 405, "POST"],
    ["CONNECT", "127.0.0.1:80", false, 405, "GET, HEAD, POST"],
    ["OPTIONS", "*", false, 405, "GET, HEAD, POST"],
    ["TRACE", "/", false, 405, "GET, HEAD, POST"],
    ["get", "/healthz", false, 405, "GET, HEAD"],
  ];
  for (const [method, path, draining, status, allow] of rows) {
    test(`${method} ${path}${draining ? " (draining)" : ""} -> ${status}`, async () => {
      const res = await adminResponse(method, path, fakeHost({ draining }));
      expect(res.status).toBe(status);
      expect(res.headers.get("allow")).toBe(allow ?? null);
    });
  }

  test("/status is JSON and /metrics is Prometheus text", async () => {
    const status = await adminResponse("GET", "/status", fakeHost());
    expect((await status.json()) as object).toMatchObject({ draining: false, connections: { max: 10 } });
    const metrics = await adminResponse("GET", "/metrics", fakeHost());
    expect(metrics.headers.get("content-type")).toContain("version=0.0.4");
    expect(await metrics.text()).toContain("sluice_connections_limit 10");
  });
});

describe("POST drain and enable", () => {
  test("drain answers the target as /status shows it, disabled, and takes it out of rotation; enable puts it back", async () => {
    const host = fakeHost();
    const web = host.apps.get("web")!;
    const res = await adminResponse("POST", "/apps/web/targets/%5B%3A%3A1%5D%3A9003/drain", host);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ address: "[::1]:9003", healthy: true, enabled: false, active: 0, total: 0, connect_errors: 0 });
    expect(Array.from({ length: 4 }, () => web.pool.pick(null)!.address)).toEqual(Array(4).fill("127.0.0.1:9001"));
    const status = (await (await adminResponse("GET", "/status", host)).json()) as { apps: { targets: { enabled: boolean }[] }[] };
    expect(status.apps[0]!.targets.map((t) => t.enabled)).toEqual([true, false]);
    const back = await adminResponse("POST", "/apps/web/targets/[::1]:9003/enable", host);
    expect([back.status, ((await back.json()) as { enabled: boolean }).enabled]).toEqual([200, true]);
    expect(new Set(Array.from({ length: 4 }, () => web.pool.pick(null)!.address)).size).toBe(2);
  });

  // [path, status]
  const rows: [string, number][] = [
    ["/apps/nope/targets/127.0.0.1:9001/drain", 404],
    ["/apps/web/targets/127.0.0.1:9999/drain", 404],
    ["/apps/web/targets/::1:9003/drain", 404], // the address as /status writes it, brackets and all
    ["/apps/web/targets/%ZZ/enable", 404],
    ["/apps/web/targets/127.0.0.1%3A9001/drain", 200],
  ];
  for (const [path, status] of rows) {
    test(`POST ${path} -> ${status}`, async () => {
      const res = await adminResponse("POST", path, fakeHost());
      expect(res.status).toBe(status);
      if (status === 404) expect(((await res.json()) as { error: string }).error.length).toBeGreaterThan(0);
    });
  }

  test("with a token: 401 and WWW-Authenticate without it or with a wrong one, and nothing changes", async () => {
    const host = fakeHost({ adminToken: "s3cret", adminLoopback: true });
    for (const auth of [null, "Bearer wrong", "Basic czNjcmV0"]) {
      const res = await adminResponse("POST", "/apps/web/targets/127.0.0.1:9001/drain", host, auth);
      expect([auth, res.status, res.headers.get("www-authenticate")?.startsWith("Bearer")]).toEqual([auth, 401, true]);
    }
    expect(host.apps.get("web")!.pool.targets[0]!.enabled).toBe(true);
    const ok = await adminResponse("POST", "/apps/web/targets/127.0.0.1:9001/drain", host, "Bearer s3cret");
    expect(ok.status).toBe(200);
    expect(host.apps.get("web")!.pool.targets[0]!.enabled).toBe(false);
  });

  test("auth comes before the lookup: an unknown app is 401, not 404, without the token", async () => {
    const res = await adminResponse("POST", "/apps/nope/targets/x:1/drain", fakeHost({ adminToken: "t" }));
    expect(res.status).toBe(401);
  });

  test("without a token, a listener that is not loopback refuses POSTs with 403; GETs stay open", async () => {
    const host = fakeHost({ adminLoopback: false });
    expect((await adminResponse("POST", "/apps/web/targets/127.0.0.1:9001/drain", host)).status).toBe(403);
    expect((await adminResponse("POST", "/reload", host)).status).toBe(403);
    expect(host.reloadCalls).toEqual([]);
    expect((await adminResponse("GET", "/status", host)).status).toBe(200);
  });

  test("the token is read per request, so a reload that changes it takes effect at once", async () => {
    const host = fakeHost({ adminToken: "old" });
    expect((await adminResponse("POST", "/reload", host, "Bearer old")).status).toBe(200);
    host.adminToken = "new";
    expect((await adminResponse("POST", "/reload", host, "Bearer old")).status).toBe(401);
    expect((await adminResponse("POST", "/reload", host, "Bearer new")).status).toBe(200);
    host.adminToken = undefined;
    expect((await adminResponse("POST", "/reload", host)).status).toBe(200);
  });
});

describe("POST /reload", () => {
  test("a success is 200 with result success and the summary", async () => {
    const host = fakeHost();
    const res = await adminResponse("POST", "/reload", host);
    expect(res.status).toBe(200);
    expect(await res.json()).toEqual({ result: "success", message: "1 app, 1 port" });
    expect(host.reloadCalls).toEqual(["http"]);
  });

  test("a failure is 422 with result failure and why", async () => {
    const host = fakeHost();
    host.outcome = { ok: false, message: "invalid config x.toml: apps[0].ports: required" };
    const res = await adminResponse("POST", "/reload", host);
    expect(res.status).toBe(422);
    expect(await res.json()).toEqual({ result: "failure", error: "invalid config x.toml: apps[0].ports: required" });
  });

  test("a reload that throws is a failure too, never a 5xx", async () => {
    const host = fakeHost();
    host.outcome = new Error("boom");
    const res = await adminResponse("POST", "/reload", host);
    expect([res.status, await res.json()]).toEqual([422, { result: "failure", error: "boom" }]);
  });
});

/**
 * startAdmin over a real loopback socket: the same answers through Bun.serve's
 * routes as by hand, including what only a raw request can send.
 */
describe("startAdmin", () => {
  let server: AdminServer;
  const host = fakeHost({ adminToken: "s3cret" });
  const url = (path: string) => `http://127.0.0.1:${server.port}${path}`;

  beforeAll(() => {
    server = startAdmin({ host: "127.0.0.1", port: 0, address: "127.0.0.1:0" }, host);
  });
  afterAll(() => void server?.stop(true));

  test("GETs, HEAD and the 404/405 fallback", async () => {
    const rows: [method: string, path: string, status: number, allow: string | null][] = [
      ["GET", "/healthz", 200, null],
      ["HEAD", "/healthz", 200, null],
      ["GET", "/status", 200, null],
      ["GET", "/nope", 404, null],
      ["POST", "/healthz", 405, "GET, HEAD"],
      ["GET", "/reload", 405, "POST"],
      ["PUT", "/apps/web/targets/127.0.0.1:9001/drain", 405, "POST"],
      ["OPTIONS", "/status", 405, "GET, HEAD"],
    ];
    for (const [method, path, status, allow] of rows) {
      const res = await fetch(url(path), { method });
      expect([method, path, res.status, res.headers.get("allow")]).toEqual([method, path, status, allow]);
    }
  });

  test("POSTs through the routes need the token", async () => {
    const path = "/apps/web/targets/%5B%3A%3A1%5D%3A9003/drain";
    expect((await fetch(url(path), { method: "POST" })).status).toBe(401);
    const res = await fetch(url(path), { method: "POST", headers: { authorization: "Bearer s3cret" } });
    expect(res.status).toBe(200);
    expect(((await res.json()) as { enabled: boolean }).enabled).toBe(false);
    const reload = await fetch(url("/reload"), { method: "POST", headers: { authorization: "Bearer s3cret" } });
    expect([reload.status, await reload.json()]).toEqual([200, { result: "success", message: "1 app, 1 port" }]);
  });

  test("HTTP/1.0 without Host and CONNECT reach the right answer", async () => {
    const rows: [request: string, status: number][] = [
      ["GET /healthz HTTP/1.0\r\n\r\n", 200],
      ["POST /apps/web/targets/127.0.0.1:9001/enable HTTP/1.0\r\nAuthorization: Bearer s3cret\r\n\r\n", 200],
      ["POST /apps/web/targets/127.0.0.1:9001/enable HTTP/1.0\r\n\r\n", 401],
      ["GET /a/../healthz HTTP/1.1\r\nHost: x\r\n\r\n", 200], // Bun's router sees the raw path; fetch sees it resolved
      ["CONNECT 127.0.0.1:80 HTTP/1.1\r\nHost: 127.0.0.1:80\r\n\r\n", 405],
    ];
    for (const [request, status] of rows) {
      const r = await rawRequest(server.port!, request);
      expect([request, r.statuses]).toEqual([request, [status]]);
    }
  });
});
