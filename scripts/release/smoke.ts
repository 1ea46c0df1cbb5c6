/**
 * @module release/smoke: proves a built binary is sluice and forwards bytes:
 * `--version` names sluice and the version, `--check` accepts the shipped
 * config, and a process started on a loopback config passes one connection
 * to an echo target and exits 0 on SIGTERM.
 */
import { mkdtempSync, rmSync, writeFileSync } from "node:fs";
import { tmpdir } from "node:os";
import { join } from "node:path";
import { echoBackend, exchange, freePort, withTimeout } from "../../test/helpers/net.ts";

async function run(argv: string[]): Promise<{ code: number; out: string }> {
  const p = Bun.spawn(argv, { stdout: "pipe", stderr: "pipe" });
  const [out, err, code] = await withTimeout(Promise.all([new Response(p.stdout).text(), new Response(p.stderr).text(), p.exited]), 10_000, argv.join(" "));
  return { code, out: out + err };
}

export async function smoke(binary: string, version: string, shippedConfig: string): Promise<void> {
  const v = await run([binary, "--version"]);
  if (v.code !== 0 || !v.out.includes(`sluice ${version}`)) throw new Error(`--version printed ${JSON.stringify(v.out.trim())} (exit ${v.code}): a stripped or wrong binary`);
  console.log(`release: --version: ${v.out.trim()}`);
  const c = await run([binary, "--check", "-c", shippedConfig]);
  if (c.code !== 0) throw new Error(`--check on the shipped config exited ${c.code}: ${c.out.trim()}`);
  console.log(`release: --check: ${c.out.trim()}`);

  const dir = mkdtempSync(join(tmpdir(), "sluice-release-"));
  using echo = echoBackend();
  const port = freePort();
  const config = join(dir, "config.toml");
  writeFileSync(config, `bind = "127.0.0.1"\n[[apps]]\nname = "smoke"\nports = [${port}]\ntargets = ["127.0.0.1:${echo.port}"]\n`);
  const p = Bun.spawn([binary, "-c", config], { stdout: "pipe", stderr: "pipe" });
  try {
    let text = "";
    const reader = p.stderr.getReader();
    const ready = (async () => {
      for (let i = 0; i < 1000 && !text.includes(" ready: "); i++) {
        const { value, done } = await reader.read();
        if (done) throw new Error(`exited before it was ready: ${text}`);
        text += new TextDecoder().decode(value);
      }
    })();
    await withTimeout(ready, 10_000, "the ready line");
    const reply = await exchange(port, "ping through sluice");
    if (reply !== "ping through sluice") throw new Error(`the forwarded connection returned ${JSON.stringify(reply)}`);
    console.log(`release: forwarded one connection through ${port} to an echo target`);
    void (async () => {
      for (;;) if ((await reader.read()).done) return;
    })();
    p.kill("SIGTERM");
    const code = await withTimeout(p.exited, 10_000, "exit after SIGTERM");
    if (code !== 0) throw new Error(`exit code ${code} after SIGTERM`);
    console.log("release: SIGTERM: exit 0");
  } finally {
    p.kill("SIGKILL");
    rmSync(dir, { recursive: true, force: true });
  }
}
