/**
 * @module admin: the HTTP admin endpoint: /healthz, /status, /metrics.
 *
 * It never answers 5xx on its own account: a health checker or a scraper must
 * be able to tell "sluice is draining" (503 on /healthz) from "the request was
 * odd". Whatever a client sends, the handler answers 200, 404, 405 or 503
 * (draining), and a request it cannot answer gets 400. What Bun.serve itself
 * answers before this code runs (400, 431, 505, or a silent close) is
 * measured in docs/ADMIN-HTTP.md.
 */
import type { Server } from "bun";
import { SluiceError } from "./errors.ts";
import { logger } from "./log.ts";
import { renderMetrics, statusOf, type ProxyView } from "./metrics.ts";
import type { Endpoint } from "./target.ts";

/**
 * IDLE_TIMEOUT_S: a connection that has not completed a request head this
 * long after it opened (or after the previous response) is closed. It is
 * Bun.serve's own default, pinned so the docs stay true if that changes.
 */
const IDLE_TIMEOUT_S = 10;

/** ALLOW lists the methods every admin path supports, for 405 answers. */
const ALLOW = "GET, HEAD";

const TEXT = { "content-type": "text/plain; charset=utf-8" };
const METRICS_TYPE = { "content-type": "text/plain; version=0.0.4; charset=utf-8" };

const log = logger("admin");

/**
 * requestPath returns the path of a request's target, never throwing.
 *
 * Bun gives the handler `http://host/path?query` when the request carried a
 * usable Host header, and the raw request target otherwise: `/healthz` for
 * HTTP/1.0 without Host (what HAProxy's `option httpchk` sends),
 * `127.0.0.1:80` for CONNECT, `/x` when Host is `a b`. `new URL()` throws on
 * all of those, so this strips a leading `scheme://authority` by hand and cuts
 * at `?` or `#`. An empty path is `/`; a target that is not a path (CONNECT's
 * authority, `*`) comes back unchanged and matches no route.
 *
 * @example
 * requestPath("http://127.0.0.1:9900/healthz?verbose"); // "/healthz"
 * requestPath("/healthz");                              // "/healthz"
 * requestPath("127.0.0.1:80");                          // "127.0.0.1:80"
 */
export function requestPath(url: string): string {
  const rest = url.replace(/^[A-Za-z][A-Za-z0-9+.-]*:\/\/[^/?#]*/, "");
  const end = rest.search(/[?#]/);
  const path = end === -1 ? rest : rest.slice(0, end);
  return path === "" ? "/" : path;
}

/**
 * adminResponse answers one request, given its method and path (see requestPath):
 * 405 with `Allow` for any method but GET and HEAD, 404 for an unknown path.
 */
export function adminResponse(method: string, path: string, view: ProxyView): Response {
  if (method !== "GET" && method !== "HEAD") {
    return new Response("method not allowed\n", { status: 405, headers: { ...TEXT, allow: ALLOW } });
  }
  switch (path) {
    case "/healthz":
      return view.draining ? new Response("draining", { status: 503, headers: TEXT }) : new Response("ok", { headers: TEXT });
    case "/status":
      return Response.json(statusOf(view));
    case "/metrics":
      return new Response(renderMetrics(view), { headers: METRICS_TYPE });
    default:
      return new Response("not found\n", { status: 404, headers: TEXT });
  }
}

/**
 * cannotAnswer is the reply when answering threw: a bug of ours, logged with
 * the request line, but still not a 5xx (see the module comment).
 */
function cannotAnswer(what: string, e: unknown): Response {
  log.error(`cannot answer ${what}: ${(e as Error)?.message ?? String(e)}`);
  return new Response("bad request\n", { status: 400, headers: TEXT });
}

/** startAdmin serves the admin API for `view`; it throws LISTEN_FAILED when the address is taken. */
export function startAdmin(at: Endpoint, view: ProxyView): Server<undefined> {
  try {
    return Bun.serve({
      hostname: at.host,
      port: at.port,
      development: false,
      idleTimeout: IDLE_TIMEOUT_S,
      fetch(req) {
        let what = "a request";
        try {
          what = `${req.method} ${JSON.stringify(req.url)}`;
          return adminResponse(req.method, requestPath(req.url), view);
        } catch (e) {
          return cannotAnswer(what, e);
        }
      },
      // Only reached if something outside fetch's own try throws; same answer.
      error: (e) => cannotAnswer("a request", e),
    });
  } catch (e) {
    const code = (e as { code?: string }).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? String(e));
    throw new SluiceError("LISTEN_FAILED", `cannot listen on ${at.address} for admin: ${why}`);
  }
}
