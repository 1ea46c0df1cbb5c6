/**
 * Binary upgrade with the compiled binary: SIGUSR2 starts the binary found
 * at the path sluice was started from (replaced on disk by rename, as a
 * package manager does), hands it every listening socket, and drains the old
 * process once the new one serves. Clients keep connecting throughout and
 * long-lived sessions stay open across each upgrade: nothing may be refused,
 * reset or corrupted, and a target drained through the admin API stays
 * drained. A successor that fails leaves the old process serving.
 */
import { afterAll, beforeAll, expect, test } from "bun:test";
import { copyFileSync, readFileSync, renameSync, rmSync, writeFileSync } from "node:fs";
import { join, resolve } from "node:path";
import type { Socket } from "bun";
import { buildCommand } from "../../scripts/build-command.ts";
import { echoBackend, freePorts, HOST, withTimeout } from "../helpers/net.ts";
import { Load } from "../helpers/load.ts";
import { appToml, BINARY, poll, startSluice, tempDir, type Sluice } from "../helpers/sluice.ts";

const ROOT = resolve(import.meta.dir, "../..");
const dir = tempDir();
/** a second build of the same tree that reports another version (`0.1.0+b`), so an upgrade visibly changes it. */
const BUILD_B = join(dir, "sluice-b");
let versionA = "";

beforeAll(async () => {
  const build = Bun.spawn(buildCommand(ROOT, { outfile: BUILD_B, extra: ["--define", 'SLUICE_BUILD_TAG="b"'] }), { stdout: "ignore", stderr: "pipe" });
  const code = await withTimeout(build.exited, 120_000, "the second build");
  if (code !== 0) throw new Error(`build of ${BUILD_B} failed: ${await new Response(build.stderr).text()}`);
  versionA = (await new Response(Bun.spawn([BINARY, "--version"]).stdout).text()).trim().replace(/^sluice /, "");
}, 130_000);

afterAll(() => rmSync(dir, { recursive: true, force: true }));

interface ProcessInfo {
  pid: number;
  version: string;
  started_at: string;
}

async function processOf(sl: Sluice): Promise<ProcessInfo> {
  return ((await (await sl.admin("/status")).json()) as { process: ProcessInfo }).process;
}

/** gone: the process has exited (a zombie waiting for its reaper counts as gone). */
function gone(pid: number): boolean {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
}

/** install puts `binary` at `path` the way a package manager does: a copy beside it, renamed over it. */
function install(binary: string, path: string): void {
  copyFileSync(binary, `${path}.new`);
  renameSync(`${path}.new`, path);
}

/** LongLived is a session that stays open across an upgrade: it echoes a line on demand and then ends cleanly. */
class LongLived {
  #got = "";
  #sent = "";
  #closed = Promise.withResolvers<Error | undefined>();
  private constructor(readonly socket: Socket<undefined>) {}

