/**
 * `bun run bench`: sluice beside direct, HAProxy and NGINX stream on 127.0.0.1,
 * interleaved round by round; prints a Markdown table and writes a JSON file.
 * Usage: bun scripts/bench/index.ts [--quick] [--rounds N] [--only name,...] [--json out.json]
 * @module
 */
import { existsSync, mkdtempSync, rmSync } from "node:fs";
import os from "node:os";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { startBackend } from "./backends.ts";
import { has, machineInfo, missingHint, nginxStream } from "./machine.ts";
import { OPT_IN, PEERS, sendsProxy, startPeer, type PeerName, type PeerOptions } from "./peers.ts";
import { cpuMs, installExitHandlers, memKB, pinning } from "./proc.ts";
import { markdown, summarize, writeJson, type Sample } from "./report.ts";
import { WORKLOADS, type Context, type Settings, type Workload } from "./workloads.ts";

/** ALLOW_LIST: 99 blocks that do not match and, last, the loopback block, so every client walks the whole list. */
const ALLOW_LIST = [...Array.from({ length: 99 }, (_, i) => `10.${i}.0.0/16`), "127.0.0.0/8"];

const USAGE = `usage: bun scripts/bench/index.ts [options]
  --quick               1 round, 2 s runs, smaller counts: about a minute
  --rounds N            interleaved rounds (default 3; --quick 1)
  --only a,b            workloads: ${WORKLOADS.map((w) => w.name).join(", ")}
  --peers a,b           peers (default all but bun and sluice-b): ${PEERS.join(", ")}; bun is the smallest
                        correct proxy on Bun's sockets (scripts/bench/bun-proxy.ts), the runtime's own floor
  --seconds S           length of each iperf3/wrk run (default 10; --quick 2)
  --idle-connections N  connections held by "idle" (default 9800; --quick 2000)
  --haproxy-threads N   HAProxy nbthread (default: one per core, HAProxy's own default; 1 with --pin)
  --nginx-workers N     NGINX worker_processes, a number or auto (default auto; 1 with --pin)
  --sluice-workers N    sluice's workers, a number or auto (default auto, the whole machine; 1 with --pin);
                        "unset" leaves the key out, for a --sluice build older than workers
  --pin                 per-core mode: each proxy pinned to CPU 0 with one thread/worker, load tools,
                        backends and the bench itself on the other CPUs (taskset); compares cost per core
  --json PATH           where to write results (default bench-results/<timestamp>.json)
  --sluice PATH         the sluice binary to measure (default dist/sluice), e.g. an older build to compare
  --sluice-b PATH       also measure this sluice binary as peer "sluice-b", in the same interleaved rounds
                        (e.g. the last release, or dist/sluice again with other workers)
  --sluice-b-workers N  sluice-b's workers: a number, auto, or unset for a build older than workers (default 1)
  --buffer-size SIZE    sluice's buffer_size, e.g. 64KiB (default: sluice's own), to measure the trade-off
  --access-log          run sluice with [log] access = true (one line per connection, to its stderr log file)
  --defer-accept        run sluice with defer_accept = true (not sluice-b, HAProxy or NGINX: they keep their defaults)
  --allow-list          run sluice with an allow list of ${ALLOW_LIST.length} CIDRs, the one that admits 127.0.0.1 last
  --send-proxy v1|v2    proxies write a PROXY header to the backend (sluice send_proxy, HAProxy send-proxy[-v2],
                        NGINX proxy_protocol with v1 only); only the workloads on the http backend run`;

const ROOT = resolve(import.meta.dir, "../..");
const fail = (msg: string): never => {
  console.error(`bench: ${msg}`);
  process.exit(1);
};
const warn = (msg: string) => console.error(`bench: warning: ${msg}`);

const { values: flags } = parseArgs({
  options: {
    quick: { type: "boolean", default: false },
    rounds: { type: "string" },
    only: { type: "string" },
    peers: { type: "string" },
    seconds: { type: "string" },
    "idle-connections": { type: "string" },
    "haproxy-threads": { type: "string" },
    "nginx-workers": { type: "string" },
    "sluice-workers": { type: "string" },
    "sluice-b": { type: "string" },
    "sluice-b-workers": { type: "string" },
    json: { type: "string" },
    sluice: { type: "string" },
    "buffer-size": { type: "string" },
    "access-log": { type: "boolean", default: false },
    "allow-list": { type: "boolean", default: false },
    "defer-accept": { type: "boolean", default: false },
    "send-proxy": { type: "string" },
    pin: { type: "boolean", default: false },
    help: { type: "boolean", default: false },
  },
});
if (flags.help) {
  console.log(USAGE);
  process.exit(0);
}

