/**
 * @module chaos/path: the way a scenario's clients reach its targets: straight
 * to the target (the baseline that shows what the kernel itself does) or
 * through a sluice process started for the run.
 */
import { readdirSync, readFileSync } from "node:fs";
import { freePort, HOST } from "../../test/helpers/net.ts";
import { poll, startSluice, type Sluice } from "../../test/helpers/sluice.ts";

export type Via = "direct" | "sluice";

/** Settings every scenario receives from the runner. */
export interface Settings {
  /** streams per row (a scenario may split them into rounds). */
  streams: number;
  concurrency: number;
  /** clients at once in target-reset's burst half. */
  burst: number;
  /** seconds a row may run before it stops starting streams. */
  seconds: number;
  seed: number;
  /** the sluice binary (default dist/sluice). */
  binary?: string;
  /** top-level config lines for every sluice started, e.g. `buffer_size = "64KiB"`. */
  top?: string;
  /** tables appended to every sluice config, e.g. `[log]` with access = true. */
  tables?: string;
  /** progress lines go here. */
  log: (line: string) => void;
}

export interface Path extends AsyncDisposable {
  via: Via;
  /** where clients connect. */
  port: number;
  sluice?: Sluice;
  /** re-points sluice's app at other target ports (reload by SIGHUP); a no-op direct. */
  retarget(ports: number[]): Promise<void>;
}

export interface SluiceOptions {
  health?: string;
  /** extra top-level TOML (e.g. buffer_size), placed before any table. */
  top?: string;
  /** runs the binary under another command, e.g. a shell that lowers ulimit. */
  wrap?: (argv: string[]) => string[];
  /** extra [[apps]] tables. */
  apps?: string;
}

export function config(port: number, adminPort: number, targets: number[], o: SluiceOptions = {}): string {
  return [
    o.top ?? "",
    `shutdown_timeout = "1s"`,
    `[admin]\nlisten = "${HOST}:${adminPort}"`,
    `[health]\n${o.health ?? `interval = "30s"`}`,
    `[[apps]]\nname = "chaos"\nports = [${port}]\ntargets = [${targets.map((t) => `"${HOST}:${t}"`).join(", ")}]`,
    o.apps ?? "",
  ].join("\n");
}

/** open gives the path to targets on `targetPorts` (direct: the first one). */
export async function open(via: Via, targetPorts: number[], s: Settings, o: SluiceOptions = {}): Promise<Path> {
  o = { top: s.top, ...o, apps: [o.apps ?? "", s.tables ?? ""].join("\n") };
  if (via === "direct") {
    return { via, port: targetPorts[0]!, retarget: async () => {}, async [Symbol.asyncDispose]() {} };
  }
  const port = freePort();
  const adminPort = freePort();
  const sluice = await startSluice(config(port, adminPort, targetPorts, o), { adminPort, binary: s.binary, wrap: o.wrap });
  let reloads = 0;
  return {
    via,
    port,
    sluice,
    async retarget(ports) {
      await Bun.write(sluice.configPath, config(port, adminPort, ports, o));
      reloads++;
      const seen = countOf(sluice.output(), "reloaded ");
      const failed = countOf(sluice.output(), "reload failed");
      sluice.signal("SIGHUP");
      await poll(async () => sluice.output(), (t) => countOf(t, "reloaded ") > seen || countOf(t, "reload failed") > failed, 5000, `reload ${reloads} to be logged`);
      if (countOf(sluice.output(), "reload failed") > failed) throw new Error(`reload ${reloads} failed:\n${sluice.output().slice(-500)}`);
    },
    async [Symbol.asyncDispose]() {
      await sluice[Symbol.asyncDispose]();
    },
  };
}

function countOf(text: string, word: string): number {
  return text.split(word).length - 1;
}

/** drained waits until sluice reports no open client connection (direct: at once); false if it never does. */
export async function drained(p: Path, ms = 5000): Promise<boolean> {
  if (!p.sluice) return true;
  try {
    await poll(() => p.sluice!.status(), (st) => st.connections.active === 0, ms, "active connections to reach 0");
    return true;
  } catch {
    return false;
  }
}

/** fdCount counts a process's open file descriptors (Linux /proc). */
export function fdCount(pid: number): number {
  return readdirSync(`/proc/${pid}/fd`).length;
}

/** rssKB reads a process's resident set size from /proc. */
export function rssKB(pid: number): number {
  const m = /VmRSS:\s+(\d+) kB/.exec(readFileSync(`/proc/${pid}/status`, "utf8"));
  return m ? Number(m[1]) : NaN;
}
