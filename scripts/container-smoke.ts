/**
 * Container smoke test without a container runtime: a root filesystem that
 * holds only the sluice binary, the libraries `ldd` lists for it, a config and
 * a mounted /proc, exactly what a minimal image gives it. sluice runs there
 * under chroot, forwards real traffic to an echo target outside, drains on
 * SIGTERM and exits 0. Everything is undone at the end, whatever happens.
 *
 * Exit codes: 0 passed, 1 failed, 77 skipped (not root, or the kernel refuses
 * chroot or mounting /proc here); the reason is printed.
 */
import { chmodSync, copyFileSync, mkdirSync, mkdtempSync, readdirSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { dirname, join, resolve } from "node:path";
import { echoBackend, exchange, freePort, withTimeout } from "../test/helpers/net.ts";
import { appToml, startSluice, type Sluice } from "../test/helpers/sluice.ts";

const ROOT = resolve(import.meta.dir, "..");
const binary = resolve(process.argv[2] ?? join(ROOT, "dist", "sluice"));
const say = (msg: string) => console.log(`container-smoke: ${msg}`);
/** Skipped is thrown once the root exists, so the cleanup below still runs. */
class Skipped extends Error {}
const skip = (why: string): never => {
  throw new Skipped(why);
};

const missing = process.getuid?.() !== 0 ? "needs root for chroot and mounting /proc" : ["ldd", "chroot", "mount", "umount"].filter((t) => !Bun.which(t)).map((t) => `${t} is not installed`)[0];
if (missing) {
  say(`SKIPPED: ${missing}`);
  process.exit(77);
}

/** libraries returns the absolute paths ldd resolves for the binary, the loader included. */
function libraries(bin: string): string[] {
  const r = Bun.spawnSync(["ldd", bin]);
  if (r.exitCode !== 0) throw new Error(`ldd ${bin} failed: ${r.stderr.toString()}`);
  return [...r.stdout.toString().matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

const rootfs = mkdtempSync(join(tmpdir(), "sluice-rootfs-"));
let mounted = false;
let sl: Sluice | undefined;
let code = 1;
try {
  copyFileSync(binary, join(rootfs, "sluice"));
  chmodSync(join(rootfs, "sluice"), 0o755);
  const libs = libraries(binary);
  for (const lib of libs) {
    mkdirSync(join(rootfs, dirname(lib)), { recursive: true });
    copyFileSync(lib, join(rootfs, lib));
  }
  using echo = echoBackend();
  const port = freePort();
  const adminPort = freePort();
  const toml = `bind = "127.0.0.1"\nshutdown_timeout = "5s"\n[admin]\nlisten = "127.0.0.1:${adminPort}"\n${appToml("smoke", [port], [`127.0.0.1:${echo.port}`])}`;
  mkdirSync(join(rootfs, "etc/sluice"), { recursive: true });
  writeFileSync(join(rootfs, "etc/sluice/config.toml"), toml);
  mkdirSync(join(rootfs, "proc"));
  const m = Bun.spawnSync(["mount", "-t", "proc", "proc", join(rootfs, "proc")]);
  if (m.exitCode !== 0) skip(`mounting /proc was refused: ${m.stderr.toString().trim()}`);
  mounted = true;
  say(`root filesystem ${rootfs}: ${listing(rootfs).join(", ")}`);

  // The usual test launcher, but the command is chroot into the bare root, with the config placed there.
  sl = await startSluice(toml, { adminPort, wrap: () => ["chroot", rootfs, "/sluice", "-c", "/etc/sluice/config.toml"] }).catch((e: Error) => {
    if (/chroot: .*(Operation not permitted|cannot change root)/.test(e.message)) skip(`chroot was refused: ${e.message}`);
    throw e;
  });
  const last = () => sl!.output().trim().split("\n").at(-1);
  say(`started: ${last()}`);

  const healthz = await sl.admin("/healthz");
  if (healthz.status !== 200) throw new Error(`/healthz answered ${healthz.status}`);
  const payload = Buffer.alloc(1 << 20, "sluice in a bare root ");
  for (let i = 0; i < 20; i++) {
    const reply = await exchange(port, payload);
    if (reply !== payload.toString()) throw new Error(`connection ${i}: the echo came back different (${reply.length} bytes)`);
  }
  say(`forwarded 20 connections of 1 MiB each through 127.0.0.1:${port}, every byte echoed back; /healthz 200`);

  sl.signal("SIGTERM");
  const exit = await withTimeout(sl.exited, 10_000, "sluice to exit after SIGTERM");
  if (exit !== 0) throw new Error(`exit code ${exit} after SIGTERM:\n${sl.output()}`);
  await sl.waitForOutput("bye", 2000).catch(() => {});
  say(`SIGTERM: drained and exited 0 (${last()})`);
  say("PASSED");
  code = 0;
} catch (e) {
  if (e instanceof Skipped) {
    say(`SKIPPED: ${e.message}`);
    code = 77;
  } else say(`FAILED: ${e instanceof Error ? e.message : e}`);
} finally {
  await sl?.[Symbol.asyncDispose]();
  if (mounted) Bun.spawnSync(["umount", join(rootfs, "proc")]);
  rmSync(rootfs, { recursive: true, force: true });
}
process.exit(code);

function listing(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.name === "proc" && prefix === "" ? ["/proc (mounted)"] : d.isDirectory() ? listing(join(dir, d.name), `${prefix}/${d.name}`) : [`${prefix}/${d.name}`],
  );
}
