/**
 * The workloads: each runs one load tool (or our idle client) against a port and
 * turns its output into named numbers, plus the amount of work done so the
 * runner can divide the proxy's CPU time by it.
 * @module
 */
import { readFileSync } from "node:fs";
import { join } from "node:path";
import type { BackendKind } from "./backends.ts";
import { HOST } from "./net.ts";
import { parseIperf, parseRedisBenchmark, parseWrk } from "./parse.ts";
import { memKB, run, spawn, stop } from "./proc.ts";
import type { RunningPeer } from "./peers.ts";

export interface Metric {
  key: string;
  label: string;
  better: "higher" | "lower";
  /** Also report this metric as a ratio to direct in the same round. */
  ratio?: boolean;
  digits?: number;
}

export interface Settings {
  quick: boolean;
  /** Seconds per measured run of iperf3 and wrk. */
  seconds: number;
  /** Requests per redis-benchmark test. */
  redisRequests: number;
  /** Connections held by the idle workload. */
  idleConnections: number;
  /** Run a short unmeasured pass first (JIT, caches, TCP state). */
  warmup: boolean;
}

export interface Context {
  peer: RunningPeer;
  tmp: string;
  settings: Settings;
}

export interface Measurement {
  values: Record<string, number>;
  /** Units of work in the measured interval (GB, connections, requests), for CPU per unit. */
  work?: number;
}

export interface Workload {
  name: string;
  title: string;
  /** Executables it needs besides the peers. */
  tools: string[];
  backend: BackendKind;
  metrics: Metric[];
  /** CPU per unit of work: value = proxy CPU ms × scale ÷ work. */
  cpu?: { label: string; scale: number; digits?: number };
  /** Report the proxy's peak RSS over its life (it is started fresh for each measurement). */
  peakRss?: boolean;
  /** Only meaningful with a proxy in the path: direct is skipped. */
  proxiedOnly?: boolean;
  warmup?(ctx: Context): Promise<void>;
  measure(ctx: Context): Promise<Measurement>;
}

async function tool(ctx: Context, name: string, cmd: string[], timeoutS: number): Promise<string> {
  const r = await run(`${name}-${ctx.peer.name}`, cmd, ctx.tmp, timeoutS * 1000);
  if (r.code !== 0) throw new Error(`${cmd.join(" ")} exited ${r.code}: ${(r.stderr || r.stdout).slice(-500)}`);
  return r.stdout;
}

/** iperf measures bulk bytes client → target, or target → client with `reverse` (iperf3 -R: the download direction). */
function iperf(streams: number, reverse = false): Workload {
  const args = (ctx: Context, seconds: number) =>
    ["iperf3", "-c", HOST, "-p", String(ctx.peer.port), "-t", String(seconds), "-P", String(streams), "-J", ...(reverse ? ["-R"] : [])];
  return {
    name: `iperf${streams}${reverse ? "r" : ""}`,
    title: `iperf3, ${streams} stream${streams === 1 ? "" : "s"}${reverse ? ", target → client" : ""}`,
    tools: ["iperf3"],
    backend: "iperf3",
    metrics: [{ key: "gbps", label: "throughput Gbit/s", better: "higher", ratio: true, digits: 2 }],
    cpu: { label: "CPU ms/GB", scale: 1 },
    peakRss: true,
    async warmup(ctx) {
      await tool(ctx, "iperf3-warmup", args(ctx, 1), 30);
    },
    async measure(ctx) {
      const r = parseIperf(await tool(ctx, "iperf3", args(ctx, ctx.settings.seconds), ctx.settings.seconds + 30));
      return { values: { gbps: r.bitsPerSecond / 1e9 }, work: r.bytes / 1e9 };
    },
  };
}

