/**
 * `bun run upgrade-load`: binary upgrades of the compiled sluice under load.
 * Clients open new connections without pause (each echoes a unique payload)
 * while sluice is upgraded N times in a row, alternating dist/sluice and a
 * second build of the same tree that reports another version. Prints the
 * connection rate before, during (SIGUSR2 → old process gone) and after, and
 * every refused, reset or corrupt connection; exits 1 if there is any.
 * Usage: bun scripts/upgrade-load.ts [--upgrades N] [--lanes N] [--seconds S] [--workers N]
 * @module
 */
import { copyFileSync, readFileSync, renameSync, rmSync } from "node:fs";
import { join, resolve } from "node:path";
import { parseArgs } from "node:util";
import { Load } from "../test/helpers/load.ts";
import { echoBackend, freePorts } from "../test/helpers/net.ts";
import { appToml, BINARY, poll, startSluice, tempDir } from "../test/helpers/sluice.ts";
import { buildCommand } from "./build-command.ts";

const { values: f } = parseArgs({
  options: {
    upgrades: { type: "string", default: "20" },
    lanes: { type: "string", default: "16" },
    seconds: { type: "string", default: "3" },
    workers: { type: "string", default: "2" },
  },
});
const upgrades = Math.min(200, Math.max(1, Number(f.upgrades)));
const lanes = Math.min(256, Math.max(1, Number(f.lanes)));
const seconds = Math.min(60, Math.max(1, Number(f.seconds)));
const workers = f.workers === "auto" ? '"auto"' : String(Math.min(64, Math.max(1, Number(f.workers))));

const dir = tempDir();
const buildB = join(dir, "sluice-b");
const path = join(dir, "sluice");
const install = (binary: string) => {
  copyFileSync(binary, `${path}.new`);
  renameSync(`${path}.new`, path);
};
const gone = (pid: number) => {
  try {
    return /^State:\s+Z/m.test(readFileSync(`/proc/${pid}/status`, "utf8"));
  } catch {
    return true;
  }
};

console.error("upgrade-load: building the second binary");
const build = Bun.spawnSync(buildCommand(resolve(import.meta.dir, ".."), { outfile: buildB, extra: ["--define", 'SLUICE_BUILD_TAG="b"'] }), { stderr: "pipe" });
if (build.exitCode !== 0) throw new Error(build.stderr.toString());
install(BINARY);

using backend = echoBackend();
const [port, admin] = freePorts(2) as [number, number];
const pids = new Set<number>();
let exitCode = 0;
try {
  await using sl = await startSluice(
    `bind = "127.0.0.1"\nworkers = ${workers}\nwatch = false\n[admin]\nlisten = "127.0.0.1:${admin}"\n[health]\ninterval = "1h"\n` +
      appToml("up", [port], [`127.0.0.1:${backend.port}`]),
    { adminPort: admin, binary: path },
  );
  const pidNow = async () => ((await (await sl.admin("/status")).json()) as { process: { pid: number } }).process.pid;
  const load = new Load(port, lanes);
  const rate = async (ms: number) => {
    const [n0, t0] = [load.ok, performance.now()];
    await Bun.sleep(ms);
    return ((load.ok - n0) * 1000) / (performance.now() - t0);
  };
  await rate(1000); // warm-up
  const before = await rate(seconds * 1000);
  let during = 0;
  let duringMs = 0;
  for (let i = 0; i < upgrades; i++) {
    const old = await pidNow();
    pids.add(old);
    install(i % 2 === 0 ? buildB : BINARY);
    const [n0, t0] = [load.ok, performance.now()];
    process.kill(old, "SIGUSR2");
    const next = await poll(() => pidNow().catch(() => old), (p) => p !== old, 30_000, `upgrade ${i + 1}`);
    pids.add(next);
    await poll(async () => gone(old), (g) => g, 30_000, `old process ${old} to exit`);
    during += load.ok - n0;
    duringMs += performance.now() - t0;
  }
  const after = await rate(seconds * 1000);
  await load.stop();
  console.log(`| upgrades | lanes | workers | connections ok | refused | reset | corrupt | conn/s before | conn/s during upgrades | conn/s after | mean upgrade ms |`);
  console.log(`|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|---:|`);
  console.log(
    `| ${upgrades} | ${lanes} | ${workers} | ${load.ok} | ${load.refused} | ${load.reset} | ${load.corrupt} | ${before.toFixed(0)} | ${((during * 1000) / duringMs).toFixed(0)} | ${after.toFixed(0)} | ${(duringMs / upgrades).toFixed(0)} |`,
  );
  if (load.refused + load.reset + load.corrupt > 0) exitCode = 1;
} finally {
  for (const pid of pids) {
    try {
      process.kill(pid, "SIGKILL");
    } catch {}
  }
  rmSync(dir, { recursive: true, force: true });
}
process.exit(exitCode);
