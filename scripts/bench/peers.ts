/**
 * The proxies under test, each forwarding one listen port to one backend port
 * on 127.0.0.1, with configs generated into the run's temp dir. `direct` is the
 * baseline with no proxy: the client is simply given the backend's port.
 * @module
 */
import { mkdirSync, writeFileSync } from "node:fs";
import { join } from "node:path";
import { freePort, HOST, waitForPort } from "./net.ts";
import { spawn, stop, type Proc } from "./proc.ts";

/**
 * "sluice-b" is a second sluice measured in the same rounds (another build, or other workers); only with --sluice-b.
 * "bun" is the smallest correct proxy on Bun's socket API (bun-proxy.ts, one thread): what the runtime costs
 * any proxy built on it; only when --peers names it.
 */
export const PEERS = ["direct", "sluice", "sluice-b", "bun", "haproxy", "nginx"] as const;
/** OPT_IN peers run only when --peers (or --sluice-b) asks for them. */
export const OPT_IN: readonly PeerName[] = ["sluice-b", "bun"];
export type PeerName = (typeof PEERS)[number];

export interface PeerOptions {
  /** Temp dir that holds configs and logs. */
  tmp: string;
  sluiceBin: string;
  /** top-level lines added to sluice's config (e.g. buffer_size). */
  sluiceTop?: string;
  /** the "sluice-b" peer: its binary and its own top-level lines (workers). */
  sluiceBBin?: string;
  sluiceBTop?: string;
  /** sluice-b's app keys: sluiceApp without the options under test (defer_accept). */
  sluiceBApp?: string;
  /** keys added to sluice's app table (e.g. allow, send_proxy). */
  sluiceApp?: string;
  /** tables appended to sluice's config (e.g. [log] access = true). */
  sluiceTail?: string;
  /**
   * The PROXY header the proxies write to the backend, which must then expect
   * one (the http backend's proxyPort): sluice's send_proxy, HAProxy's
   * send-proxy / send-proxy-v2; NGINX stream writes v1 only, so with "v2" it
   * sends none and is pointed at the plain port.
   */
  sendProxy?: "v1" | "v2";
  /** HAProxy `nbthread`. */
  haproxyThreads: number;
  /** nginx `worker_processes`: a number or "auto". */
  nginxWorkers: string;
  /** the bun executable that runs bun-proxy.ts. */
  bunBin: string;
  /** Path for nginx's `load_module` of the stream module; "" when it is built in. */
  nginxStreamModule: string;
}

/** RunningPeer is one fresh proxy instance (or the direct baseline). */
export interface RunningPeer {
  readonly name: PeerName;
  /** The port a client connects to. */
  readonly port: number;
  /** The proxy's root process; null for direct. */
  readonly proc: Proc | null;
  /** Milliseconds from spawn until the listen port accepted a connection. */
  readonly readyMs: number;
  stop(): Promise<void>;
}

let instance = 0;

/** sendsProxy: `name` writes a PROXY header to its backend under these options. */
export function sendsProxy(name: PeerName, opts: PeerOptions): boolean {
  if (opts.sendProxy === undefined || name === "direct" || name === "bun") return false;
  return name !== "nginx" || opts.sendProxy === "v1";
}

/** startPeer starts a fresh instance of `name` in front of `backendPort` and waits until it accepts. */
export async function startPeer(name: PeerName, backendPort: number, opts: PeerOptions): Promise<RunningPeer> {
  if (name === "direct") return { name, port: backendPort, proc: null, readyMs: 0, stop: async () => {} };
  const port = freePort();
  const dir = join(opts.tmp, `${name}-${++instance}`);
  mkdirSync(dir, { recursive: true });
  const cmd = command(name, port, backendPort, dir, opts);
  const t0 = performance.now();
  const proc = spawn(`${name}-${instance}`, cmd, { logDir: dir, role: "proxy" });
  try {
    await waitForPort(port, { proc, everyMs: 1 });
  } catch (err) {
    await stop(proc);
    throw err;
  }
  const readyMs = performance.now() - t0;
  return { name, port, proc, readyMs, stop: () => stop(proc) };
}

function command(name: Exclude<PeerName, "direct">, port: number, backend: number, dir: string, opts: PeerOptions) {
  const conf = (file: string, text: string) => {
    const path = join(dir, file);
    writeFileSync(path, text);
    return path;
  };
  switch (name) {
    case "sluice":
      return [
        opts.sluiceBin,
        "-c",
        conf("sluice.toml", (opts.sluiceTop ?? "") + sluiceToml(port, backend) + (opts.sluiceApp ?? "") + (opts.sluiceTail ?? "")),
      ];
    case "sluice-b":
      return [
        opts.sluiceBBin!,
        "-c",
        conf("sluice-b.toml", (opts.sluiceBTop ?? "") + sluiceToml(port, backend) + (opts.sluiceBApp ?? "") + (opts.sluiceTail ?? "")),
      ];
    case "bun":
      return [opts.bunBin, join(import.meta.dir, "bun-proxy.ts"), String(port), String(backend)];
    case "haproxy":
      // -db: stay in the foreground, so the PID we hold is HAProxy itself.
      return ["haproxy", "-db", "-f", conf("haproxy.cfg", haproxyCfg(port, backend, opts.haproxyThreads, opts.sendProxy))];
    case "nginx":
      return ["nginx", "-p", dir, "-e", join(dir, "error.log"), "-c", conf("nginx.conf", nginxConf(port, backend, dir, opts))];
  }
}

/** sluiceToml: health checks every hour so active probes do not disturb the measurement; no admin. */
export function sluiceToml(port: number, backend: number): string {
  return `bind = "${HOST}"

[health]
interval = "1h"

[[apps]]
name = "bench"
ports = [${port}]
targets = ["${HOST}:${backend}"]
`;
}

/**
 * haproxyCfg: plain `mode tcp`, no logging, timeouts far beyond any workload.
 * HAProxy needs 2 × maxconn + 14 fds and exits at start-up if the limit is
 * lower, so maxconn 20000 cannot run under this machine's 20,000 fd limit:
 * 9,990 is the most that fits, and it covers the 9,800 idle connections.
 */
export function haproxyCfg(port: number, backend: number, threads: number, sendProxy?: "v1" | "v2"): string {
  const send = sendProxy === "v1" ? " send-proxy" : sendProxy === "v2" ? " send-proxy-v2" : "";
  return `global
  maxconn 9990
  ulimit-n 20000
  nbthread ${threads}

defaults
  mode tcp
  timeout connect 5s
  timeout client 1h
  timeout server 1h

frontend bench
  bind ${HOST}:${port}
  default_backend bench

backend bench
  server target ${HOST}:${backend}${send}
`;
}

/** nginxConf: NGINX `stream`, in the foreground, with pid and logs in the temp dir. */
export function nginxConf(port: number, backend: number, dir: string, opts: PeerOptions): string {
  const load = opts.nginxStreamModule ? `load_module ${opts.nginxStreamModule};\n` : "";
  return `${load}daemon off;
master_process on;
worker_processes ${opts.nginxWorkers};
worker_rlimit_nofile 20000;
pid ${join(dir, "nginx.pid")};
error_log ${join(dir, "error.log")} warn;
events { worker_connections 20000; }
stream {
  server {
    listen ${HOST}:${port};
    proxy_pass ${HOST}:${backend};${opts.sendProxy === "v1" ? "\n    proxy_protocol on;" : ""}
  }
}
`;
}

/** Debian builds the stream module as a dynamic module (package libnginx-mod-stream). */
export const STREAM_MODULE = "/usr/lib/nginx/modules/ngx_stream_module.so";
