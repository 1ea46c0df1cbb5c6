/**
 * Child processes for the bench: spawn with PID tracking so nothing outlives
 * the run, and CPU time / memory of a process tree read from /proc.
 * @module
 */
import { readdirSync, readFileSync } from "node:fs";
import { join } from "node:path";

/** Proc is one spawned child: its PID, a label for messages and its exit. */
export interface Proc {
  readonly name: string;
  readonly pid: number;
  readonly exited: Promise<number>;
  /** null while running. */
  readonly exitCode: number | null;
  /** stdout as text when spawned with `capture`; resolves after exit. */
  readonly stdout: Promise<string>;
  readonly stderr: Promise<string>;
  /** stdout line by line, when spawned with `lines`. */
  readonly lines: AsyncIterableIterator<string> | null;
  readonly stdin: import("bun").FileSink | null;
}

export interface SpawnOptions {
  /** Directory for the child's stdout/stderr logs when not captured. */
  logDir: string;
  /** Keep stdout and stderr in memory (for tools whose output we parse). */
  capture?: boolean;
  /** Expose stdout as lines and open stdin as a pipe (for the idle client). */
  lines?: boolean;
  /** "proxy" for the proxy under test; anything else (load tools, backends) is "rest". See `pinning`. */
  role?: "proxy" | "rest";
}

/**
 * pinning: with --pin, the proxy under test runs on `proxy`'s CPUs and
 * everything else the bench starts (load tools, backends) on `rest`'s, through
 * taskset, so a proxy gets one whole core and competes with nothing.
 */
export const pinning: { proxy?: string; rest?: string } = {};

const live = new Map<number, Proc>();
const CLK_TCK = 100; // USER_HZ: fixed at 100 on every Linux architecture Bun supports.

/** Raise the soft fd limit to the hard one: a proxy holding 9,800 connections needs two fds each. */
const RAISE_FDS = 'ulimit -n "$(ulimit -Hn)" 2>/dev/null; exec "$@"';

/** spawn starts `cmd` through `sh -c exec`, so the PID we track is the command's own. */
export function spawn(name: string, cmd: string[], opts: SpawnOptions): Proc {
  const cpus = opts.role === "proxy" ? pinning.proxy : pinning.rest;
  const argv = [...(cpus !== undefined ? ["taskset", "-c", cpus] : []), "/bin/sh", "-c", RAISE_FDS, "sh", ...cmd];
  const safe = name.replace(/[^\w.-]/g, "_");
  const toFile = (ext: string) => Bun.file(join(opts.logDir, `${safe}.${ext}`));
  const piped = opts.capture === true || opts.lines === true;
  const sub = Bun.spawn(argv, {
    stdin: opts.lines ? "pipe" : "ignore",
    stdout: piped ? "pipe" : toFile("out"),
    stderr: opts.capture ? "pipe" : toFile("err"),
  });
  const text = (s: unknown) => (s instanceof ReadableStream ? new Response(s).text() : Promise.resolve(""));
  const outStream = sub.stdout instanceof ReadableStream ? sub.stdout : null;
  const proc: Proc = {
    name,
    pid: sub.pid,
    get exitCode() {
      return sub.exitCode;
    },
    exited: sub.exited.then((code) => {
      live.delete(sub.pid);
      return code;
    }),
    stdout: opts.lines ? Promise.resolve("") : text(sub.stdout),
    stderr: text(sub.stderr),
    lines: opts.lines && outStream ? readLines(outStream) : null,
    stdin: opts.lines && typeof sub.stdin === "object" && sub.stdin !== null ? sub.stdin : null,
  };
  live.set(sub.pid, proc);
  return proc;
}

async function* readLines(stream: ReadableStream<Uint8Array>): AsyncGenerator<string> {
  const decoder = new TextDecoder();
  let buf = "";
  for await (const chunk of stream) {
    buf += decoder.decode(chunk, { stream: true });
    let nl: number;
    while ((nl = buf.indexOf("\n")) >= 0) {
      yield buf.slice(0, nl);
      buf = buf.slice(nl + 1);
    }
  }
  if (buf) yield buf;
}