function wrk(close: boolean): Workload {
  const args = (ctx: Context, seconds: number) => [
    "wrk", "-t", "2", "-c", "64", "-d", `${seconds}s`, "--latency",
    ...(close ? ["-H", "Connection: close"] : []),
    `http://${HOST}:${ctx.peer.port}/`,
  ];
  return {
    name: close ? "connect" : "keepalive",
    title: close ? "new connections (wrk, Connection: close, 64 clients)" : "kept-alive requests (wrk, 64 clients)",
    tools: ["wrk"],
    backend: "http",
    metrics: [
      { key: "rps", label: close ? "connections/s" : "requests/s", better: "higher", ratio: true, digits: 0 },
      ...(close ? [] : [
        { key: "p50", label: "p50 latency ms", better: "lower", digits: 3 } as const,
        { key: "p99", label: "p99 latency ms", better: "lower", digits: 3 } as const,
      ]),
      { key: "errors", label: "socket errors", better: "lower", digits: 0 },
    ],
    cpu: { label: close ? "CPU µs/connection" : "CPU µs/request", scale: 1000 },
    peakRss: true,
    async warmup(ctx) {
      await tool(ctx, "wrk-warmup", args(ctx, 1), 30);
    },
    async measure(ctx) {
      const r = parseWrk(await tool(ctx, "wrk", args(ctx, ctx.settings.seconds), ctx.settings.seconds + 30));
      const values: Record<string, number> = { rps: r.requestsPerSecond, errors: r.errors };
      if (r.p50Ms !== null) values.p50 = r.p50Ms;
      if (r.p99Ms !== null) values.p99 = r.p99Ms;
      return { values, work: r.requests };
    },
  };
}

const redis: Workload = {
  name: "redis",
  title: "redis-benchmark SET/GET, pipeline 16",
  tools: ["redis-server", "redis-benchmark"],
  backend: "redis",
  metrics: [
    { key: "set", label: "SET ops/s", better: "higher", ratio: true, digits: 0 },
    { key: "get", label: "GET ops/s", better: "higher", ratio: true, digits: 0 },
  ],
  cpu: { label: "CPU µs/op", scale: 1000, digits: 2 },
  peakRss: true,
  async warmup(ctx) {
    await tool(ctx, "redis-warmup", redisArgs(ctx, 100_000), 60);
  },
  async measure(ctx) {
    const n = ctx.settings.redisRequests;
    const r = parseRedisBenchmark(await tool(ctx, "redis-benchmark", redisArgs(ctx, n), 300));
    if (r.SET === undefined || r.GET === undefined) throw new Error("redis-benchmark: SET or GET missing");
    return { values: { set: r.SET, get: r.GET }, work: 2 * n };
  },
};

function redisArgs(ctx: Context, n: number): string[] {
  return ["redis-benchmark", "-h", HOST, "-p", String(ctx.peer.port), "-t", "set,get", "-P", "16", "-n", String(n), "-q"];
}

/** idle holds N connections through the proxy: (RSS with N held − RSS before) ÷ N. */
const idle: Workload = {
  name: "idle",
  title: "idle connections held",
  tools: [],
  backend: "hold",
  proxiedOnly: true,
  peakRss: true,
  metrics: [
    { key: "kbPerConn", label: "KB per connection", better: "lower", digits: 2 },
    { key: "held", label: "connections held", better: "higher", digits: 0 },
  ],
  async measure(ctx) {
    const pid = ctx.peer.proc!.pid;
    const before = memKB(pid, "VmRSS");
    const n = ctx.settings.idleConnections;
    const client = spawn(`idle-client-${ctx.peer.name}`, [process.execPath, join(import.meta.dir, "idle-client.ts"),
      String(ctx.peer.port), String(n), "200"], { logDir: ctx.tmp, lines: true });
    try {
      const line = await firstLine(client.lines!, /^held (\d+) failed (\d+)/, 120_000);
      const held = Number(line[1]);
      if (held < n * 0.9) throw new Error(`only ${held} of ${n} connections could be held (${line[2]} failed)`);
      await Bun.sleep(500); // let the proxy finish any lazy per-connection set-up
      const after = memKB(pid, "VmRSS");
      return { values: { kbPerConn: (after - before) / held, held } };
    } finally {
      client.stdin?.end();
      await stop(client, 5000);
    }
  },
};

