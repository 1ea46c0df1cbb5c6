import { describe, expect, test } from "bun:test";
import { adminResponse, requestPath } from "../../src/admin.ts";
import type { ProxyView } from "../../src/metrics.ts";

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

describe("adminResponse", () => {
  const view = (draining: boolean): ProxyView => ({
    apps: new Map(),
    limits: { maxConnections: 10, active: 0, abandonedDials: 0, apps: 1 },
    draining,
    rejected: 0,
  });

  // [method, path, draining, status]
  const rows: [string, string, boolean, number][] = [
    ["GET", "/healthz", false, 200],
    ["HEAD", "/healthz", false, 200],
    ["GET", "/healthz", true, 503],
    ["GET", "/status", false, 200],
    ["GET", "/metrics", false, 200],
    ["GET", "/", false, 404],
    ["GET", "/healthz/", false, 404],
    ["GET", "127.0.0.1:80", false, 404],
    ["POST", "/healthz", false, 405],
    ["CONNECT", "127.0.0.1:80", false, 405],
    ["OPTIONS", "*", false, 405],
    ["TRACE", "/", false, 405],
    ["get", "/healthz", false, 405],
  ];
  for (const [method, path, draining, status] of rows) {
    test(`${method} ${path}${draining ? " (draining)" : ""} -> ${status}`, () => {
      const res = adminResponse(method, path, view(draining));
      expect(res.status).toBe(status);
      if (status === 405) expect(res.headers.get("allow")).toBe("GET, HEAD");
    });
  }

  test("/status is JSON and /metrics is Prometheus text", async () => {
    const status = adminResponse("GET", "/status", view(false));
    expect((await status.json()) as object).toMatchObject({ draining: false, connections: { max: 10 } });
    const metrics = adminResponse("GET", "/metrics", view(false));
    expect(metrics.headers.get("content-type")).toContain("version=0.0.4");
    expect(await metrics.text()).toContain("sluice_connections_limit 10");
  });
});
