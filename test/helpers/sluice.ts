/**
 * Test helpers: start the compiled `dist/sluice` on a config written to a temp
 * dir, wait for its ready banner, and kill it by PID when the test is done.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join, resolve } from "node:path";
import type { Subprocess } from "bun";
import { withTimeout } from "./net.ts";

export const BINARY = resolve(import.meta.dir, "../../dist/sluice");

export interface Sluice extends AsyncDisposable {
  proc: Subprocess<"ignore", "pipe", "pipe">;
  pid: number;
  dir: string;
  configPath: string;
  /** everything printed so far on stdout and stderr, interleaved in arrival order. */
  output(): string;
  /** resolves when the output contains `text`. */
  waitForOutput(text: string | RegExp, ms?: number): Promise<void>;
  admin(path: string, init?: RequestInit): Promise<Response>;
  status(): Promise<StatusDoc>;
  signal(sig: NodeJS.Signals): void;
  exited: Promise<number>;
}

export interface StatusDoc {
  draining: boolean;
  workers?: { worker: number; active: number; restarts: number; started_at: string }[];
  connections: { active: number; max: number; rejected: number; abandoned_dials: number };
  apps: {
    name: string;
    ports: number[];
    balancer: string;
    active: number;
    queued?: number;
    retired?: boolean;
    targets: { address: string; healthy: boolean; active: number; total: number; connect_errors: number; last_error?: string }[];
  }[];
}

export function tempDir(): string {
  return mkdtempSync(join(tmpdir(), "sluice-test-"));
}

/** run spawns the binary (dist/sluice unless `binary` is given) with `args` and resolves with its exit code and output, bounded by `ms`. */
export async function run(args: string[], ms = 10_000, binary = BINARY): Promise<{ code: number; stdout: string; stderr: string }> {
  const proc = Bun.spawn([binary, ...args], { stdin: "ignore", stdout: "pipe", stderr: "pipe" });
  try {
    const [stdout, stderr, code] = await withTimeout(
      Promise.all([new Response(proc.stdout).text(), new Response(proc.stderr).text(), proc.exited]),
      ms,
      `sluice ${args.join(" ")}`,
    );
    return { code, stdout, stderr };
  } finally {
    proc.kill("SIGKILL");
  }
}

/**
 * startSluice writes `toml` to a temp config and starts the binary on it.
 * `adminPort` must match the config's [admin] listen when the test uses admin().
 * `wrap` runs the binary under another command (e.g. a shell that lowers ulimit);
 * `binary` runs another build than dist/sluice.
 */
export async function startSluice(
  toml: string,
  opts: { adminPort?: number; wrap?: (argv: string[]) => string[]; ready?: boolean; binary?: string; env?: Record<string, string> } = {},
): Promise<Sluice> {
  const dir = tempDir();
  const configPath = join(dir, "config.toml");
  writeFileSync(configPath, toml);
  const argv = [opts.binary ?? BINARY, "-c", configPath];
  const proc = Bun.spawn(opts.wrap ? opts.wrap(argv) : argv, { stdin: "ignore", stdout: "pipe", stderr: "pipe", env: { ...process.env, ...opts.env } });
  let text = "";
  let waiters: { match: (t: string) => boolean; r: () => void }[] = [];
  const pump = async (stream: ReadableStream<Uint8Array>) => {
    const dec = new TextDecoder();
    for await (const chunk of stream) {
      text += dec.decode(chunk, { stream: true });
      waiters = waiters.filter((w) => (w.match(text) ? (w.r(), false) : true));
    }
  };
  void pump(proc.stdout);
  void pump(proc.stderr);
  const exited = proc.exited;
  const s: Sluice = {
    proc,
    pid: proc.pid,
    dir,
    configPath,
    output: () => text,
    waitForOutput(pattern, ms = 10_000) {
      const match = (t: string) => (typeof pattern === "string" ? t.includes(pattern) : pattern.test(t));
      if (match(text)) return Promise.resolve();
      const p = new Promise<void>((r) => waiters.push({ match, r }));
      const died = exited.then((code) => {
        throw new Error(`sluice exited (${code}) before printing ${pattern}:\n${text}`);
      });
      return withTimeout(Promise.race([p, died]), ms, `sluice to print ${pattern}; output so far:\n${text}`);
    },
    admin: (path, init) => fetch(`http://127.0.0.1:${opts.adminPort}${path}`, init),
    status: async () => (await (await fetch(`http://127.0.0.1:${opts.adminPort}/status`)).json()) as StatusDoc,
    signal: (sig) => process.kill(proc.pid, sig),
    exited,
    async [Symbol.asyncDispose]() {
      try {
        process.kill(proc.pid, "SIGKILL");
      } catch {}
      await withTimeout(exited, 5000, "sluice to exit").catch(() => {});
      rmSync(dir, { recursive: true, force: true });
    },
  };
  if (opts.ready !== false) await s.waitForOutput(" ready: ");
  return s;
}

/** poll re-reads `get` until `ok` holds, at most `ms`; for state only visible through /status. */
export async function poll<T>(get: () => Promise<T>, ok: (v: T) => boolean, ms = 5000, what = "condition"): Promise<T> {
  const deadline = performance.now() + ms;
  let last: T | undefined;
  for (let i = 0; i < 10_000 && performance.now() < deadline; i++) {
    last = await get();
    if (ok(last)) return last;
    await Bun.sleep(20);
  }
  throw new Error(`timed out after ${ms}ms waiting for ${what}; last value: ${JSON.stringify(last)}`);
}

/**
 * steady resolves once `read()` has returned the same value `times` polls in
 * a row, `everyMs` apart, at most `ms` (a stream stalled: its byte count
 * stopped moving).
 */
export async function steady(read: () => number, what: string, opts: { times?: number; everyMs?: number; ms?: number } = {}): Promise<void> {
  let last = Number.NaN;
  let still = 0;
  await poll(
    async () => {
      if (opts.everyMs !== undefined) await Bun.sleep(opts.everyMs);
      const v = read();
      still = v === last ? still + 1 : 0;
      last = v;
      return still;
    },
    (n) => n >= (opts.times ?? 10),
    opts.ms ?? 20_000,
    what,
  );
}

/** appToml renders one [[apps]] table. */
export function appToml(name: string, ports: number[], targets: string[], extra = ""): string {
  return `[[apps]]\nname = "${name}"\nports = [${ports.join(", ")}]\ntargets = [${targets.map((t) => `"${t}"`).join(", ")}]\n${extra}\n`;
}
