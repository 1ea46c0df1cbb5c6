/**
 * @module cpus: how many CPUs this process may really use, for `workers =
 * "auto"`: the CPUs in its affinity mask, lowered to its cgroup's CPU quota
 * (a container limited to 2 CPUs on a 32-core node gets 2 event loops, not
 * 32 that the kernel would throttle). The parsers are pure; usableCpus reads
 * /proc and /sys.
 */
import { readFileSync } from "node:fs";

/** cpuListSize counts a kernel CPU list such as "0-3,8,10-11" (Cpus_allowed_list); undefined when unreadable. */
export function cpuListSize(list: string): number | undefined {
  let n = 0;
  for (const part of list.trim().split(",")) {
    const m = /^(\d+)(?:-(\d+))?$/.exec(part);
    if (!m) return undefined;
    const lo = Number(m[1]);
    const hi = m[2] === undefined ? lo : Number(m[2]);
    if (hi < lo) return undefined;
    n += hi - lo + 1;
  }
  return n > 0 ? n : undefined;
}

/** quotaCpus reads cgroup v2 `cpu.max` ("max 100000" or "150000 100000"): CPUs allowed, rounded up; undefined: no quota. */
export function quotaCpus(cpuMax: string): number | undefined {
  const [quota, period] = cpuMax.trim().split(/\s+/);
  if (quota === undefined || quota === "max" || period === undefined) return undefined;
  const q = Number(quota);
  const p = Number(period);
  if (!(q > 0) || !(p > 0)) return undefined;
  return Math.max(1, Math.ceil(q / p));
}

function read(path: string): string | undefined {
  try {
    return readFileSync(path, "utf8");
  } catch {
    return undefined;
  }
}

/** usableCpus is the affinity mask's size, capped by the cgroup quota; navigator.hardwareConcurrency where /proc says nothing. */
export function usableCpus(): number {
  const status = read("/proc/self/status");
  const list = status === undefined ? undefined : /^Cpus_allowed_list:\s*(.+)$/m.exec(status)?.[1];
  const affinity = (list === undefined ? undefined : cpuListSize(list)) ?? navigator.hardwareConcurrency ?? 1;
  const cpuMax = read("/sys/fs/cgroup/cpu.max");
  const quota = cpuMax === undefined ? undefined : quotaCpus(cpuMax);
  return Math.max(1, Math.min(affinity, quota ?? affinity));
}
