/**
 * @module admin: the HTTP admin API: `GET /healthz`, `/status` and `/metrics`,
 * and the operator's POSTs: `/reload` and a target's `drain` and `enable`.
 *
 * It never answers 5xx on its own account: a health checker or a scraper must
 * be able to tell "sluice is draining" (503 on /healthz) from "the request was
 * odd". Whatever a client sends, the API answers 200, 401, 403, 404, 405, 422
 * or 503 (draining), and a request it cannot answer gets 400.
 *
 * One table, ROUTES, says which path takes which method. Bun.serve's `routes`
 * dispatches from it; what they do not match (a method a path does not take,
 * CONNECT's authority form, a dot segment Bun resolves only in `req.url`)
 * reaches `fetch`, which looks the same table up by hand (matchRoute) to
 * answer 405 or 404, so both paths give one answer. What Bun.serve itself
 * answers before this code runs (400, 431, 505, or a silent close), and what
 * its `routes` match, is measured in docs/ADMIN-HTTP.md.
 *
 * POSTs change the running proxy, so they need the `[admin] token` as a
 * bearer token when one is set; with none they are taken only on a loopback
 * listener (see authorize). GETs stay open.
 */
import { debugHooks } from "../sys/debug.ts";
import { SluiceError } from "../sys/errors.ts";
import { logger } from "../sys/log.ts";
import { renderMetrics, statusOf, targetStatus } from "./metrics.ts";
import type { AdminHost, AdminServer, ReloadOutcome } from "../control/views.ts";
import { listenGuard } from "./admin-guard.ts";
import type { Endpoint } from "../net/target.ts";

/**
 * IDLE_TIMEOUT_S: a connection that has not completed a request head this
 * long after it opened (or after the previous response) is closed. It is
 * Bun.serve's own default, pinned so the docs stay true if that changes.
 */
const IDLE_TIMEOUT_S = 10;

const TEXT = { "content-type": "text/plain; charset=utf-8" };
const METRICS_TYPE = { "content-type": "text/plain; version=0.0.4; charset=utf-8" };

const log = logger("admin");

type Method = "GET" | "POST";
/** Handler answers one request; `params` are the route's `:name` segments, percent-decoded. */
type Handler = (host: AdminHost, params: Readonly<Record<string, string>>, req?: Request) => Response | Promise<Response>;

/**
 * ROUTES is every path of the API and the methods it takes. A GET path also
 * answers HEAD (Bun.serve's routes do that themselves; matchRoute mirrors it).
 */
const ROUTES: Readonly<Record<string, Partial<Record<Method, Handler>>>> = {
  "/healthz": { GET: (host) => (host.draining ? text(503, "draining") : text(200, "ok")) },
  "/status": { GET: (host) => Response.json(statusOf(host)) },
  "/metrics": { GET: (host) => new Response(renderMetrics(host), { headers: METRICS_TYPE }) },
  "/reload": { POST: reload },
  "/upgrade": { POST: upgrade },
  "/apps/:app/targets/:address/drain": { POST: (host, p) => setEnabled(host, p, false) },
  "/apps/:app/targets/:address/enable": { POST: (host, p) => setEnabled(host, p, true) },
  ...(typeof SLUICE_RELEASE === "undefined" && debugHooks
    ? {
        // The debug hooks of src/sys/debug.ts (crash, hang): 202 once the fault is sent, 404 for no such worker or fault.
        "/debug/workers/:n/:fault": {
          POST: (host: AdminHost, p: Readonly<Record<string, string>>) =>
            (p.fault === "crash" || p.fault === "hang") && host.injectFault?.(Number(p.n), p.fault)
              ? text(202, `worker ${p.n} told to ${p.fault}\n`)
              : text(404, `no worker ${p.n} or fault ${p.fault}\n`),
        },
      }
    : {}),
};

/** API_METHODS are the methods some path takes: another method is 405 on any path, a known one 404 on an unknown path. */
const API_METHODS = "GET, HEAD, POST";

function text(status: number, body: string, headers: Record<string, string> = {}): Response {
  return new Response(body, { status, headers: { ...TEXT, ...headers } });
}

/** allowOf is the `Allow` header of a route: its methods, HEAD beside GET. */
function allowOf(route: Partial<Record<Method, Handler>>): string {
  return Object.keys(route)
    .flatMap((m) => (m === "GET" ? ["GET", "HEAD"] : [m]))
    .join(", ");
}

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

/** decodeSegment percent-decodes one path segment; a malformed escape leaves the segment as sent (it then names nothing). */
function decodeSegment(s: string): string {
  try {
    return decodeURIComponent(s);
  } catch {
    return s;
  }
}

/**
 * matchRoute finds the ROUTES pattern `path` matches, as Bun.serve's router
 * does: segment by segment, a `:name` segment taking one non-empty segment
 * (percent-decoded, so `%5B%3A%3A1%5D%3A9003` is `[::1]:9003`), no trailing
 * slash, no decoding of the literal segments.
 */