function intFlag(name: string, value: string | undefined, fallback: number, min = 1): number {
  if (value === undefined) return fallback;
  const n = Number(value);
  if (!Number.isInteger(n) || n < min) fail(`--${name} must be an integer ≥ ${min}, got "${value}"`);
  return n;
}

function listFlag<T extends string>(name: string, value: string | undefined, all: readonly T[], byDefault: readonly T[] = all): T[] {
  if (value === undefined) return [...byDefault];
  const picked = value.split(",").map((s) => s.trim()).filter(Boolean);
  const unknown = picked.filter((p) => !all.includes(p as T));
  if (unknown.length > 0) fail(`--${name}: unknown ${unknown.join(", ")} (known: ${all.join(", ")})`);
  return all.filter((a) => picked.includes(a));
}

const sendProxyFlag = flags["send-proxy"];
if (sendProxyFlag !== undefined && sendProxyFlag !== "v1" && sendProxyFlag !== "v2") fail(`--send-proxy must be v1 or v2, got "${sendProxyFlag}"`);
const sendProxy = sendProxyFlag as "v1" | "v2" | undefined;

const quick = flags.quick === true;
const rounds = intFlag("rounds", flags.rounds, quick ? 1 : 3);
const settings: Settings = {
  quick,
  seconds: intFlag("seconds", flags.seconds, quick ? 2 : 10),
  redisRequests: quick ? 500_000 : 2_000_000,
  // 9,800 keeps a proxy's two fds per connection under the 20,000 fd limit.
  idleConnections: intFlag("idle-connections", flags["idle-connections"], quick ? 2000 : 9800),
  warmup: !quick,
};
// Each peer runs with the setting that measured best for it on 2 shared cores:
// HAProxy's default of one thread per core, NGINX one worker per core (auto).
// --pin: one core each, the field's per-core comparison (HAProxy nbthread 1, NGINX one worker).
const pin = flags.pin === true;
if (pin) {
  if (!has("taskset")) fail("--pin needs taskset (Debian package util-linux)");
  if (os.availableParallelism() < 2) fail("--pin needs at least 2 CPUs: one for the proxy, the rest for the load");
  pinning.proxy = "0";
  const last = os.availableParallelism() - 1;
  pinning.rest = last === 1 ? "1" : `1-${last}`;
  // The bench's own threads (the idle workload's client runs in it too) stay off the proxy's core.
  Bun.spawnSync(["taskset", "-a", "-cp", pinning.rest, String(process.pid)], { stdout: "ignore", stderr: "ignore" });
}
const haproxyThreads = intFlag("haproxy-threads", flags["haproxy-threads"], pin ? 1 : os.availableParallelism());
const nginxWorkers = flags["nginx-workers"] ?? (pin ? "1" : "auto");
if (!/^(\d+|auto)$/.test(nginxWorkers)) fail(`--nginx-workers must be a number or "auto"`);
const sluiceWorkers = flags["sluice-workers"] ?? (pin ? "1" : "auto");
if (!/^(\d+|auto|unset)$/.test(sluiceWorkers)) fail(`--sluice-workers must be a number, "auto" or "unset"`);

// Check every tool up front: skip what is missing with a reason, install nothing.
let peers = listFlag("peers", flags.peers, PEERS, PEERS.filter((p) => !OPT_IN.includes(p) || (p === "sluice-b" && flags["sluice-b"] !== undefined)));
const sluiceBWorkers = flags["sluice-b-workers"] ?? "1";
if (!/^(\d+|auto|unset)$/.test(sluiceBWorkers)) fail(`--sluice-b-workers must be a number, "auto" or "unset"`);
const sluiceBin = flags.sluice ?? join(ROOT, "dist", "sluice");
if (peers.includes("sluice") && !existsSync(sluiceBin)) {
  fail(`${sluiceBin} not found: build it with \`bun run build\` (\`bun run bench\` does), or leave sluice out with --peers`);
}
const streamModule = nginxStream();
const available: Record<PeerName, string | null> = {
  direct: null,
  sluice: null,
  "sluice-b": flags["sluice-b"] === undefined ? "give its binary with --sluice-b PATH" : existsSync(flags["sluice-b"]) ? null : `${flags["sluice-b"]} not found`,
  bun: null,
  haproxy: has("haproxy") ? null : missingHint("haproxy"),
  nginx: streamModule !== null ? null : has("nginx") ? "nginx has no stream module (Debian package libnginx-mod-stream); run scripts/bench/setup.sh" : missingHint("nginx"),
};
peers = peers.filter((p) => {
  const why = available[p];
  if (why) warn(`skipping peer ${p}: ${why}`);
  return !why;
});
const workloads = listFlag("only", flags.only, WORKLOADS.map((w) => w.name)).map((n) => WORKLOADS.find((w) => w.name === n)!)
  .filter((w) => {
    const missing = [...w.tools, ...(w.backend === "http" ? ["nginx"] : [])].filter((t) => !has(t));
    if (missing.length > 0) warn(`skipping workload ${w.name}: ${missing.map(missingHint).join("; ")}`);
    if (sendProxy !== undefined && w.backend !== "http" && missing.length === 0) warn(`skipping workload ${w.name}: its backend cannot read a PROXY header (--send-proxy)`);
    return missing.length === 0 && (sendProxy === undefined || w.backend === "http");
  });