/**
 * stalled holds `clients` connections that never read while the backend
 * streams to each without end, and waits until the proxy's RSS settles (every
 * buffer on the way full): (RSS then − RSS before) ÷ clients. Beside it, the
 * kernel's TCP memory for the whole machine (every hop's socket buffers, from
 * /proc/net/sockstat), which the proxy's choices also move.
 */
function stalled(clients: number): Workload {
  return {
    name: `stalled${clients}`,
    title: `stalled clients (${clients.toLocaleString("en-US")} that never read, target streams)`,
    tools: [],
    backend: "stream",
    proxiedOnly: true,
    metrics: [
      { key: "kbPerClient", label: "proxy RSS KB per stalled client", better: "lower", digits: 1 },
      { key: "kernelKbPerClient", label: "kernel TCP KB per stalled client (all hops)", better: "lower", digits: 0 },
    ],
    async measure(ctx) {
      const pid = ctx.peer.proc!.pid;
      const before = memKB(pid, "VmRSS");
      const kernelBefore = tcpMemKB();
      const client = spawn(`stalled-client-${ctx.peer.name}`, [process.execPath, join(import.meta.dir, "stalled-client.ts"),
        String(ctx.peer.port), String(clients)], { logDir: ctx.tmp, lines: true });
      try {
        const line = await firstLine(client.lines!, /^held (\d+) failed (\d+)/, 120_000);
        const held = Number(line[1]);
        if (held < clients) throw new Error(`only ${held} of ${clients} stalled clients connected (${line[2]} failed)`);
        // Settled: RSS has moved less than 0.5 % over 2 s (8 samples), within 60 s.
        const samples: number[] = [];
        for (let i = 0; i < 240; i++) {
          await Bun.sleep(250);
          samples.push(memKB(pid, "VmRSS"));
          const window = samples.slice(-8);
          if (window.length === 8 && Math.max(...window) - Math.min(...window) <= Math.max(...window) * 0.005) break;
        }
        const after = memKB(pid, "VmRSS");
        return { values: { kbPerClient: (after - before) / held, kernelKbPerClient: (tcpMemKB() - kernelBefore) / held } };
      } finally {
        client.stdin?.end();
        await stop(client, 5000);
      }
    },
  };
}

/** tcpMemKB is the kernel's TCP socket memory for the whole machine (pages in /proc/net/sockstat). */
function tcpMemKB(): number {
  const m = /^TCP:.* mem (\d+)/m.exec(readFileSync("/proc/net/sockstat", "utf8"));
  return m === null ? Number.NaN : Number(m[1]) * 4;
}

/** startup: spawn → first accepted connection, and RSS a moment after. */
const startup: Workload = {
  name: "startup",
  title: "start-up and idle memory",
  tools: [],
  backend: "hold",
  proxiedOnly: true,
  metrics: [
    { key: "startMs", label: "start-up ms (spawn → accepts)", better: "lower", digits: 1 },
    { key: "idleRssMB", label: "RSS at idle MB", better: "lower", digits: 1 },
  ],
  async measure(ctx) {
    await Bun.sleep(300);
    return { values: { startMs: ctx.peer.readyMs, idleRssMB: memKB(ctx.peer.proc!.pid, "VmRSS") / 1024 } };
  },
};

async function firstLine(lines: AsyncIterableIterator<string>, re: RegExp, timeoutMs: number): Promise<RegExpMatchArray> {
  const timeout = Bun.sleep(timeoutMs).then(() => null);
  for (let i = 0; i < 1000; i++) {
    const next = await Promise.race([lines.next(), timeout]);
    if (next === null) throw new Error(`no line matching ${re} within ${timeoutMs} ms`);
    if (next.done) break;
    const m = next.value.match(re);
    if (m) return m;
  }
  throw new Error(`output ended without a line matching ${re}`);
}

/** WORKLOADS in the order they run. */
export const WORKLOADS: Workload[] = [startup, iperf(1), iperf(1, true), iperf(8), iperf(8, true), wrk(true), wrk(false), redis, idle, stalled(100), stalled(1000)];