export function matchRoute(path: string): { pattern: string; params: Record<string, string> } | undefined {
  const parts = path.split("/");
  for (const pattern of Object.keys(ROUTES)) {
    const want = pattern.split("/");
    if (want.length !== parts.length) continue;
    const params: Record<string, string> = {};
    let ok = true;
    for (let i = 0; i < want.length && ok; i++) {
      const w = want[i]!;
      const got = parts[i]!;
      if (w.startsWith(":")) {
        ok = got !== "";
        params[w.slice(1)] = decodeSegment(got);
      } else ok = w === got;
    }
    if (ok) return { pattern, params };
  }
  return undefined;
}

/** Auth is what authorize reads from the host, per request. */
export type Auth = Pick<AdminHost, "adminToken" | "adminLoopback">;

/** BEARER reads the credentials of an `Authorization: Bearer <token>` header (the scheme is case-insensitive). */
const BEARER = /^Bearer[ \t]+(\S+)[ \t]*$/i;

/**
 * sameToken compares in time that depends on neither token: both are hashed
 * to 32 bytes first, then every byte is compared. Bun's own hasher, not
 * node:crypto, whose loading alone added 16-20 ms to sluice's start-up.
 */
function sameToken(given: string, want: string): boolean {
  const a = new Bun.CryptoHasher("sha256").update(given).digest();
  const b = new Bun.CryptoHasher("sha256").update(want).digest();
  let diff = 0;
  for (let i = 0; i < a.length; i++) diff |= a[i]! ^ b[i]!;
  return diff === 0;
}

/**
 * authorize decides whether a POST may change the proxy: with a token
 * configured, only with `Authorization: Bearer <token>` (else 401); without
 * one, only on a loopback listener (else 403, since no credential could help).
 * 200 means go ahead.
 */
export function authorize(auth: Auth, authorization: string | null): 200 | 401 | 403 {
  const token = auth.adminToken;
  if (token === undefined) return auth.adminLoopback ? 200 : 403;
  const given = authorization === null ? null : BEARER.exec(authorization)?.[1];
  return given != null && sameToken(given, token) ? 200 : 401;
}

function denied(status: 401 | 403): Response {
  if (status === 401) return text(401, "unauthorized: this needs Authorization: Bearer <the [admin] token>\n", { "www-authenticate": 'Bearer realm="sluice"' });
  return text(403, "forbidden: set [admin] token to allow POSTs on a listener that is not loopback\n");
}

/**
 * answer runs one route's handler for `method` (HEAD as GET), after the
 * POST authorization; 405 with `Allow` when the route does not take it.
 */
function answer(
  route: Partial<Record<Method, Handler>>,
  method: string,
  params: Record<string, string>,
  host: AdminHost,
  authorization: string | null,
  req?: Request,
): Response | Promise<Response> {
  const handler = method === "GET" || method === "HEAD" ? route.GET : method === "POST" ? route.POST : undefined;
  if (handler === undefined) return text(405, "method not allowed\n", { allow: allowOf(route) });
  if (method === "POST") {
    const verdict = authorize(host, authorization);
    if (verdict !== 200) return denied(verdict);
  }
  return handler(host, params, req);
}

/**
 * adminResponse answers one request by hand, given its method and path (see
 * requestPath): what `fetch` does for whatever Bun.serve's routes did not
 * match, and what the unit tests drive. 405 with `Allow` for a method the path
 * (or, on an unknown path, the whole API) does not take, 404 for an unknown path.
 */
export function adminResponse(method: string, path: string, host: AdminHost, authorization: string | null = null, req?: Request): Response | Promise<Response> {
  const m = matchRoute(path);
  if (m === undefined) {
    return API_METHODS.split(", ").includes(method) ? text(404, "not found\n") : text(405, "method not allowed\n", { allow: API_METHODS });
  }
  return answer(ROUTES[m.pattern]!, method, m.params, host, authorization, req);
}

/** reload runs a reload as POST /reload asked: 200 with what changed, 422 with why not (the running config stays). */
async function reload(host: AdminHost): Promise<Response> {
  let outcome: ReloadOutcome;
  try {
    outcome = await host.reload("http");
  } catch (e) {
    outcome = { ok: false, message: (e as Error)?.message ?? String(e) };
  }
  return outcome.ok
    ? Response.json({ result: "success", message: outcome.message })
    : Response.json({ result: "failure", error: outcome.message }, { status: 422 });
}

/**
 * upgrade starts a binary upgrade as POST /upgrade asked (body: optional JSON
 * `{"binary": "/path"}`, else the path sluice was started from) and answers
 * once the new process serves (200 with its pid and version) or has failed
 * (422 with why; this process keeps serving).
 */
