/**
 * Backends the workloads talk to, through a proxy or directly: iperf3's server,
 * redis-server, an nginx HTTP server with a tiny body, a Bun holder of idle
 * connections and a Bun server that streams to each connection without end. A backend lives for one workload, across its rounds and peers.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, HOST, waitForPort } from "./net.ts";
import { spawn, stop, type Proc } from "./proc.ts";

export interface Backend {
  readonly port: number;
  /** a second port that expects a PROXY protocol header (v1 or v2) first; only the http backend has one, when asked. */
  readonly proxyPort?: number;
  stop(): Promise<void>;
}

export type BackendKind = "iperf3" | "redis" | "http" | "hold" | "stream";

/**
 * startBackend launches one backend on a free port and waits until it accepts.
 * `proxyProtocol` gives the http backend a second port, `proxyPort`, that reads
 * a PROXY header first (nginx `listen … proxy_protocol`), for proxies that send one.
 */
export async function startBackend(kind: BackendKind, tmp: string, opts: { proxyProtocol?: boolean } = {}): Promise<Backend> {
  const port = freePort();
  const proxyPort = kind === "http" && opts.proxyProtocol ? freePort() : undefined;
  const proc = spawnBackend(kind, port, tmp, proxyPort);
  try {
    await waitForPort(port, { proc });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  return { port, proxyPort, stop: () => stop(proc) };
}

function spawnBackend(kind: BackendKind, port: number, tmp: string, proxyPort: number | undefined): Proc {
  const logDir = tmp;
  switch (kind) {
    case "iperf3":
      return spawn("iperf3-server", ["iperf3", "-s", "-B", HOST, "-p", String(port)], { logDir });
    case "redis":
      // No persistence: the benchmark measures the proxy, not the disk.
      return spawn(
        "redis-server",
        ["redis-server", "--bind", HOST, "--port", String(port), "--save", "", "--appendonly", "no",
          "--protected-mode", "no", "--daemonize", "no", "--dir", tmp],
        { logDir },
      );
    case "http": {
      const conf = httpNginxConf(port, tmp, proxyPort);
      return spawn("nginx-http", ["nginx", "-p", join(tmp, "http"), "-c", conf, "-e", join(tmp, "http", "error.log")], {
        logDir,
      });
    }
    case "hold":
      return spawn("hold-server", [process.execPath, join(import.meta.dir, "hold-server.ts"), String(port)], { logDir });
    case "stream":
      return spawn("stream-server", [process.execPath, join(import.meta.dir, "stream-server.ts"), String(port)], { logDir });
  }
}

/**
 * httpNginxConf writes the HTTP backend's config: a separate nginx instance from
 * the stream peer, answering every request with a 3-byte body. Keep-alive is
 * effectively unlimited so the kept-alive workload never reconnects. With a
 * `proxyPort`, that port takes a PROXY protocol header (v1 or v2) before HTTP.
 */
function httpNginxConf(port: number, tmp: string, proxyPort?: number): string {
  const dir = join(tmp, "http");
  mkdirSync(dir, { recursive: true });
  const conf = join(dir, "nginx.conf");
  const temp = (what: string) => `${what}_temp_path ${join(dir, what)};`;
  writeFileSync(
    conf,
    `daemon off;
master_process on;
worker_processes auto;
worker_rlimit_nofile 20000;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 20000; }
http {
  access_log off;
  default_type text/plain;
  keepalive_requests 100000000;
  keepalive_timeout 1h;
  ${["client_body", "proxy", "fastcgi", "uwsgi", "scgi"].map(temp).join("\n  ")}
  server {
    listen ${HOST}:${port} backlog=4096;${proxyPort === undefined ? "" : `\n    listen ${HOST}:${proxyPort} proxy_protocol backlog=4096;`}
    location / { return 200 "ok\\n"; }
  }
}
`,
  );
  return conf;
}
