/**
 * @module process-metrics: the standard Prometheus `process_*` facts about
 * sluice itself, read from Linux's /proc at scrape time (about 50 µs for all
 * of them). Elsewhere, or where /proc is not mounted, the facts it cannot
 * read are left out rather than reported as zero. The parsers are pure.
 */
import { readdirSync, readFileSync } from "node:fs";

/**
 * USER_HZ is the unit of the times in /proc/PID/stat: fixed at 100 by Linux's
 * user-space ABI on every architecture sluice is built for, whatever the
 * kernel's own tick rate (`getconf CLK_TCK`).
 */
const USER_HZ = 100;

/** ProcessSample is one reading; a field is undefined when it could not be read. */
export interface ProcessSample {
  /** user plus system CPU time, seconds. */
  cpuSeconds?: number;
  /** when the process started, seconds since the Unix epoch. */
  startTimeSeconds?: number;
  residentBytes?: number;
  /** open file descriptors, the one used to list them included (as Prometheus' Go client counts). */
  openFds?: number;
}

/** StatFields are the /proc/PID/stat fields sluice reports, in clock ticks. */
export interface StatFields {
  utime: number;
  stime: number;
  /** ticks after boot when the process started. */
  starttime: number;
}

/**
 * parseStat reads utime, stime and starttime (fields 14, 15 and 22) from
 * /proc/PID/stat. The command name (field 2) is in parentheses and may hold
 * spaces and parentheses itself, so fields are counted from the last `)`.
 */
export function parseStat(text: string): StatFields | undefined {
  const close = text.lastIndexOf(")");
  if (close === -1) return undefined;
  // After ") " comes field 3 (state); field n is at index n - 3.
  const f = text.slice(close + 2).trim().split(/\s+/);
  const utime = Number(f[14 - 3]);
  const stime = Number(f[15 - 3]);
  const starttime = Number(f[22 - 3]);
  if (![utime, stime, starttime].every((n) => Number.isFinite(n) && n >= 0)) return undefined;
  return { utime, stime, starttime };
}

/** parseBootTime reads `btime` (boot time, seconds since the epoch) from /proc/stat. */
export function parseBootTime(text: string): number | undefined {
  const m = /^btime\s+(\d+)\s*$/m.exec(text);
  return m ? Number(m[1]) : undefined;
}

/** parseResident reads `VmRSS` from /proc/PID/status, in bytes. */
export function parseResident(text: string): number | undefined {
  const m = /^VmRSS:\s+(\d+)\s+kB\s*$/m.exec(text);
  return m ? Number(m[1]) * 1024 : undefined;
}

/** ProcFs is how sampleProcess reads; tests pass their own. */
export interface ProcFs {
  read(path: string): string;
  list(path: string): string[];
}

const realFs: ProcFs = {
  read: (path) => readFileSync(path, "latin1"),
  list: (path) => readdirSync(path),
};

/** attempt runs `f`, turning a missing file (or any read error) into undefined. */
function attempt<T>(f: () => T): T | undefined {
  try {
    return f();
  } catch {
    return undefined;
  }
}

/** sampleProcess reads what it can of the current process; it never throws. */
export function sampleProcess(fs: ProcFs = realFs): ProcessSample {
  const stat = attempt(() => parseStat(fs.read("/proc/self/stat")));
  const boot = attempt(() => parseBootTime(fs.read("/proc/stat")));
  const sample: ProcessSample = {};
  if (stat !== undefined) {
    sample.cpuSeconds = (stat.utime + stat.stime) / USER_HZ;
    if (boot !== undefined) sample.startTimeSeconds = boot + stat.starttime / USER_HZ;
  }
  const resident = attempt(() => parseResident(fs.read("/proc/self/status")));
  if (resident !== undefined) sample.residentBytes = resident;
  const fds = attempt(() => fs.list("/proc/self/fd").length);
  if (fds !== undefined) sample.openFds = fds;
  return sample;
}
