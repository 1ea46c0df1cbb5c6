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

const ROOT = resolve(import.meta.dir, "..");
const binary = resolve(process.argv[2] ?? join(ROOT, "dist", "sluice"));
const say = (msg: string) => console.log(`container-smoke: ${msg}`);
const skip = (why: string): never => {
  say(`SKIPPED: ${why}`);
  process.exit(77);
};

if (process.getuid?.() !== 0) skip("needs root for chroot and mounting /proc");
for (const tool of ["ldd", "chroot", "mount", "umount"]) if (!Bun.which(tool)) skip(`${tool} is not installed`);

/** libraries returns the absolute paths ldd resolves for the binary, the loader included. */
function libraries(bin: string): string[] {
  const r = Bun.spawnSync(["ldd", bin]);
  if (r.exitCode !== 0) throw new Error(`ldd ${bin} failed: ${r.stderr.toString()}`);
  return [...r.stdout.toString().matchAll(/(\/\S+) \(0x/g)].map((m) => m[1]!);
}

const rootfs = mkdtempSync(join(tmpdir(), "sluice-rootfs-"));
let mounted = false;
let proc: ReturnType<typeof Bun.spawn> | undefined;
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
  mkdirSync(join(rootfs, "etc/sluice"), { recursive: true });
  writeFileSync(
    join(rootfs, "etc/sluice/config.toml"),
    `bind = "127.0.0.1"\nshutdown_timeout = "5s"\n[admin]\nlisten = "127.0.0.1:${adminPort}"\n[[apps]]\nname = "smoke"\nports = [${port}]\ntargets = ["127.0.0.1:${echo.port}"]\n`,
  );
  mkdirSync(join(rootfs, "proc"));
  const m = Bun.spawnSync(["mount", "-t", "proc", "proc", join(rootfs, "proc")]);
  if (m.exitCode !== 0) skip(`mounting /proc was refused: ${m.stderr.toString().trim()}`);
  mounted = true;
  say(`root filesystem ${rootfs}: ${listing(rootfs).join(", ")}`);

  proc = Bun.spawn(["chroot", rootfs, "/sluice", "-c", "/etc/sluice/config.toml"], { stdout: "pipe", stderr: "pipe" });
  let text = "";
  const reader = (proc.stderr as ReadableStream<Uint8Array>).getReader();
  const pump = (async () => {
    for (;;) {
      const { value, done } = await reader.read();
      if (done) return;
      text += new TextDecoder().decode(value);
    }
  })();
  await withTimeout(
    (async () => {
      for (let i = 0; i < 500 && !text.includes(" ready: "); i++) {
        if (proc!.exitCode !== null) {
          if (/chroot: .*(Operation not permitted|cannot change root)/.test(text)) skip(`chroot was refused: ${text.trim()}`);
          throw new Error(`sluice exited (${proc!.exitCode}) before it was ready:\n${text}`);
        }
        await Bun.sleep(10);
      }
    })(),
    10_000,
    "sluice in the chroot to be ready",
  );
  say(`started: ${text.trim().split("\n").at(-1)}`);

  const healthz = await fetch(`http://127.0.0.1:${adminPort}/healthz`);
  if (healthz.status !== 200) throw new Error(`/healthz answered ${healthz.status}`);
  const payload = Buffer.alloc(1 << 20, "sluice in a bare root ");
  for (let i = 0; i < 20; i++) {
    const reply = await exchange(port, payload);
    if (reply !== payload.toString()) throw new Error(`connection ${i}: the echo came back different (${reply.length} bytes)`);
  }
  say(`forwarded 20 connections of 1 MiB each through 127.0.0.1:${port}, every byte echoed back; /healthz 200`);

  proc.kill("SIGTERM");
  const exit = await withTimeout(proc.exited, 10_000, "sluice to exit after SIGTERM");
  await pump;
  if (exit !== 0) throw new Error(`exit code ${exit} after SIGTERM:\n${text}`);
  say(`SIGTERM: drained and exited 0 (${text.trim().split("\n").at(-1)})`);
  say("PASSED");
  code = 0;
} catch (e) {
  say(`FAILED: ${e instanceof Error ? e.message : e}`);
} finally {
  proc?.kill("SIGKILL");
  if (mounted) Bun.spawnSync(["umount", join(rootfs, "proc")]);
  rmSync(rootfs, { recursive: true, force: true });
}
process.exit(code);

function listing(dir: string, prefix = ""): string[] {
  return readdirSync(dir, { withFileTypes: true }).flatMap((d) =>
    d.name === "proc" && prefix === "" ? ["/proc (mounted)"] : d.isDirectory() ? listing(join(dir, d.name), `${prefix}/${d.name}`) : [`${prefix}/${d.name}`],
  );
}
