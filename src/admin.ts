/**
 * @module admin: the HTTP admin endpoint: /healthz, /status, /metrics.
 */
import type { Server } from "bun";
import { SluiceError } from "./errors.ts";
import { renderMetrics, statusOf, type ProxyView } from "./metrics.ts";
import type { Endpoint } from "./target.ts";

/** startAdmin serves the admin API for `view`; it throws LISTEN_FAILED when the address is taken. */
export function startAdmin(at: Endpoint, view: ProxyView): Server<undefined> {
  try {
    return Bun.serve({
      hostname: at.host,
      port: at.port,
      development: false,
      fetch(req) {
        const path = new URL(req.url).pathname;
        if (req.method !== "GET" && req.method !== "HEAD") return new Response("method not allowed\n", { status: 405, headers: { allow: "GET, HEAD" } });
        switch (path) {
          case "/healthz":
            return view.draining ? new Response("draining", { status: 503 }) : new Response("ok");
          case "/status":
            return Response.json(statusOf(view));
          case "/metrics":
            return new Response(renderMetrics(view), { headers: { "content-type": "text/plain; version=0.0.4; charset=utf-8" } });
          default:
            return new Response("not found\n", { status: 404 });
        }
      },
      error: () => new Response("internal error\n", { status: 500 }),
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? String(e));
    throw new SluiceError("LISTEN_FAILED", `cannot listen on ${at.address} for admin: ${why}`);
  }
}
