/**
 * What is installed and what machine this is: the tool check that runs before
 * anything starts, and the facts printed above the table.
 * @module
 */
import { existsSync, readFileSync } from "node:fs";
import os from "node:os";
import { STREAM_MODULE } from "./peers.ts";

/** Which executable each tool name is, and the Debian package that brings it. */
const PACKAGES: Record<string, string> = {
  haproxy: "haproxy",
  nginx: "nginx + libnginx-mod-stream",
  iperf3: "iperf3",
  wrk: "wrk",
  "redis-server": "redis-server",
  "redis-benchmark": "redis-tools",
};

export function has(tool: string): boolean {
  return Bun.which(tool) !== null;
}

/** missingHint names what is missing and how to get it (nothing is installed silently). */
export function missingHint(tool: string): string {
  return `${tool} not found (Debian package ${PACKAGES[tool] ?? tool}); run scripts/bench/setup.sh`;
}

/**
 * nginxStream says how this nginx gets its stream module: a load_module path
 * (Debian's dynamic module), "" when built in, or null when it has none.
 */
export function nginxStream(): string | null {
  if (!has("nginx")) return null;
  if (existsSync(STREAM_MODULE)) return STREAM_MODULE;
  const v = versionOf(["nginx", "-V"]);
  return /--with-stream(?!=dynamic)/.test(v) ? "" : null;
}

/** versionOf runs a tool's version flag (bounded to 5 s) and returns what it printed. */
function versionOf(cmd: string[]): string {
  try {
    const r = Bun.spawnSync(cmd, { stdout: "pipe", stderr: "pipe", timeout: 5000 });
    return `${r.stdout.toString()}${r.stderr.toString()}`.trim();
  } catch {
    return "";
  }
}

function pick(text: string, re: RegExp): string {
  return text.match(re)?.[1] ?? "?";
}

export interface MachineInfo {
  nproc: number;
  cpu: string;
  kernel: string;
  memGiB: number;
  fdLimit: string;
  tools: Record<string, string>;
}

/** machineInfo gathers the facts a reader needs to compare this run with another. */
export function machineInfo(sluiceBin: string | null): MachineInfo {
  const cpuinfo = readFileSync("/proc/cpuinfo", "utf8");
  const tools: Record<string, string> = { bun: Bun.version };
  if (sluiceBin) tools.sluice = pick(versionOf([sluiceBin, "--version"]), /(\d+\.\d+\.\d+\S*)/);
  if (has("haproxy")) tools.haproxy = pick(versionOf(["haproxy", "-v"]), /version (\S+)/);
  if (has("nginx")) tools.nginx = pick(versionOf(["nginx", "-v"]), /nginx\/(\S+)/);
  if (has("iperf3")) tools.iperf3 = pick(versionOf(["iperf3", "--version"]), /iperf (\S+)/);
  if (has("wrk")) tools.wrk = pick(versionOf(["wrk", "-v"]), /wrk (\S+)/);
  if (has("redis-benchmark")) tools.redis = pick(versionOf(["redis-benchmark", "--version"]), /redis-benchmark (\S+)/);
  return {
    nproc: os.availableParallelism(),
    cpu: pick(cpuinfo, /^model name\s*:\s*(.+)$/m),
    kernel: `${os.type()} ${os.release()}`,
    memGiB: Math.round(os.totalmem() / 2 ** 30),
    fdLimit: versionOf(["/bin/sh", "-c", "ulimit -Hn"]),
    tools,
  };
}