if (workloads.length === 0) fail("no workload can run");

const peerOptions: PeerOptions = {
  tmp: mkdtempSync(join(os.tmpdir(), "sluice-bench-")),
  sluiceBin,
  sluiceTop:
    (sluiceWorkers === "unset" ? "" : `workers = ${sluiceWorkers === "auto" ? '"auto"' : sluiceWorkers}\n`) + (flags["buffer-size"] ? `buffer_size = ${JSON.stringify(flags["buffer-size"])}\n` : ""),
  sluiceBBin: flags["sluice-b"],
  sluiceBTop:
    (sluiceBWorkers === "unset" ? "" : `workers = ${sluiceBWorkers === "auto" ? '"auto"' : sluiceBWorkers}\n`) +
    (flags["buffer-size"] ? `buffer_size = ${JSON.stringify(flags["buffer-size"])}\n` : ""),
  sluiceBApp: (flags["allow-list"] ? `allow = ${JSON.stringify(ALLOW_LIST)}\n` : "") + (sendProxy !== undefined ? `send_proxy = "${sendProxy}"\n` : ""),
  sluiceApp:
    (flags["allow-list"] ? `allow = ${JSON.stringify(ALLOW_LIST)}\n` : "") +
    (flags["defer-accept"] ? "defer_accept = true\n" : "") + (sendProxy !== undefined ? `send_proxy = "${sendProxy}"\n` : ""),
  sluiceTail: flags["access-log"] ? `\n[log]\naccess = true\n` : "",
  sendProxy,
  haproxyThreads,
  nginxWorkers,
  bunBin: process.execPath,
  nginxStreamModule: streamModule ?? "",
};
installExitHandlers();

/** measureOne starts a fresh proxy, runs the workload once and stops the proxy, whatever happens. */
async function measureOne(w: Workload, peer: PeerName, backendPort: number, round: number): Promise<Sample> {
  const running = await startPeer(peer, backendPort, peerOptions);
  try {
    const ctx: Context = { peer: running, tmp: peerOptions.tmp, settings };
    // The readiness probe went through the proxy to the backend; let that connection
    // finish there first (iperf3's server fails the next test if it overlaps).
    if (running.proc) await Bun.sleep(250);
    if (settings.warmup && w.warmup) await w.warmup(ctx);
    const pid = running.proc?.pid;
    const cpu0 = pid ? cpuMs(pid) : 0;
    const m = await w.measure(ctx);
    // A proxy that died mid-run (or right after binding) must not pass for a result.
    if (running.proc && running.proc.exitCode !== null) throw new Error(`${peer} exited during the run`);
    const values = { ...m.values };
    if (pid && w.cpu && m.work) values.cpu = ((cpuMs(pid) - cpu0) * w.cpu.scale) / m.work;
    if (pid && w.peakRss) values.peakRssMB = memKB(pid, "VmHWM") / 1024;
    return { workload: w.name, round, peer, values };
  } finally {
    await running.stop();
  }
}

const samples: Sample[] = [];
const startedAt = new Date();
console.error(`bench: ${workloads.map((w) => w.name).join(", ")} × ${rounds} round(s) × [${peers.join(", ")}]; configs and logs in ${peerOptions.tmp}`);
let failures = 0;
const fail1 = (tag: string, err: unknown): string => {
  failures++;
  const error = err instanceof Error ? err.message : String(err);
  console.error(`${tag}: FAILED: ${error}`);
  return error;
};