  static async open(port: number): Promise<LongLived> {
    let me: LongLived | undefined;
    const socket = await Bun.connect({
      hostname: HOST,
      port,
      allowHalfOpen: true,
      socket: {
        data: (_s, d) => void (me!.#got += d.toString()),
        end: (s) => void s.end(),
        close: (_s, err) => me?.closed(err),
        error: () => {},
      },
    });
    me = new LongLived(socket);
    await me.say("hello");
    return me;
  }

  closed(err: Error | undefined): void {
    this.#closed.resolve(err);
  }

  async say(line: string): Promise<void> {
    this.#sent += `${line}\n`;
    this.socket.write(`${line}\n`);
    await poll(async () => this.#got, (g) => g === this.#sent, 5000, `the echo of ${line}`);
  }

  /** finish ends the session from the client and resolves to whether it closed cleanly with every byte echoed. */
  async finish(): Promise<boolean> {
    this.socket.shutdown();
    const err = await withTimeout(this.#closed.promise, 5000, "the session to close");
    return err === undefined && this.#got === this.#sent;
  }
}

test("ten upgrades in a row, alternating two builds, under load: nothing refused, reset or corrupted; drained stays drained", async () => {
  using a = echoBackend();
  using b = echoBackend();
  const [port, admin] = freePorts(2) as [number, number];
  const path = join(dir, "sluice");
  install(BINARY, path);
  const pids = new Set<number>();
  await using sl = await startSluice(
    `bind = "127.0.0.1"\nworkers = 2\nshutdown_timeout = "20s"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[health]\ninterval = "1h"\n` +
      appToml("up", [port], [`127.0.0.1:${a.port}`, `127.0.0.1:${b.port}`]),
    { adminPort: admin, binary: path },
  );
  try {
    expect((await sl.admin(`/apps/up/targets/${encodeURIComponent(`127.0.0.1:${b.port}`)}/drain`, { method: "POST" })).status).toBe(200);
    const load = new Load(port, 4);
    const versions: string[] = [];
    for (let i = 0; i < 10; i++) {
      const before = await processOf(sl);
      pids.add(before.pid);
      const session = await LongLived.open(port);
      const next = i % 2 === 0 ? BUILD_B : BINARY;
      install(next, path);
      process.kill(before.pid, "SIGUSR2");
      const after = await poll(() => processOf(sl).catch(() => before), (p) => p.pid !== before.pid, 15_000, `upgrade ${i + 1} to take over`).catch((e) => {
        throw new Error(`${(e as Error).message}\n${sl.output()}`);
      });
      pids.add(after.pid);
      versions.push(after.version);
      // The old process still holds the session and drains; the session goes on, then ends cleanly.
      expect(gone(before.pid)).toBe(false);
      await session.say(`after upgrade ${i + 1}`);
      expect(await session.finish()).toBe(true);
      await poll(async () => gone(before.pid), (g) => g, 10_000, `old process ${before.pid} to exit`);
    }
    await load.stop();
    console.log(`[figure] 10 upgrades: ${load.ok} connections ok, ${load.refused} refused, ${load.reset} reset, ${load.corrupt} corrupt`);
    expect({ refused: load.refused, reset: load.reset, corrupt: load.corrupt }).toEqual({ refused: 0, reset: 0, corrupt: 0 });
    expect(load.ok).toBeGreaterThan(0);
    expect(versions).toEqual(Array.from({ length: 10 }, (_, i) => (i % 2 === 0 ? `${versionA}+b` : versionA)));
    // The drained target is still drained in the tenth process, and every connection went to the other.
    const status = (await (await sl.admin("/status")).json()) as { apps: { targets: { address: string; enabled: boolean }[] }[] };
    expect(status.apps[0]!.targets.map((t) => [t.address, t.enabled])).toEqual([
      [`127.0.0.1:${a.port}`, true],
      [`127.0.0.1:${b.port}`, false],
    ]);
    // b saw each process's one health probe at start, and never a client: every session went to a.
    expect(b.accepted).toBe(pids.size);
    expect(a.accepted).toBeGreaterThanOrEqual(load.ok + 10);
    expect(await (await sl.admin("/metrics")).text()).toContain(`sluice_build_info{version="${versionA}"} 1`);
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
}, 120_000);

test("a successor that cannot start (a bad config, a binary that exits at once) leaves the old process serving", async () => {
  using a = echoBackend();
  const [port, admin] = freePorts(2) as [number, number];
  const path = join(dir, "sluice-fail");
  install(BINARY, path);
  await using sl = await startSluice(
    `bind = "127.0.0.1"\nworkers = 2\nwatch = false\n[admin]\nlisten = "127.0.0.1:${admin}"\n[health]\ninterval = "1h"\n` + appToml("up", [port], [`127.0.0.1:${a.port}`]),
    { adminPort: admin, binary: path },
  );
  const load = new Load(port, 2);
  // 1: the config on disk is now invalid; the new process refuses it.
  const good = readFileSync(sl.configPath, "utf8");
  writeFileSync(sl.configPath, good + "\nbogus = 1\n");
  sl.signal("SIGUSR2");
  await sl.waitForOutput("upgrade failed, this process keeps serving");
  writeFileSync(sl.configPath, good);
  // 2: the binary at the path exits at once.
  writeFileSync(`${path}.new`, "#!/bin/sh\nexit 3\n", { mode: 0o755 });
  renameSync(`${path}.new`, path);
  sl.signal("SIGUSR2");
  await poll(async () => sl.output().split("upgrade failed").length - 1, (n) => n >= 2, 10_000, "the second failure");
  await load.stop();
  expect((await processOf(sl)).pid).toBe(sl.pid);
  expect(await (await sl.admin("/metrics")).text()).toContain('sluice_upgrades_total{result="failure"} 2');
  expect({ refused: load.refused, reset: load.reset, corrupt: load.corrupt }).toEqual({ refused: 0, reset: 0, corrupt: 0 });
  expect(load.ok).toBeGreaterThan(0);
}, 60_000);

const python = Bun.which("python3");

test.skipIf(!python)("systemd is told READY=1, and the new main PID after an upgrade (NOTIFY_SOCKET)", async () => {
  using a = echoBackend();
  const [port, admin] = freePorts(2) as [number, number];
  const sock = join(dir, "notify.sock");
  // A stand-in for systemd: prints each datagram on the notify socket as one JSON line.
  const listener = Bun.spawn(
    [python!, "-c", "import socket,sys,json\ns=socket.socket(socket.AF_UNIX,socket.SOCK_DGRAM)\ns.bind(sys.argv[1])\nprint('bound',flush=True)\nwhile True: print(json.dumps(s.recv(4096).decode()),flush=True)", sock],
    { stdout: "pipe", stderr: "ignore" },
  );
  const lines: string[] = [];
  const pump = (async () => {
    const dec = new TextDecoder();
    let buf = "";
    for await (const chunk of listener.stdout) {
      buf += dec.decode(chunk, { stream: true });
      const parts = buf.split("\n");
      buf = parts.pop()!;
      lines.push(...parts);
    }
  })();
  const path = join(dir, "sluice-notify");
  install(BINARY, path);
  const pids: number[] = [];
  try {
    await poll(async () => lines, (l) => l.includes("bound"), 5000, "the notify socket");
    await using sl = await startSluice(
      `bind = "127.0.0.1"\n[admin]\nlisten = "127.0.0.1:${admin}"\n[health]\ninterval = "1h"\n` + appToml("up", [port], [`127.0.0.1:${a.port}`]),
      { adminPort: admin, binary: path, env: { NOTIFY_SOCKET: sock } },
    );
    pids.push(sl.pid);
    const said = () => lines.filter((l) => l !== "bound").map((l) => JSON.parse(l) as string);
    await poll(async () => said(), (s) => s.includes(`MAINPID=${sl.pid}\nREADY=1`), 5000, "READY=1");
    sl.signal("SIGUSR2");
    const next = await poll(() => processOf(sl).catch(() => ({ pid: sl.pid }) as ProcessInfo), (p) => p.pid !== sl.pid, 15_000, "the upgrade");
    pids.push(next.pid);
    // The new process says it is ready and main; the old hands the role over; neither says STOPPING.
    await poll(async () => said(), (s) => s.includes(`MAINPID=${next.pid}\nREADY=1`) && s.includes(`MAINPID=${next.pid}`), 5000, "the new MAINPID");
    expect(said().some((s) => s.includes("STOPPING=1"))).toBe(false);
    process.kill(next.pid, "SIGTERM");
    await poll(async () => said(), (s) => s.includes("STOPPING=1"), 5000, "STOPPING=1 on a stop");
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
    listener.kill();
    await pump.catch(() => {});
  }
}, 60_000);

test("sluice upgrade --binary asks the running process over its admin API, and says what came of it", async () => {
  using a = echoBackend();
  const [port, admin] = freePorts(2) as [number, number];
  const pids: number[] = [];
  await using sl = await startSluice(
    `bind = "127.0.0.1"\nwatch = false\n[admin]\nlisten = "127.0.0.1:${admin}"\ntoken = "s3cret"\n[health]\ninterval = "1h"\n` + appToml("up", [port], [`127.0.0.1:${a.port}`]),
    { adminPort: admin },
  );
  pids.push(sl.pid);
  try {
    const bad = Bun.spawnSync([BINARY, "upgrade", "-c", sl.configPath, "--binary", "/nonexistent/sluice"], { stdout: "pipe", stderr: "pipe" });
    expect(bad.exitCode).toBe(1);
    expect(bad.stderr.toString()).toContain("upgrade refused (422)");
    expect((await processOf(sl)).pid).toBe(sl.pid);

    const run = Bun.spawn([BINARY, "upgrade", "-c", sl.configPath, "--binary", BUILD_B], { stdout: "pipe", stderr: "pipe" });
    const [out, err, code] = await withTimeout(Promise.all([new Response(run.stdout).text(), new Response(run.stderr).text(), run.exited]), 40_000, "sluice upgrade");
    const now = await processOf(sl);
    pids.push(now.pid);
    expect([code, err]).toEqual([0, ""]);
    expect(out).toBe(`sluice: upgraded: sluice ${versionA}+b serves as pid ${now.pid}; the old process drains\n`);
    expect(now.version).toBe(`${versionA}+b`);
    expect(await (await import("../helpers/net.ts")).exchange(port, "hi")).toBe("hi");

    // Without the token the API refuses, and the command says so (watch = false: the running process keeps the old token).
    writeFileSync(sl.configPath, readFileSync(sl.configPath, "utf8").replace('token = "s3cret"', 'token = "wrong"'));
    const denied = Bun.spawnSync([BINARY, "upgrade", "-c", sl.configPath], { stdout: "pipe", stderr: "pipe" });
    expect([denied.exitCode, denied.stderr.toString().includes("upgrade refused (401)")]).toEqual([1, true]);
  } finally {
    for (const pid of pids) {
      try {
        process.kill(pid, "SIGKILL");
      } catch {}
    }
  }
}, 60_000);