async function upgrade(host: AdminHost, _params: unknown, req?: Request): Promise<Response> {
  if (host.upgrade === undefined) return Response.json({ error: "this process cannot upgrade" }, { status: 422 });
  let binary: string | undefined;
  const body = req === undefined ? "" : (await req.text()).trim();
  if (body !== "") {
    let parsed: unknown;
    try {
      parsed = JSON.parse(body);
    } catch {
      return Response.json({ error: 'the body must be JSON: {"binary": "/path/to/sluice"} or nothing' }, { status: 400 });
    }
    const b = (parsed as { binary?: unknown } | null)?.binary;
    if (b !== undefined && (typeof b !== "string" || !b.startsWith("/"))) return Response.json({ error: "binary must be an absolute path" }, { status: 400 });
    binary = b as string | undefined;
  }
  const outcome = await host.upgrade(binary);
  return outcome.ok ? Response.json({ result: "success", pid: outcome.pid, version: outcome.version }) : Response.json({ result: "failure", error: outcome.error }, { status: 422 });
}

/** setEnabled drains or enables `{address}` of `{app}`: 200 with the target as /status shows it, or 404. */
function setEnabled(host: AdminHost, params: Readonly<Record<string, string>>, enabled: boolean): Response {
  const app = host.apps.get(params.app ?? "");
  if (app === undefined) return Response.json({ error: `no app named ${JSON.stringify(params.app)}` }, { status: 404 });
  const target = app.targets.setEnabled(params.address ?? "", enabled);
  if (target === undefined) {
    return Response.json({ error: `app ${JSON.stringify(app.name)} has no target ${JSON.stringify(params.address)}` }, { status: 404 });
  }
  return Response.json(targetStatus(target));
}

/**
 * cannotAnswer is the reply when answering threw: a bug of ours, logged with
 * the request line, but still not a 5xx (see the module comment).
 */
function cannotAnswer(what: string, e: unknown): Response {
  log.error(`cannot answer ${what}: ${(e as Error)?.message ?? String(e)}`);
  return text(400, "bad request\n");
}

/** guarded runs `f` for the request `method target`, turning a throw or a rejection into cannotAnswer's 400. */
function guarded(method: string, target: string, f: () => Response | Promise<Response>): Response | Promise<Response> {
  const what = () => `${method} ${JSON.stringify(target)}`;
  try {
    const r = f();
    return r instanceof Promise ? r.catch((e: unknown) => cannotAnswer(what(), e)) : r;
  } catch (e) {
    return cannotAnswer(what(), e);
  }
}

/** bunRoutes turns ROUTES into Bun.serve's `routes`, each method's handler guarded and authorized as by hand. */
function bunRoutes(host: AdminHost) {
  const routes: Record<string, Partial<Record<Method, (req: Request & { params: Record<string, string> }) => Response | Promise<Response>>>> = {};
  for (const [pattern, route] of Object.entries(ROUTES)) {
    const methods: (typeof routes)[string] = {};
    for (const method of Object.keys(route) as Method[]) {
      methods[method] = (req) => guarded(req.method, req.url, () => answer(route, req.method, req.params, host, req.headers.get("authorization"), req));
    }
    routes[pattern] = methods;
  }
  return routes;
}

let innerCount = 0;

/**
 * startAdmin serves the admin API for `host` on `at` (or on the listening
 * socket `fd` an upgrade handed over): a guard on the port checks every
 * request head (src/ops/admin-guard.ts) and relays what Bun.serve can answer
 * to it on a private (abstract Unix) socket. It throws LISTEN_FAILED when the address
 * is taken.
 */
export function startAdmin(at: Endpoint, host: AdminHost, fd?: number): AdminServer {
  // Behind the guard, on an abstract Unix socket: no port of the machine's to take, no file to clean up.
  const innerName = `\0sluice-admin-${process.pid}-${(++innerCount).toString(36)}-${Math.random().toString(36).slice(2, 10)}`;
  // bun-types leaves idleTimeout out of the Unix-socket options; Bun applies it there too.
  const inner = Bun.serve({
    unix: innerName,
    development: false,
    idleTimeout: IDLE_TIMEOUT_S,
    routes: bunRoutes(host),
    fetch: (req: Request) => guarded(req.method, req.url, () => adminResponse(req.method, requestPath(req.url), host, req.headers.get("authorization"), req)),
    // Only reached if something outside the guards throws; same answer.
    error: (e: unknown) => cannotAnswer("a request", e),
  } as unknown as Bun.ServeOptions);
  // A method Bun.serve would not take is answered from the same route table: 405 with the path's Allow.
  const route = async (method: string, target: string) => {
    const r = await guarded(method, target, () => adminResponse(method, requestPath(target), host, null));
    return { status: r.status, headers: Object.fromEntries(r.headers), body: await r.text() };
  };
  try {
    const { listener: guard, open } = listenGuard(at.host, at.port, { inner: innerName, route }, fd);
    return {
      fd: (guard as unknown as { fd?: number }).fd,
      port: guard.port,
      stop(closeActive = false) {
        guard.stop(closeActive);
        void inner.stop(closeActive);
      },
      async settled(ms) {
        const deadline = performance.now() + ms;
        while (open.size > 0 && performance.now() < deadline) await Bun.sleep(10);
      },
    };
  } catch (e) {
    void inner.stop(true);
    const code = (e as { code?: string }).code;
    const why = code === "EADDRINUSE" ? "address already in use" : (code ?? String(e));
    throw new SluiceError("LISTEN_FAILED", `cannot listen on ${at.address} for admin: ${why}`);
  }
}