/** runWorkload: one backend for all its rounds; peers interleaved A B C D, A B C D, … */
async function runWorkload(w: Workload): Promise<void> {
  let backend;
  try {
    backend = await startBackend(w.backend, peerOptions.tmp, { proxyProtocol: sendProxy !== undefined });
  } catch (err) {
    fail1(`[${w.name}] backend ${w.backend}`, err);
    return;
  }
  try {
    for (let round = 1; round <= rounds; round++) {
      for (const peer of peers) {
        if (peer === "direct" && w.proxiedOnly) continue;
        const tag = `[${w.name} ${round}/${rounds}] ${peer}`;
        try {
          const port = sendsProxy(peer, peerOptions) ? backend.proxyPort! : backend.port;
          const s = await measureOne(w, peer, port, round);
          samples.push(s);
          console.error(`${tag}: ${Object.entries(s.values).map(([k, v]) => `${k}=${+v.toPrecision(4)}`).join(" ")}`);
        } catch (err) {
          samples.push({ workload: w.name, round, peer, values: {}, error: fail1(tag, err) });
        }
        await Bun.sleep(quick ? 200 : 1000); // let sockets in TIME_WAIT and CPU settle
      }
    }
  } finally {
    await backend.stop();
  }
}

try {
  for (const w of workloads) await runWorkload(w);
} finally {
  if (failures === 0) rmSync(peerOptions.tmp, { recursive: true, force: true });
  else console.error(`bench: ${failures} measurement(s) failed; configs and logs kept in ${peerOptions.tmp}`);
}

const machine = machineInfo(peers.includes("sluice") ? sluiceBin : null);
const rows = summarize(workloads, samples, peers);
const t = machine.tools;
const header = [
  `## sluice benchmark, ${startedAt.toISOString().slice(0, 16).replace("T", " ")} UTC${quick ? " (--quick)" : ""}`,
  "",
  `- machine: ${machine.nproc} × ${machine.cpu}, ${machine.memGiB} GiB, ${machine.kernel}, fd limit ${machine.fdLimit}`,
  `- tools: bun ${t.bun}` + (t.sluice ? `, sluice ${t.sluice} (workers ${sluiceWorkers})` : "") +
    (peers.includes("sluice-b") ? `, sluice-b ${flags["sluice-b"]} (workers ${sluiceBWorkers})` : "") +
    (peers.includes("bun") ? ", bun (scripts/bench/bun-proxy.ts: the smallest correct Bun proxy, one thread)" : "") +
    (t.haproxy ? `, HAProxy ${t.haproxy} (mode tcp, nbthread ${haproxyThreads})` : "") +
    (t.nginx ? `, NGINX ${t.nginx} (stream, worker_processes ${nginxWorkers})` : "") +
    (t.iperf3 ? `, iperf3 ${t.iperf3}` : "") + (t.wrk ? `, wrk ${t.wrk}` : "") + (t.redis ? `, redis ${t.redis}` : ""),
  `- method: ${rounds} round(s) of [${peers.join(", ")}] interleaved, medians over rounds; ratio = proxied ÷ direct in the same round;` +
    ` CPU = the proxy's process tree utime+stime over the measured run ÷ work; ${settings.seconds} s runs,` +
    ` ${settings.redisRequests.toLocaleString("en-US")} redis requests per test, ${settings.idleConnections.toLocaleString("en-US")} idle connections` +
    (settings.warmup ? ", 1 s warm-up before each measured run" : ", no warm-up") +
    (pin ? `; pinned: each proxy on CPU ${pinning.proxy} (taskset), load tools and backends on CPU ${pinning.rest}` : "") +
    (flags["access-log"] ? "; sluice with the access log on ([log] access = true, text, to a file)" : "") +
    (flags["defer-accept"] ? "; sluice with defer_accept = true" : "") +
    (flags["allow-list"] ? `; sluice with an allow list of ${ALLOW_LIST.length} CIDRs (the matching one last)` : "") +
    (sendProxy !== undefined ? `; PROXY ${sendProxy} header to the backend (nginx listen … proxy_protocol)${sendProxy === "v2" ? ", not from NGINX stream (v1 only)" : ""}` : ""),
];
console.log(markdown(header, rows, peers));

const stamp = startedAt.toISOString().replace(/[:.]/g, "-");
const jsonPath = resolve(flags.json ?? join(ROOT, "bench-results", `${stamp}.json`));
writeJson(jsonPath, {
  startedAt: startedAt.toISOString(),
  finishedAt: new Date().toISOString(),
  machine,
  options: {
    quick,
    rounds,
    peers,
    workloads: workloads.map((w) => w.name),
    settings,
    haproxyThreads,
    nginxWorkers,
    sluiceWorkers,
    sluiceB: peers.includes("sluice-b") ? { bin: flags["sluice-b"], workers: sluiceBWorkers } : undefined,
    accessLog: flags["access-log"],
    allowList: flags["allow-list"],
    deferAccept: flags["defer-accept"],
    sendProxy: sendProxy ?? "none",
  },
  rows,
  samples,
});
console.error(`bench: results written to ${jsonPath}`);
process.exit(failures > 0 ? 2 : 0);