/** run spawns a tool, waits at most `timeoutMs` and returns its exit code and output. */
export async function run(
  name: string,
  cmd: string[],
  logDir: string,
  timeoutMs: number,
): Promise<{ code: number; stdout: string; stderr: string }> {
  const p = spawn(name, cmd, { logDir, capture: true });
  const timer = setTimeout(() => killTree(p.pid, "SIGKILL"), timeoutMs);
  try {
    const [code, stdout, stderr] = await Promise.all([p.exited, p.stdout, p.stderr]);
    return { code, stdout, stderr };
  } finally {
    clearTimeout(timer);
  }
}

/** stop sends SIGTERM to the tree's root, waits up to `graceMs`, then SIGKILLs whatever of the tree is left. */
export async function stop(p: Proc, graceMs = 3000): Promise<void> {
  const pids = treePids(p.pid); // taken first: nginx workers would be orphaned if the master died alone
  signal(p.pid, "SIGTERM");
  const done = await Promise.race([p.exited.then(() => true), Bun.sleep(graceMs).then(() => false)]);
  for (const pid of pids) if (!done || pid !== p.pid) signal(pid, "SIGKILL");
  await Promise.race([p.exited, Bun.sleep(1000)]);
  live.delete(p.pid);
}

/** killAllSync SIGKILLs every tracked tree; safe inside process.on("exit"). */
export function killAllSync(): void {
  for (const pid of [...live.keys()]) killTree(pid, "SIGKILL");
  live.clear();
}

function killTree(root: number, sig: NodeJS.Signals): void {
  for (const pid of treePids(root)) signal(pid, sig);
}

function signal(pid: number, sig: NodeJS.Signals): void {
  try {
    process.kill(pid, sig);
  } catch {
    // already gone
  }
}

/** statFields returns /proc/<pid>/stat from field 3 (state) on; comm may hold spaces, so split after ")". */
function statFields(pid: number): string[] | null {
  try {
    const s = readFileSync(`/proc/${pid}/stat`, "utf8");
    return s.slice(s.lastIndexOf(")") + 2).split(" ");
  } catch {
    return null;
  }
}

/** treePids lists `root` and all its descendants (nginx: master + workers). */
export function treePids(root: number): number[] {
  const children = new Map<number, number[]>();
  for (const ent of readdirSync("/proc")) {
    const pid = Number(ent);
    if (!Number.isInteger(pid)) continue;
    const ppid = Number(statFields(pid)?.[1]);
    if (!Number.isInteger(ppid)) continue;
    const list = children.get(ppid) ?? [];
    list.push(pid);
    children.set(ppid, list);
  }
  const out: number[] = [];
  const queue = statFields(root) ? [root] : [];
  while (queue.length > 0 && out.length < 10_000) {
    const pid = queue.shift()!;
    out.push(pid);
    queue.push(...(children.get(pid) ?? []));
  }
  return out;
}

/** cpuMs is user + system CPU time of the whole tree, in milliseconds. */
export function cpuMs(root: number): number {
  let ticks = 0;
  for (const pid of treePids(root)) {
    const f = statFields(pid);
    if (f) ticks += Number(f[11]) + Number(f[12]); // utime, stime (fields 14, 15)
  }
  return (ticks * 1000) / CLK_TCK;
}

/** memKB sums a /proc/<pid>/status field (VmRSS now, VmHWM peak) over the tree. */
export function memKB(root: number, field: "VmRSS" | "VmHWM"): number {
  let kb = 0;
  for (const pid of treePids(root)) {
    try {
      const m = readFileSync(`/proc/${pid}/status`, "utf8").match(new RegExp(`^${field}:\\s+(\\d+) kB`, "m"));
      if (m) kb += Number(m[1]);
    } catch {
      // exited between listing and reading
    }
  }
  return kb;
}

/** installExitHandlers makes sure no child outlives the bench, whether it ends, fails or is interrupted. */
export function installExitHandlers(): void {
  process.on("exit", killAllSync);
  for (const sig of ["SIGINT", "SIGTERM", "SIGHUP"] as const) {
    process.on(sig, () => {
      console.error(`\nbench: ${sig}, stopping ${live.size} child process(es)`);
      killAllSync();
      process.exit(130);
    });
  }
}
